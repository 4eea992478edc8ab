"""The package functions of the chapter "beyond the paper": the checks of the infinite-width limit
(:mod:`implicit.studies.cells`), the readings and claims of the stored width studies (:mod:`implicit.studies.width`)
and the chapter's figures (:mod:`implicit.plotting.beyond`)."""
from __future__ import annotations

import math

import matplotlib
import pytest
import torch

from implicit import data
from implicit.claims import Claim
from implicit.equilibrium_ntk import Quadrature
from implicit.kernels import lambda0
from implicit.studies import cells, results_dir, width
from implicit.studies import width_findings as findings

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def study():
    return width.load_study(results_dir("width"))


@pytest.fixture(scope="module")
def long():
    return width.load_study(results_dir("width"), "long")


# -- the infinite-width limit -----------------------------------------------------------------------------------------

def test_closed_form_errors_agree_on_rows_of_any_norm():
    X = data.sphere(5, 3, seed=1) * torch.linspace(0.5, 2.0, 5, dtype=torch.float64)[:, None]
    rows = cells.closed_form_errors(X, [0.1, 0.3])
    assert [r["gamma"] for r in rows] == [0.1, 0.3]
    assert all(r["worst"] <= 1e-10 and r["theta"] <= 1e-12 for r in rows)
    assert all(r["worst"] == max(r[k] for k in "AWuv") for r in rows)


def test_quadrature_errors_fall_with_the_nodes():
    errs = cells.quadrature_errors(data.sphere(4, 3, seed=2), [0.3], [Quadrature(3, 8), Quadrature(6, 16)],
                                   reference=Quadrature(16, 48))
    assert errs[0.3][1] < errs[0.3][0] / 100


def test_monte_carlo_tells_the_limit_from_the_wrong_kernel():
    z = cells.monte_carlo_z(data.sphere(3, 3, seed=3), 0.45, samples=50_000, seed=1)
    assert set(z) == {"K", "Sdot", "T", "G_inf"}
    assert max(z["K"], z["Sdot"], z["T"]) <= 5 < 20 <= z["G_inf"]


def test_finite_width_errors_shrink_and_alternatives_are_farther():
    X = data.sphere(4, 3, seed=0)
    errs = cells.finite_width_errors(X, 0.1, [32, 512], seeds=2)
    assert set(errs) == {"A", "W", "u", "v", "total"} and all(len(e) == 2 for e in errs.values())
    assert errs["total"][1] < errs["total"][0]
    rows = cells.limit_alternatives(X, 0.45, m=1024, seeds=2)
    assert {r["block"] for r in rows} == {"A", "W", "u"}
    assert all(r["to_limit"] < r["to_alternative"] for r in rows)


def test_limit_rates_order_the_blocks():
    [row] = cells.limit_rates({"sphere": data.sphere(8, 5, seed=0)}, 0.1)
    assert row["data"] == "sphere" and math.isclose(row["ratio"], row["H"] / row["lambda0"])
    assert row["A"] < row["lambda0"] <= row["two_layer"] < row["H"] and row["W"] > row["u"]


def test_picard_prediction_reads_the_sweep(study):
    sweep = study["gamma_sweep"]["sphere"]
    X = width.make_data("sphere", sweep["n"])[0][:4]
    [row] = cells.picard_prediction(sweep, X, [0.3], rule=Quadrature(8, 24))
    assert 0 < row["p"] < 1 and math.isclose(row["predicted"], 0.3 * math.sqrt(row["p"]))
    assert row["predicted"] <= row["measured"] <= 1.25 * row["predicted"] and row["measured"] < row["certified"]


def test_rerun_reproduces_a_cell():
    X, y, _ = width.make_data("sphere", 8)
    stored = cells.run_cell(X, y, m=8, seed=1, steps=6)
    again = cells.rerun(X, y, stored, lambda0(X))
    assert again["match"] and again["max_rel_dev"] == 0.0 and again["criteria"] == stored["criteria"]
    tampered = {**stored, "curve": {**stored["curve"], "loss": [2 * v for v in stored["curve"]["loss"]]}}
    assert cells.rerun(X, y, tampered, lambda0(X))["max_rel_dev"] == pytest.approx(0.5)


# -- the stored studies -----------------------------------------------------------------------------------------------

def test_describe_and_tables(study, long):
    assert findings.describe(study).startswith("width-full.json: 10 seeds per width, K = 50 steps; run on ")
    rows = findings.summary_rows(study)
    assert len(rows) == 10 and rows[0]["data"] == "mnist" and rows[1]["G along K"] == "> 256"
    table = findings.long_rows(long)
    assert [(r["data"], r["m"]) for r in table[:2]] == [("sphere", 8), ("sphere", 16)] and len(table) == 8
    assert all(r["stopped"] == 0 for r in table)


def test_facts_of_the_stored_studies(study, long):
    f = findings.fifty_step_facts(study)
    assert f["runs"] == 600 and f["loss_rate"] == 1.0 and f["H_failures_at_init"] <= f["H_failures"]
    assert 1 < f["G0_over_n_min"] <= f["G0_over_n_max"] <= 10 and f["envelope_max"] < 1
    g = findings.long_facts(long)
    assert g["H_and_loss"] + g["H_only"] + g["loss_only"] + g["neither"] == 80
    assert g["passing"] == g["H_and_loss"] + g["loss_only"] and g["at_floor"] <= g["passing"]
    s = findings.growth_exponents(study)
    assert list(s) == ["sphere", "mnist"] and all(v["gram_H"] < 1 < v["theorem_3_1"] for v in s.values())


@pytest.mark.parametrize("check, which, count", [("check_fifty_steps", "study", 8), ("check_growth", "study", 9),
                                                  ("check_long", "long", 10), ("check_sweep", "study", 7)])
def test_every_check_holds_on_the_stored_studies(check, which, count, study, long):
    claims = getattr(findings, check)(study if which == "study" else long)
    assert len(claims) == count and all(isinstance(c, Claim) and c.id == k for k, c in claims.items())
    assert all(c.holds for c in claims.values()), [str(c) for c in claims.values() if not c.holds]


def test_checks_fail_when_the_data_say_otherwise(long):
    import copy

    bad = copy.deepcopy(long)
    for c in bad["groups"]["sphere/50"]["cells"]:
        if c["m"] == 16:  # a width that fails the loss criterion everywhere
            c["checks"]["envelope"] = False
    bad["groups"]["sphere/50"] = width._aggregate(bad["groups"]["sphere/50"], width.Criterion())
    claims = findings.check_long(bad)
    assert not claims["loss-sphere"].holds and claims["loss-sphere"].result == "theorem-3.2"
    assert not claims["H-then-loss"].holds


# -- the figures ------------------------------------------------------------------------------------------------------

def test_figures_draw_from_the_stored_studies(study, long):
    import matplotlib.pyplot as plt

    from implicit.plotting import beyond as figs

    fig = figs.plot_limit_convergence([100, 200, 400], {"A": [0.2, 0.14, 0.1], "total": [0.1, 0.07, 0.05]})
    assert fig.axes[0].get_yscale() == "log"
    fig = figs.plot_width_phases(study)
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in fig.axes)
    assert len(figs.plot_long_horizon(long, n=50).axes) == 4
    fig = figs.plot_gamma_sweeps(study)
    assert len(fig.legends) == 1 and fig.axes[0].get_xlabel() == r"$\gamma$"
    plt.close("all")
