"""The Figure 1 metrics and verdict rules: late rates and the asymptotic-regime test, seed-paired comparisons across
widths, the three-valued rule, and the stored records they are applied to."""
from __future__ import annotations

import math

import numpy as np
import pytest

from implicit.studies import figure1, results_dir
from implicit.studies import verdicts as V
from implicit.train import History


def _record(k, loss, lam, lr, **columns):
    cols = {"step": list(map(float, k)), "loss": list(loss), "lambda_min_H": list(lam), **columns}
    return {"history": History(columns=cols), "lr": lr}


# -- the late rate ---------------------------------------------------------------------------------------------------

def test_linear_regime_rate_equals_the_slowest_mode():
    """Several modes (1 - alpha lambda_i)^(2k): once the slowest dominates, rate = -2 ln(1 - alpha lambda_min)."""
    k = np.arange(0, 4001, 20.0)
    alpha, lams, weights = 1e-2, np.array([0.2, 0.5, 1.0, 3.0]), np.array([0.1, 0.3, 0.3, 0.3])
    loss = (weights[:, None] * (1 - alpha * lams[:, None]) ** (2 * k)).sum(0)
    r = V.late_rate(_record(k, loss, np.full(k.shape, lams[0]), alpha))
    assert r.asymptotic and r.agreement < 1e-6
    assert r.rate == pytest.approx(-2 * math.log1p(-alpha * lams[0]), rel=1e-6) and r.ratio == pytest.approx(1, 1e-6)


def test_a_crossover_and_power_laws_fail_the_regime_test():
    k = np.arange(0, 1001, 10.0)
    alpha, lam = 1e-2, 0.1  # the slow mode overtakes the fast one near k = 860, between the two windows
    mixed = 0.999 * (1 - alpha * 5 * lam) ** (2 * k) + 0.001 * (1 - alpha * lam) ** (2 * k)
    r = V.late_rate(_record(k, mixed, np.full(k.shape, lam), alpha))
    assert not r.asymptotic and r.ratio > 1
    for p in (0.5, 1.0, 3.0):  # 1/k-like slopes: the two windows differ by about 25 % whatever the exponent
        power = V.late_rate(_record(k[1:], k[1:] ** -p, np.full(100, lam), alpha))
        assert not power.asymptotic and 0.2 < power.agreement < 0.35


def test_a_mode_that_dominates_both_windows_passes_and_the_ratio_shows_it():
    """The window test cannot see a slower mode that has not surfaced yet; the ratio to the slowest mode's rate can."""
    k = np.arange(0, 1001, 10.0)
    alpha, lam = 1e-3, 0.05
    mixed = 0.999 * (1 - alpha * 5 * lam) ** (2 * k) + 0.001 * (1 - alpha * lam) ** (2 * k)
    r = V.late_rate(_record(k, mixed, np.full(k.shape, lam), alpha))
    assert r.asymptotic and r.ratio == pytest.approx(5, rel=1e-2)


def test_late_rate_uses_lambda_min_measured_in_the_last_window():
    k = np.arange(0, 101, 10.0)
    lam = np.array([1.0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, 2.0, np.nan, 4.0])
    r = V.late_rate(_record(k, np.exp(-0.01 * k), lam, 1e-3))
    assert r.theory == pytest.approx(-2 * math.log1p(-1e-3 * 3.0))  # mean of the values at k = 80 and 100
    assert r.rate == pytest.approx(0.01) and r.asymptotic


# -- paired comparisons and the rule ---------------------------------------------------------------------------------

def test_paired_differences_use_common_seeds_only():
    values = {100: {0: 1.0, 1: 2.0, 2: 5.0}, 200: {0: 0.0, 1: 1.0}, 400: {1: 1.0, 5: 0.0}}
    a, b = V.paired_differences(values)
    assert (a.small, a.large, a.seeds, a.mean, a.se) == (100, 200, 2, -1.0, 0.0)
    assert (b.seeds, b.mean) == (1, 0.0) and math.isnan(b.se) and math.isnan(b.z)
    assert a.z == -math.inf


@pytest.mark.parametrize("shift, better, outcome", [
    (-1.0, "lower", V.REPRODUCED), (-1.0, "higher", V.NOT_REPRODUCED),
    (1.0, "lower", V.NOT_REPRODUCED), (0.0, "lower", V.NOT_DECIDED),
])
def test_decide(shift, better, outcome):
    rng = np.random.default_rng(0)
    noise = {m: rng.normal(0, 0.05, 5) for m in (100, 200, 400)}
    values = {m: {s: i * shift + float(noise[m][s]) for s in range(5)} for i, m in enumerate((100, 200, 400))}
    v = V.decide(values, better)
    assert v.outcome == outcome and str(v) == outcome and len(v.pairs) == 2


