"""implicit.claims: the claim helper's semantics (outcome, margin, expectations, record) and the ledger verdicts."""
from __future__ import annotations

import math

import pytest

from implicit import claims
from implicit.claims import Claim, claim, confirm


def test_outcome_and_margin():
    assert Claim("a", "a", 1.0, "<=", 2.0).margin == 2.0
    assert Claim("b", "b", 3.0, ">=", 2.0).margin == 1.5
    bad = Claim("c", "c", 3.0, "<=", 2.0)
    assert not bad.holds and bad.margin == pytest.approx(2 / 3) and "FAILS" in str(bad)
    exact = Claim("d", "d", 0.0, "<=", 1e-12)
    assert exact.holds and math.isinf(exact.margin) and exact.margin_text() == "exact"
    signed = Claim("e", "e", -0.5, ">=", -1.0)  # a ratio of negative numbers means nothing: the slack is reported
    assert signed.holds and math.isnan(signed.margin) and signed.margin_text() == "slack 0.5"
    assert not Claim("f", "f", math.nan, "<=", 1.0).holds
    assert not Claim("g", "g", 1.0, "<", 1.0).holds and Claim("g", "g", 1.0, "<=", 1.0).holds


def test_bad_claims_are_refused():
    with pytest.raises(ValueError, match="relation"):
        Claim("a", "a", 1.0, "==", 1.0)
    with pytest.raises(ValueError, match="result"):
        Claim("a", "a", 1.0, "<=", 1.0, result="lemma-9.9")
    with pytest.raises(ValueError, match="erratum"):
        Claim("a", "a", 1.0, "<=", 1.0, erratum=99)
    with pytest.raises(ValueError, match="not among"):
        confirm(Claim("a", "a", 1.0, "<=", 2.0), fails=["b"])


def test_claim_prints_records_and_asserts(capsys):
    c = claim("t-ok", 1.0, "<=", 2.0, statement="one below two", result="lemma-3.4")
    assert "holds  t-ok: one below two: 1 <= 2  (margin 2×) [Lemma 3.4]" in capsys.readouterr().out
    assert claims.recorded()[-1] is c
    with pytest.raises(AssertionError, match="t-bad"):
        claim("t-bad", 3.0, "<=", 2.0)
    assert "FAILS  t-bad" in capsys.readouterr().out  # printed before the assertion
    assert "t-bad" in {r.id for r in claims.recorded()}  # and kept: the record shows the failure


def test_expected_failures_must_fail():
    c = claim("t-printed", 20.0, "<=", 2.0, erratum=4, expect=False)
    assert c.verdict == "fails as printed"
    with pytest.raises(AssertionError, match="expected to fail"):
        claim("t-printed-holds", 1.0, "<=", 2.0, expect=False)
    checks = {"x": Claim("x", "x", 1.0, "<=", 2.0), "y": Claim("y", "y", 3.0, "<=", 2.0)}
    out = confirm(checks, fails=["y"], tag="m8", quiet=True)
    assert [c.id for c in out] == ["m8:x", "m8:y"] and not out[1].expect


def test_verdicts():
    holds, corrected = Claim("a", "a", 1, "<=", 2), Claim("b", "b", 1, "<=", 2, erratum=1)
    printed = Claim("c", "c", 3, "<=", 2, erratum=4, expect=False)
    missed = Claim("d", "d", 3, "<=", 2, expect=False)
    unmet = Claim("e", "e", 3, "<=", 2, expect=False, hypothesis=True)
    assert claims.verdict([holds]) == "holds"
    assert claims.verdict([holds, corrected]) == "holds with erratum"
    assert claims.verdict([holds, corrected, printed]) == "fails as printed"
    assert claims.verdict([printed, missed]) == "not reproduced"
    assert claims.verdict([holds, unmet]) == "holds"  # an unmet hypothesis is not a verdict on the conclusion
    assert claims.verdict([]) == "not reproduced"


def test_publish_record_is_strict_json():
    import json

    claim("t-inf", 1.0, "<=", math.inf)
    records = json.loads(repr(claims._Record(claims.recorded())))
    assert records[-1]["bound"] == "inf" and repr(claims._Record([])) == "[]"
    assert Claim(**{**records[0], "measured": float(records[0]["measured"]), "bound": float(records[0]["bound"])})


def test_exact_equality_reads_exact():
    assert Claim("eq", "bitwise", 0.0, "<=", 0.0).margin_text() == "exact"
    assert Claim("strict", "fails", 0.0, "<", 0.0).margin_text() == "slack 0"  # a failing claim is never "exact"
