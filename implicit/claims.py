r"""Claims: one measured value against one bound, printed, asserted and recorded for the book's ledger.

Every check in the book is a :class:`Claim` — *measured* ``relation`` *bound* — made by :func:`claim` (or by
:func:`confirm` for claims built elsewhere, such as the ``check_*`` functions of :mod:`implicit.theory`). Each one
prints a single line (what is claimed, the value, the bound, the outcome and the margin), raises
:class:`AssertionError` when the outcome is not the expected one, and is kept in the chapter's record.
:func:`publish` hands that record to the book, whose ledger page (:data:`RESULTS`, :data:`ERRATA`) is generated from
the records of all chapters.

The **margin** says how far inside its bound a claim is: :math:`\text{bound}/\text{measured}` for ``<=`` and
:math:`\text{measured}/\text{bound}` for ``>=`` (above 1 means it holds) when both are positive; an error that is
exactly 0 against a positive tolerance is *exact*; otherwise the signed **slack** (bound minus measured for ``<=``)
is reported.

A claim may be *expected to fail*: the paper's statement as printed, shown failing on an instance (``expect=False``).
It then raises if it unexpectedly holds, so the demonstration itself can fail.
"""
from __future__ import annotations

import json
import math
import operator
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace

__all__ = ["Claim", "claim", "confirm", "keyed", "recorded", "publish", "verdict", "RESULTS", "ERRATA", "VERDICTS"]

_RELATIONS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}

#: The paper's numbered results the book checks: id -> (title, one-line statement).
RESULTS: dict[str, tuple[str, str]] = {
    "lemma-2.1": ("Lemma 2.1", "Gaussian initial matrices have ‖A(0)‖, ‖W(0)‖ ≤ c√m with high probability."),
    "lemma-2.2": ("Lemma 2.2", "If ‖A‖ ≤ c√m and γ = min{γ₀, γ₀/c}, the equilibrium exists, is unique and the "
                               "forward iteration converges linearly."),
    "lemma-2.3": ("Lemma 2.3", "The equilibrium is differentiable; implicit differentiation gives the gradients "
                               "(6)–(12) and I − γ̃DA is invertible."),
    "lemma-3.1": ("Lemma 3.1", "Under gradient flow dŷ/dt = −H(t)(ŷ − y) with H ⪰ G = ΦΦᵀ."),
    "lemma-3.2": ("Lemma 3.2", "λ₀ = λ_min(G^∞) > 0 for unit-norm, pairwise non-parallel data."),
    "lemma-3.3": ("Lemma 3.3", "m = Ω((n²/λ₀²) log(n/δ)) gives ‖G(0) − G^∞‖ ≤ λ₀/4 and λ_min(G(0)) ≥ 3λ₀/4."),
    "lemma-3.4": ("Lemma 3.4", "‖W − W(0)‖ ≤ R and ‖W‖ ≤ 2c√m give λ_min(G) ≥ λ₀/2."),
    "lemma-3.5": ("Lemma 3.5", "Gradient flow from a good initialisation keeps the norms bounded, λ_min(G(t)) ≥ λ₀/2 "
                               "and the loss decays as exp(−λ₀t)."),
    "lemma-3.6": ("Lemma 3.6", "Gradient descent from a good initialisation keeps the norms bounded, "
                               "λ_min(G(k)) ≥ λ₀/2 and the loss decays as (1 − αλ₀/2)^k."),
    "theorem-3.1": ("Theorem 3.1", "Over-parameterised gradient flow converges linearly to a global minimum."),
    "theorem-3.2": ("Theorem 3.2", "Over-parameterised gradient descent with α = O(λ₀/n²) converges linearly."),
    "lemma-a.7": ("Lemma A.7", "G^∞ = Σ_k ⟨σ, h_k⟩² (XXᵀ)^∘k: the Hermite expansion of the infinite-width kernel."),
    "lemma-a.8": ("Lemma A.8", "A nonlinear σ with |σ(x)| ≤ |x| has infinitely many nonzero Hermite coefficients."),
    "lemma-a.9": ("Lemma A.9", "With δ = max_{i≠j} |⟨x_i, x_j⟩| < 1, the Khatri–Rao powers of X are well "
                               "conditioned, so λ₀ has a positive lower bound."),
}