def test_one_failing_pair_decides_against_and_one_unclear_pair_leaves_it_open():
    good, bad, flat = [0.0] * 5, [1.0, 1.1, 0.9, 1.0, 1.05], [0.01, -0.01, 0.02, -0.02, 0.0]
    base = {100: dict(enumerate([2.0, 2.1, 1.9, 2.0, 2.05]))}
    assert V.decide({**base, 200: dict(enumerate(good)), 400: dict(enumerate(bad))}).outcome == V.NOT_REPRODUCED
    assert V.decide({**base, 200: dict(enumerate(good)), 400: dict(enumerate(flat))}).outcome == V.NOT_DECIDED


def test_one_seed_or_one_width_is_never_decided():
    assert V.decide({100: {0: 1.0}, 200: {0: 0.0}}).outcome == V.NOT_DECIDED
    assert V.decide({100: {0: 1.0, 1: 2.0}}).outcome == V.NOT_DECIDED
    with pytest.raises(ValueError, match="better"):
        V.decide({100: {0: 1.0}}, better="smaller")


def _metrics(train_rel, asymptotic=True, drift=1e-4, rate=1e-3):
    rate_ = V.Rate(rate, rate, 0.0 if asymptotic else 0.5, asymptotic, rate / 2, 2.0)
    return V.RunMetrics(train_rel, train_rel, 1.0, 1.0, 0.1, rate_, 0.1, 0.0, 0.01, 0.198, drift, 1.0, 0)


def test_figure1_verdicts_rate_needs_every_run_in_the_regime_and_drift_is_per_run():
    def sweep(**kw):
        return {m: {s: _metrics(-i - 0.01 * s, rate=1e-3 * (i + 1) * (1 + 0.01 * s), **kw) for s in range(5)}
                for i, m in enumerate((100, 200, 400))}

    v = V.figure1_verdicts(sweep())
    assert set(v) == set(V.FINDINGS) and all(x.outcome in V.OUTCOMES for x in v.values())
    assert (v["1"].outcome, v["2"].outcome, v["1-rate"].outcome, v["3"].outcome) == (V.REPRODUCED,) * 4
    runs = sweep()
    runs[200][3] = _metrics(-1.03, asymptotic=False, drift=0.05)
    v = V.figure1_verdicts(runs)
    assert v["1-rate"].outcome == V.NOT_DECIDED and v["1-rate"].reason == "14 of 15 runs in the asymptotic regime"
    assert v["3"].outcome == V.NOT_REPRODUCED and "5.0e-02" in v["3"].reason


# -- helpers ---------------------------------------------------------------------------------------------------------

def test_group_runs_refuses_two_records_of_one_run():
    r = {"config": {"profile": "p"}, "dataset": "mnist", "width": 10, "seed": 0, "history": None, "path": "a.json"}
    with pytest.raises(ValueError, match="a.json and b.json"):
        V.group_runs([r, {**r, "path": "b.json"}])


def test_seed_band_on_shared_epochs():
    k, mean, se = V.seed_band([(np.array([0, 1, 2]), np.array([1.0, 2, 3])), (np.array([0, 2]), np.array([3.0, 5]))])
    assert k.tolist() == [0, 2] and mean.tolist() == [2.0, 4.0] and se.tolist() == [1.0, 1.0]


def test_markdown_table():
    text = V.markdown_table(["a", "b"], [[1, "x|y"]])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1 | x\\|y |"]


# -- the stored records ----------------------------------------------------------------------------------------------

def test_stored_seeds_profile_supports_the_verdicts():
    """The stored CPU runs the chapter decides on: every (data set, width) has the profile's seeds, each record has
    what the metrics need, and every rule gives one of its three outcomes (which one is the chapter's business)."""
    runs = V.group_runs(figure1.load_results(results_dir("figure1")))["seeds"]
    cfg = figure1.PROFILES["seeds"]
    assert sorted(runs) == sorted(cfg.datasets)
    for name, by_width in runs.items():
        assert sorted(by_width) == sorted(cfg.widths)
        metrics = {}
        for m, by_seed in by_width.items():
            assert sorted(by_seed) == sorted(cfg.seeds), (name, m)
            for r in by_seed.values():
                assert r["config"]["epochs"] == cfg.epochs and r["history"]["step"][-1] == cfg.epochs
                assert r["history"].stopped is None and r["lambda0"] > 0
            metrics[m] = {s: V.run_metrics(r) for s, r in by_seed.items()}
        for verdict in V.figure1_verdicts(metrics).values():
            assert verdict.outcome in V.OUTCOMES
