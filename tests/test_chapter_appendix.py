"""The package functions behind the errata, experiment and performance chapters: benchmark tables and targets,
the experiment's summaries of stored runs, the replay of a stored run, and the chapters' figures."""
from __future__ import annotations

import dataclasses
import math

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from implicit import benchmarking  # noqa: E402
from implicit.claims import Claim  # noqa: E402
from implicit.data import BinaryData, sphere  # noqa: E402
from implicit.plotting import appendix  # noqa: E402
from implicit.records import RecordError  # noqa: E402
from implicit.studies import figure1, results_dir  # noqa: E402
from implicit.studies import verdicts as V  # noqa: E402


@pytest.fixture(scope="module")
def cpu():
    return benchmarking.load("cpu")


@pytest.fixture(scope="module")
def metrics():
    return V.all_metrics(V.group_runs(figure1.load_results(results_dir("figure1"))))


@pytest.fixture()
def fake_mnist(tmp_path):
    """A stand-in for the MNIST subset: 16 random images, classes 0 and 1, half training, half test."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "mnist-01.npz", images=rng.integers(1, 256, (16, 28, 28), dtype=np.uint8),
             labels=np.tile([0, 1], 8), split=np.repeat([0, 1], 8))
    return tmp_path


# -- benchmarking ----------------------------------------------------------------------------------------------------

def test_load_reads_every_suite_and_nothing_from_an_empty_folder(cpu, tmp_path):
    assert set(benchmarking.SUITES) <= set(cpu)
    assert benchmarking.load("cpu", folder=tmp_path) == {}


def test_load_names_a_damaged_file(tmp_path):
    (tmp_path / "gram-cpu.json").write_text('{"rows": [')  # cut off mid-write
    with pytest.raises(RecordError, match="gram-cpu.json"):
        benchmarking.load("cpu", folder=tmp_path)


@pytest.mark.parametrize("suite", benchmarking.SUITES)
def test_every_suite_has_a_table_with_one_row_per_stored_row(cpu, suite):
    lines = benchmarking.table(cpu, suite).splitlines()
    assert lines[1].startswith("|---")
    rows = len(cpu[suite].get("rows", []))
    expected = {"warmstart": 2, "gradient": 4 * rows}.get(suite, rows)
    assert len(lines) - 2 == expected


def test_tables_add_the_gpu_only_where_it_was_measured(cpu):
    assert "**GPU**" not in benchmarking.tables("gram", cpu, {})
    assert benchmarking.tables("gram", cpu, cpu).count("| n | m |") == 2
    with pytest.raises(ValueError, match="no table"):
        benchmarking.table(cpu, "nonsense")


def test_targets_are_claims_with_unique_ids(cpu):
    ids = []
    for suite in ("forward", "warmstart", "gradient", "gram", "step"):
        checks = benchmarking.targets(cpu, suite)
        assert all(isinstance(c, Claim) and c.id == key for key, c in checks.items())
        ids += list(checks)
    assert len(ids) == len(set(ids))
    assert not benchmarking.targets(cpu, "warmstart")["warm-2x"].holds  # the page lists it as unmet
    with pytest.raises(ValueError, match="no targets"):
        benchmarking.targets(cpu, "roofline")


def test_a_target_follows_the_stored_number(cpu):
    edited = {**cpu, "gram": {**cpu["gram"], "rows": [dict(r) for r in cpu["gram"]["rows"]]}}
    big = next(r for r in edited["gram"]["rows"] if (r["n"], r["m"]) == (1000, 4000))
    big["closed_form"] = {**big["closed_form"], "median_s": 120.0}
    assert not benchmarking.targets(edited, "gram")["gram-1000x4000"].holds


def test_warm_start_implied_inverts_the_iteration_counts():
    ws = {"tol": 1e-10, "summary": {"forward_cold_mean": 20.0, "forward_warm_mean": 10.0}}
    q, delta = benchmarking.warm_start_implied(ws)
    assert q == pytest.approx(10 ** -0.5)
    assert delta == pytest.approx(1e-5)  # half the iterations: the start was sqrt(tol) away


def test_not_run_keeps_the_message_and_drops_folders():
    assert benchmarking.not_run("skipped: ValueError: cifar10 has only 396 images. Use fewer") == \
        "not run: cifar10 has only 396 images"
    assert benchmarking.not_run("FileNotFoundError: no copy at /a/b/svhn-01") == "not run: no copy at svhn-01"


# -- verdicts --------------------------------------------------------------------------------------------------------

def test_all_verdicts_and_runs_of_keep_the_nesting(metrics):
    verdicts = V.all_verdicts(metrics)
    assert set(verdicts) == set(metrics) and set(verdicts["seeds"]["mnist"]) == set(V.FINDINGS)
    assert len(V.runs_of(metrics["seeds"])) == sum(len(bs) for bw in metrics["seeds"].values() for bs in bw.values())
    assert {x.lambda0 for x in V.runs_of(metrics["seeds"], ["mnist"], [400])} == \
        {x.lambda0 for x in metrics["seeds"]["mnist"][400].values()}


def test_pair_counts_count_in_the_favourable_direction():
    pairs = (V.Pair(1, 2, 0.3, 0.1, 5), V.Pair(2, 4, -0.05, 0.1, 5))  # z = +3, -0.5
    up = {"a": {"k": V.Verdict(V.REPRODUCED, pairs, "higher", "")}}
    down = {"a": {"k": V.Verdict(V.NOT_DECIDED, pairs, "lower", "")}}
    assert V.pair_counts(up, "k") == {"pairs": 2, "ahead": 1, "favourable": 1, "unfavourable": 0, "decided": 1}
    assert V.pair_counts(down, "k") == {"pairs": 2, "ahead": 1, "favourable": 0, "unfavourable": 1, "decided": 0}


def test_tables_have_one_row_per_data_set_and_width(metrics):
    seeds = metrics["seeds"]
    rows = sum(len(bw) for bw in seeds.values())
    for text in (V.loss_table(seeds), V.rate_table(seeds), V.lambda_table(seeds)):
        assert len(text.splitlines()) == rows + 2
    verdicts = V.all_verdicts(metrics)["seeds"]
    assert len(V.verdict_table(verdicts, "seeds").splitlines()) == len(V.FINDINGS) + 2
    assert len(V.pairs_table(verdicts, ("1",)).splitlines()) == 2 + sum(len(v["1"].pairs) for v in verdicts.values())
    assert "0 (singular)" in V.lambda_table(seeds)  # m = n/2: G(0) has rank m < n
    assert V.opnorm_table(metrics).count("| seeds |") == 3


# -- figure1 ---------------------------------------------------------------------------------------------------------

def test_replay_reproduces_a_run_and_sees_a_changed_one(fake_mnist):
    cfg = dataclasses.replace(figure1.PROFILES["fast"], n_train_per_class=4, n_test_per_class=4, epochs=6,
                              record_every=2, gram_every=2)
    record = figure1.run_one(cfg, "mnist", 20, seed=1, data_dir=fake_mnist, progress=False)
    assert figure1.replay(record, 6, data_dir=fake_mnist)["max_rel_diff"] == 0.0
    record["history"]["columns"]["train_mse"][-1] *= 1.01
    again = figure1.replay(record, 6, data_dir=fake_mnist)
    assert again["epochs"] == [0, 2, 4, 6] and math.isclose(again["max_rel_diff"], 0.01 / 1.01, rel_tol=1e-9)


def test_sensitivity_has_one_row_per_pair(fake_mnist):
    rows = figure1.sensitivity("mnist", 20, (0.5, 1.5), (0.05, 0.1), epochs=4, per_class=4, data_dir=fake_mnist)
    assert [(r["lr_scale"], r["gamma"]) for r in rows] == [(0.5, 0.05), (0.5, 0.1), (1.5, 0.05), (1.5, 0.1)]
    assert all(r["train_end"] < r["train_start"] for r in rows)


# -- figures ---------------------------------------------------------------------------------------------------------

def test_plot_samples_shows_both_classes_of_every_set():
    X, y = sphere(12, 784), torch.tensor([1.0, -1.0] * 6, dtype=torch.float64)
    task = BinaryData(X[:10], y[:10], X[10:], y[10:], info={"dataset": "sphere", "n_train": 10, "n_test": 2})
    fig = appendix.plot_samples({"a": task, "b": task}, per_class=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 8 and titles[:4] == ["a y=+1", "a y=+1", "a y=-1", "a y=-1"]
    plt.close(fig)


def test_plot_warmstart_draws_cold_and_warm_for_both_solves(cpu):
    fig = appendix.plot_warmstart(cpu["warmstart"])
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["forward, cold start (from 0)", "forward, warm start", "adjoint, cold start (from 0)",
                      "adjoint, warm start"]
    plt.close(fig)