#: The errata of the printed paper the book establishes: number -> one-line statement.
ERRATA: dict[int, str] = {
    1: "Lemma 3.1: the u-block of H is ZZᵀ, not I_n ∘ ZZᵀ.",
    2: "Theorem 3.2: the width needs n²/λ₀², not the printed n²/λ₀.",
    3: "Theorems 3.1–3.2: the proofs also need m = Ω(c²n‖X‖²‖ŷ(0) − y‖²/λ₀³) from Lemmas 3.5–3.6.",
    4: "Lemmas 3.5–3.6 (ii)–(iii): ‖u‖ and ‖v‖ are bounded by √m plus the printed movement, not by it alone.",
    5: "Lemmas 2.2–2.3 against 3.5–3.6: γ must be min{γ₀, γ₀/(2c)} to stay a contraction at ‖A‖ = 2c√m.",
}

#: The verdicts of the ledger, from best to worst.
VERDICTS = ("holds", "holds with erratum", "fails as printed", "not reproduced")


@dataclass(frozen=True)
class Claim:
    """One claim: ``measured`` ``relation`` ``bound``, with what it says and which result it belongs to.

    Attributes:
        id: short key, unique in a chapter (``"3.4-drift-W"``). statement: the claim in words or symbols.
        measured, relation, bound: the comparison; relation is one of ``<=``, ``<``, ``>=``, ``>``.
        result: a key of :data:`RESULTS` when the claim checks a numbered result of the paper.
        erratum: the number of the erratum (:data:`ERRATA`) the claim establishes or relies on.
        expect: whether the claim is expected to hold (``False``: the printed statement shown failing).
        hypothesis: the claim checks a hypothesis of ``result`` on the instance, not its conclusion; the ledger's
            verdict for the result ignores it.

    Examples:
        >>> from implicit.claims import Claim
        >>> c = Claim("drift", "max ||A(t)|| <= 2c sqrt(m)", 5.0, "<=", 20.0)
        >>> c.holds, c.margin
        (True, 4.0)
        >>> print(c)
        holds  drift: max ||A(t)|| <= 2c sqrt(m): 5 <= 20  (margin 4×)
    """

    id: str
    statement: str
    measured: float
    relation: str
    bound: float
    result: str | None = None
    erratum: int | None = None
    expect: bool = True
    hypothesis: bool = False

    def __post_init__(self) -> None:
        if self.relation not in _RELATIONS:
            raise ValueError(f"claim {self.id!r}: relation must be one of {sorted(_RELATIONS)}, got {self.relation!r}")
        if self.result is not None and self.result not in RESULTS:
            raise ValueError(f"claim {self.id!r}: result {self.result!r} is not one of {sorted(RESULTS)}")
        if self.erratum is not None and self.erratum not in ERRATA:
            raise ValueError(f"claim {self.id!r}: erratum {self.erratum!r} is not one of {sorted(ERRATA)}")
        object.__setattr__(self, "measured", float(self.measured))
        object.__setattr__(self, "bound", float(self.bound))

    @property
    def holds(self) -> bool:
        """Whether ``measured relation bound`` is true (NaN never holds)."""
        return bool(_RELATIONS[self.relation](self.measured, self.bound))

    @property
    def slack(self) -> float:
        """Bound minus measured for ``<=``/``<``, measured minus bound otherwise: positive when the claim holds."""
        upper = self.relation in ("<=", "<")
        return self.bound - self.measured if upper else self.measured - self.bound

    @property
    def margin(self) -> float:
        """The ratio inside the bound (above 1: holds); ``inf`` for an error of exactly 0 that holds; ``nan`` where
        a ratio means nothing (a sign change or a zero bound): read :attr:`slack` then."""
        upper = self.relation in ("<=", "<")
        num, den = (self.bound, self.measured) if upper else (self.measured, self.bound)
        if num > 0 and den > 0:
            return num / den
        if upper and self.measured == 0 and self.holds:  # an error of exactly 0 within its tolerance (or 0 <= 0)
            return math.inf
        return math.nan

    @property
    def as_expected(self) -> bool:
        """Whether the outcome is the expected one."""
        return self.holds == self.expect

    @property
    def verdict(self) -> str:
        """The ledger's verdict for this claim (one of :data:`VERDICTS`)."""
        if self.expect:
            return VERDICTS[1] if self.erratum is not None else VERDICTS[0]
        return VERDICTS[2] if self.erratum is not None else VERDICTS[3]

    def margin_text(self) -> str:
        """The margin as the ledger prints it: ``4×``, ``exact`` or ``slack 1.2e-03``."""
        m = self.margin
        if math.isinf(m):
            return "exact"
        if math.isnan(m):
            return f"slack {self.slack:.3g}"
        return f"{m:.3g}×"

    def __str__(self) -> str:
        outcome = ("holds" if self.holds else "FAILS") if self.expect else (
            "fails as expected" if not self.holds else "HOLDS, expected to fail")
        where = f" [{RESULTS[self.result][0]}]" if self.result else ""
        erratum = f" [erratum {self.erratum}]" if self.erratum else ""
        return (f"{outcome}  {self.id}: {self.statement}: {self.measured:.4g} {self.relation} {self.bound:.4g}"
                f"  ({'margin ' * self.margin_text().endswith('×')}{self.margin_text()}){where}{erratum}")


