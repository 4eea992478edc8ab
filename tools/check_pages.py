"""Check the built HTML pages for what a reader must never see.

Usage: ``python tools/check_pages.py _build/html`` (``make test`` runs it after the book build). Exit status 1 and one
line per defect (page, what, an excerpt) if any page shows:

* a Markdown table that did not render (a paragraph of ``| a | b |`` lines or a ``|---|`` rule);
* LaTeX that did not render (``$...$`` or ``\\command`` in text outside math, code and preformatted blocks);
* an unresolved cross-reference (``??`` or a broken ``{numref}``/``{ref}`` role left as text);
* an absolute path of the machine that built it (``/home/...``, ``/root/...``, ``/tmp/...``, ``/work/...``);
* an image without alternative text, or a figure a chapter draws without a caption and a label (every image in a
  cell's output must sit in a numbered ``<figure id=...>`` with a ``<figcaption>``, so the text can cite it);
* a figure title or label reading ``None`` or ``nan`` (in the alternative text MyST-NB derives, or a caption);
* words about how the project is made rather than about the mathematics (CI, issues, sessions, ...);
* a heading that carries a hand-written number after the one the book assigns ("6.2. 1. The instance").

Only the article body is checked: navigation, the header's buttons and the footer are the theme's.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag

#: Elements whose text is code or already-rendered math, never prose.
SKIP = {"script", "style", "code", "pre", "kbd", "samp", "math", "svg", "mjx-container"}
SKIP_CLASSES = {"math", "highlight", "MathJax", "MathJax_Preview", "cell_input", "output", "linenos",
                # the API page: signatures, values and doctest examples are code
                "sig", "property", "pre", "doctest"}

TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$", re.M)
TABLE_RULE = re.compile(r"\|\s*:?-{3,}:?\s*\|")
RAW_MATH = re.compile(r"\$[^$\n]{1,200}?[\\^_{}][^$\n]{0,200}?\$|\\(?:mathbb|frac|lambda|gamma|sigma|sqrt|tilde|math)")
UNRESOLVED = re.compile(r"\?\?|\{(?:numref|ref|prf:ref|eq|cite)\}`")
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:home|root|tmp|work|Users|var/folders)/[\w.-]+")
INTERNAL = re.compile(r"\bCI\b|\bcontinuous integration\b|\bthe \w+ issue\b|\bissue #?\d+|\bsession\b|"
                      r"\bpredates the switch\b|\bNo GPU was available when\b", re.I)
BAD_TITLE = re.compile(r"\b(?:None|nan|NaN)\b")
DOUBLE_NUMBER = re.compile(r"^\s*(?:\d+\.)+\s+\(?\d+[.)]\s")


def _prose(root: Tag) -> Iterator[tuple[Tag, str]]:
    """(parent element, text) of every text node outside code, math and cell outputs' preformatted text."""
    for node in root.descendants:
        if not isinstance(node, NavigableString) or not node.strip():
            continue
        skip = False
        for parent in node.parents:
            if parent is root:
                break
            if parent.name in SKIP or SKIP_CLASSES & set(parent.get("class") or []):
                skip = True
                break
        if not skip:
            yield node.parent, str(node)


def _block_text(tag: Tag) -> str:
    """The prose of a block: its text without the code, math and outputs inside it."""
    return "\n".join(text for _, text in _prose(tag))


def check_html(html: str, page: str = "page") -> list[str]:
    """Every defect of one page, as lines ``page: what: excerpt``."""
    soup = BeautifulSoup(html, "html.parser")
    body = soup.find("article") or soup.find("main") or soup.body or soup
    out: list[str] = []

    def report(what: str, text: str) -> None:
        out.append(f"{page}: {what}: {' '.join(text.split())[:120]!r}")

    for p in body.find_all(["p", "li", "dd", "td"]):
        if p.find_parent(SKIP) or SKIP_CLASSES & {c for parent in p.parents for c in (parent.get("class") or [])}:
            continue
        text = _block_text(p)
        if len(TABLE_ROW.findall(text)) >= 2 or TABLE_RULE.search(text):
            report("raw Markdown table", text)
    for _, text in _prose(body):
        if RAW_MATH.search(text):
            report("unrendered LaTeX", text)
        if UNRESOLVED.search(text):
            report("unresolved reference", text)
        if INTERNAL.search(text):
            report("internal wording", text)
    for text in body.find_all(string=True):  # prose and outputs; code the reader runs may name any path
        if MACHINE_PATH.search(text) and not any(
                parent.name == "script" or {"cell_input", "doctest"} & set(parent.get("class") or [])
                for parent in text.parents):
            report("absolute machine path", text)
    for img in body.find_all("img"):
        alt = (img.get("alt") or "").strip()
        if not alt:
            report("image without alt text", img.get("src", "?"))
        elif BAD_TITLE.search(alt):
            report("figure text with None/nan", alt)
        if img.find_parent(class_="cell_output"):
            figure = img.find_parent("figure")
            if figure is None or not figure.get("id") or figure.find("figcaption") is None:
                report("figure without caption or label", alt or img.get("src", "?"))
    for heading in body.find_all(["h1", "h2", "h3", "h4"]):
        if DOUBLE_NUMBER.search(heading.get_text()):
            report("hand-written number in a numbered heading", heading.get_text())
    for caption in body.find_all(["figcaption", "caption"]):
        if BAD_TITLE.search(caption.get_text()):
            report("figure caption with None/nan", caption.get_text())
    return out


def check_folder(folder: Path) -> list[str]:
    """Defects of every page under ``folder`` (the search and index pages of the theme excluded)."""
    problems = []
    for path in sorted(folder.rglob("*.html")):
        rel = path.relative_to(folder)
        if rel.parts[0] in ("_static", "_sources", "_modules") or rel.name in ("search.html", "genindex.html"):
            continue
        problems += check_html(path.read_text(encoding="utf-8"), str(rel))
    return problems


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else "_build/html")
    if not folder.is_dir():
        print(f"error: {folder} is not a folder of built pages; build the book first", file=sys.stderr)
        return 2
    problems = check_folder(folder)
    for line in problems:
        print(line)
    pages = sum(1 for _ in folder.rglob("*.html"))
    print(f"page check: {len(problems)} defect(s) in {pages} pages under {folder}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
