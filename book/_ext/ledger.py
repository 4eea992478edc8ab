"""Sphinx extension: the claims ledger, generated from the claims the chapters record while they run.

Each chapter ends with ``implicit.claims.publish()``, which glues its claims (JSON) under the key ``claims``; MyST-NB
writes every notebook's glue data next to the executed notebook (``_build/jupyter_execute/<doc>.glue.json``). The
``claims-ledger`` directive leaves a placeholder that is filled once every document has been read: one row per
numbered result of :data:`implicit.claims.RESULTS` and per erratum of :data:`implicit.claims.ERRATA`, with links to
the chapters that check it, the tightest margin and the verdict. A chapter named in ``:chapters:`` without a record,
or a result or erratum that no chapter checks, is a build warning (an error under ``-W``).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from implicit.claims import ERRATA, RESULTS, Claim, verdict

logger = logging.getLogger(__name__)
KEY = "claims"


class ledger_node(nodes.General, nodes.Element):
    """Placeholder for the ledger tables, filled at ``doctree-resolved``."""


class ClaimsLedger(SphinxDirective):
    option_spec = {"chapters": directives.unchanged_required}

    def run(self) -> list[nodes.Node]:
        _ledger_docs(self.env).add(self.env.docname)
        node = ledger_node()
        node["chapters"] = self.options.get("chapters", "").split()
        return [node]


def _read_claims(app: Sphinx, docname: str) -> list[dict] | None:
    path = Path(app.outdir).parent / "jupyter_execute" / f"{docname}.glue.json"
    if not path.exists():
        return None
    glue = json.loads(path.read_text(encoding="utf8"))
    if KEY not in glue:
        return None
    return json.loads(glue[KEY]["data"]["text/plain"])


def _claim(record: dict) -> Claim:
    return Claim(**{**record, "measured": float(record["measured"]), "bound": float(record["bound"])})


def _tightest(claims: list[Claim]) -> str:
    """The smallest margin among the conclusions that hold as expected ("—" if none): how close the book's instances
    come to breaking what the result asserts. Printed statements shown failing and unmet hypotheses are not margins."""
    held = [c for c in claims if c.expect and c.holds and not c.hypothesis]
    if not held:
        return "—"
    ratios = [c for c in held if not math.isnan(c.margin)]
    worst = min(ratios, key=lambda c: c.margin) if ratios else min(held, key=lambda c: c.slack)
    return worst.margin_text()


def _table(headers: list[str], rows: list[list[nodes.Node | str]], widths: list[int]) -> nodes.table:
    table = nodes.table(classes=["claims-ledger"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for w in widths:
        group += nodes.colspec(colwidth=w)
    head, body = nodes.thead(), nodes.tbody()
    group += head
    group += body
    for target, cells in ((head, [headers]), (body, rows)):
        for cells_of_row in cells:
            row = nodes.row()
            for cell in cells_of_row:
                entry = nodes.entry()
                entry += nodes.paragraph("", "", cell if isinstance(cell, nodes.Node) else nodes.Text(cell))
                row += entry
            target += row
    return table


def _links(app: Sphinx, fromdoc: str, docs: list[str]) -> nodes.inline:
    out = nodes.inline()
    for i, doc in enumerate(docs):
        if i:
            out += nodes.Text(", ")
        ref = nodes.reference("", "", internal=True, refuri=app.builder.get_relative_uri(fromdoc, doc))
        ref += nodes.Text(app.env.titles[doc].astext() if doc in app.env.titles else doc)
        out += ref
    return out


def _rows(app: Sphinx, fromdoc: str, found: dict[str, list[Claim]], keys: list, pick) -> tuple[list, list]:
    rows, missing = [], []
    for key in keys:
        hits = {doc: [c for c in cs if pick(c, key)] for doc, cs in found.items()}
        hits = {doc: cs for doc, cs in hits.items() if cs}
        claims = [c for cs in hits.values() for c in cs]
        if not claims:
            missing.append(key)
            rows.append(["not checked", "—", "—", "0"])
            continue
        rows.append([verdict(claims), _tightest(claims), _links(app, fromdoc, list(hits)), str(len(claims))])
    return rows, missing


def fill_ledger(app: Sphinx, doctree: nodes.document, fromdoc: str) -> None:
    for node in list(doctree.findall(ledger_node)):
        found: dict[str, list[Claim]] = {}
        for doc in node["chapters"]:
            records = _read_claims(app, doc)
            if records is None:
                logger.warning(f"claims ledger: chapter {doc!r} recorded no claims (does it end with "
                               f"claims.publish()?)", location=node)
                continue
            found[doc] = [_claim(r) for r in records]
        rows, missing = _rows(app, fromdoc, found, list(RESULTS), lambda c, key: c.result == key)
        rows = [[RESULTS[k][0], r[0], r[1], RESULTS[k][1], *r[2:]] for k, r in zip(RESULTS, rows, strict=True)]
        e_rows, e_missing = _rows(app, fromdoc, found, list(ERRATA), lambda c, key: c.erratum == key)
        e_rows = [[f"Erratum {k}", r[0], r[1], ERRATA[k], *r[2:]] for k, r in zip(ERRATA, e_rows, strict=True)]
        for what in [*missing, *(f"erratum {k}" for k in e_missing)]:
            logger.warning(f"claims ledger: no chapter checks {what}", location=node)
        total = sum(len(cs) for cs in found.values())
        summary = nodes.paragraph("", f"{total} claims recorded by {len(found)} chapters in this build.")
        # The verdict and the margin come first, so that a phone shows them without scrolling sideways.
        headers = ["Verdict", "Tightest margin", "Statement", "Checked in", "Claims"]
        widths = [8, 12, 10, 40, 20, 6]
        node.replace_self([summary, _table(["Result", *headers], rows, widths),
                           _table(["Erratum", *headers], e_rows, widths)])


def _ledger_docs(env) -> set[str]:
    """The documents that hold a ledger (kept in the build environment between builds)."""
    if not hasattr(env, "claims_ledger_docs"):
        env.claims_ledger_docs = set()
    return env.claims_ledger_docs


def always_outdated(app: Sphinx, env, added, changed, removed) -> list[str]:
    """Every page with a ledger is re-read on every build: its content depends on every chapter."""
    return sorted(_ledger_docs(env) & env.found_docs)


def purge(app: Sphinx, env, docname: str) -> None:
    _ledger_docs(env).discard(docname)


def merge(app: Sphinx, env, docnames: set[str], other) -> None:
    _ledger_docs(env).update(_ledger_docs(other) & docnames)


def setup(app: Sphinx) -> dict:
    app.add_node(ledger_node)
    app.add_directive("claims-ledger", ClaimsLedger)
    app.connect("doctree-resolved", fill_ledger)
    app.connect("env-get-outdated", always_outdated)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