_recorded: dict[str, Claim] = {}


def confirm(*claims: Claim | Mapping[str, Claim] | Iterable[Claim], fails: Iterable[str] = (), tag: str = "",
            quiet: bool = False) -> Claim | list[Claim]:
    """Print, record and assert claims built elsewhere (a :class:`Claim`, a list, or a mapping of them).

    Every claim is printed and recorded before any is asserted, so a failing check still shows all its lines.

    Args:
        fails: ids of the claims expected to fail on this instance (a printed bound, an unmet hypothesis).
        tag: prefix for the ids (``"m400"`` makes ``"m400:3.5-4-W"``), when one check runs on several instances.
        quiet: record and assert without printing.

    Returns:
        The claim, or the list of claims in order.

    Raises:
        AssertionError: naming every claim whose outcome is not the expected one.

    Examples:
        >>> from implicit.claims import Claim, confirm
        >>> checks = {"a": Claim("a", "x <= 1", 0.5, "<=", 1.0), "b": Claim("b", "y >= 2", 3.0, ">=", 2.0)}
        >>> [c.id for c in confirm(checks)]
        holds  a: x <= 1: 0.5 <= 1  (margin 2×)
        holds  b: y >= 2: 3 >= 2  (margin 1.5×)
        ['a', 'b']
    """
    flat: list[Claim] = []
    for item in claims:
        if isinstance(item, Claim):
            flat.append(item)
        elif isinstance(item, Mapping):
            flat.extend(item.values())
        else:
            flat.extend(item)
    fails = set(fails)
    unknown = fails - {c.id for c in flat}
    if unknown:
        raise ValueError(f"fails names ids that are not among the claims: {sorted(unknown)}")
    flat = [replace(c, expect=c.expect and c.id not in fails, id=f"{tag}:{c.id}" if tag else c.id) for c in flat]
    for c in flat:
        if not quiet:
            print(c)
        _recorded[c.id] = c
    wrong = [str(c) for c in flat if not c.as_expected]
    if wrong:
        raise AssertionError("claim not as expected:\n" + "\n".join(wrong))
    return flat[0] if len(claims) == 1 and isinstance(claims[0], Claim) else flat


def keyed(*claims: Claim) -> dict[str, Claim]:
    """Claims as a mapping from their ids, the form the ``check_*`` functions return (ids must be unique).

    Examples:
        >>> from implicit.claims import Claim, keyed
        >>> list(keyed(Claim("a", "a", 1, "<=", 2), Claim("b", "b", 3, ">=", 2)))
        ['a', 'b']
    """
    out = {c.id: c for c in claims}
    if len(out) != len(claims):
        raise ValueError(f"claim ids repeat: {[c.id for c in claims]}")
    return out


def claim(id: str, measured: float, relation: str, bound: float, *, statement: str = "", result: str | None = None,
          erratum: int | None = None, expect: bool = True) -> Claim:
    """Make, print, record and assert one claim: ``measured relation bound``.

    Args:
        id: short key, unique in the chapter. measured, relation, bound: the comparison (``<=``, ``<``, ``>=``, ``>``).
        statement: the claim in words (defaults to the id). result: a key of :data:`RESULTS`.
        erratum: a key of :data:`ERRATA`. expect: ``False`` for a printed statement shown failing.

    Returns:
        The :class:`Claim`.

    Raises:
        AssertionError: if the outcome is not the expected one (the line is printed first).

    Examples:
        >>> from implicit.claims import claim
        >>> c = claim("solver-error", 0.0, "<=", 1e-12, statement="equilibrium residual")
        holds  solver-error: equilibrium residual: 0 <= 1e-12  (exact)
        >>> c = claim("printed-u", 20.0, "<=", 2.65, statement="u(0) printed bound",
        ...           result="lemma-3.5", erratum=4, expect=False)
        fails as expected  printed-u: u(0) printed bound: 20 <= 2.65  (margin 0.133×) [Lemma 3.5] [erratum 4]
        >>> claim("too-big", 3.0, "<=", 2.0)
        Traceback (most recent call last):
        AssertionError: claim not as expected:
        FAILS  too-big: too-big: 3 <= 2  (margin 0.667×)
    """
    return confirm(Claim(id, statement or id, measured, relation, bound, result, erratum, expect))


def recorded() -> list[Claim]:
    """The claims confirmed so far in this Python process, i.e. the chapter's kernel (one per id, the latest), in
    the order first made.

    Examples:
        >>> from implicit.claims import claim, recorded
        >>> _ = claim("recorded-example", 1.0, ">=", 0.5)
        holds  recorded-example: recorded-example: 1 >= 0.5  (margin 2×)
        >>> recorded()[-1].id
        'recorded-example'
    """
    return list(_recorded.values())


class _Record:
    """The chapter's claims for MyST-NB's glue: its text form is the JSON the ledger page reads from the build
    (a glued value is stored as its text; notebook outputs admit no other JSON under glue's key)."""

    def __init__(self, claims: list[Claim]) -> None:
        self.claims = claims

    def __repr__(self) -> str:
        def finite(x: float) -> float | str:
            return x if math.isfinite(x) else repr(x)

        return json.dumps([{**asdict(c), "measured": finite(c.measured), "bound": finite(c.bound)}
                           for c in self.claims], ensure_ascii=False, allow_nan=False)


def publish() -> str:
    """Hand this chapter's claims to the book (glued under the key ``claims``) and return a one-line summary.

    Examples:
        >>> from implicit.claims import publish
        >>> publish().startswith("This chapter checked")
        True
    """
    from .runtime import glue

    claims = recorded()
    glue("claims", _Record(claims), display=False)
    unmet = sum(not c.expect and c.hypothesis for c in claims)
    failing = sum(not c.expect and not c.hypothesis for c in claims)
    held = len(claims) - unmet - failing
    parts = [f"{held} hold{'s' * (held == 1)}"]
    if failing:
        parts.append(f"{failing} printed statement{'s' * (failing > 1)} or prediction{'s' * (failing > 1)} "
                     f"fail{'s' * (failing == 1)}, as the text shows")
    if unmet:
        parts.append(f"{unmet} hypothes{'es' if unmet > 1 else 'is'} of the theorems {'are' if unmet > 1 else 'is'} "
                     f"not met on the small instances, as the text says")
    return f"This chapter checked {len(claims)} claims: " + "; ".join(parts) + "."


def verdict(claims: Iterable[Claim]) -> str:
    """The ledger's verdict for a result checked by several claims: the worst of theirs (:data:`VERDICTS`).

    Examples:
        >>> from implicit.claims import Claim, verdict
        >>> verdict([Claim("a", "a", 1, "<=", 2), Claim("b", "b", 1, "<=", 2, erratum=1)])
        'holds with erratum'
    """
    claims = list(claims)
    conclusions = [c for c in claims if not c.hypothesis] or claims
    return max((c.verdict for c in conclusions), key=VERDICTS.index, default=VERDICTS[3])
