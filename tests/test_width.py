"""The width study: the success criterion, one cell, minimal widths, the gamma sweep, the shared JSON file, the CLI."""
from __future__ import annotations

import json
import math
import threading
import time

import numpy as np
import pytest

from implicit.kernels import lambda0
from implicit.studies import width as ws


def geometric(K: int, q: float) -> list[float]:
    return [10.0 * q ** k for k in range(K + 1)]


def test_criterion_accepts_a_linear_curve_and_rejects_bad_ones():
    lr, lam0, K = 0.01, 0.1, 50  # envelope factor 1 - lr*lam0/2 = 0.9995 per step
    good = ws.judge(geometric(K, 0.99), lr, lam0, 1.0, 1.0, K)
    assert good == {"completed": True, "monotone": True, "envelope": True, "gram": True}
    bumpy = geometric(K, 0.99)
    bumpy[20] = bumpy[19] * 1.01  # one increasing step
    assert not ws.judge(bumpy, lr, lam0, 1.0, 1.0, K)["monotone"]
    stalled = [10.0] * (K + 1)  # flat: monotone, but slower than Theorem 3.2's envelope
    checks = ws.judge(stalled, lr, lam0, 1.0, 1.0, K)
    assert checks["monotone"] and not checks["envelope"]
    # round-off sized increases are allowed
    noisy = geometric(K, 0.99)
    noisy[10] = noisy[9] * (1 + 1e-14)
    assert ws.judge(noisy, lr, lam0, 1.0, 1.0, K)["monotone"]
    # the Gram condition at either end, an early stop, and an unmeasured end point all fail
    assert not ws.judge(geometric(K, 0.99), lr, lam0, 0.04, 1.0, K)["gram"]
    assert not ws.judge(geometric(K, 0.99), lr, lam0, 1.0, 0.04, K)["gram"]
    assert not ws.judge(geometric(K, 0.99), lr, lam0, 1.0, math.nan, K)["gram"]
    assert not ws.judge(geometric(10, 0.99), lr, lam0, 1.0, 1.0, K)["completed"]


def test_minimal_width_requires_the_rate_to_stay():
    rates = {2: 0.0, 4: 0.95, 8: 0.5, 16: 0.9, 32: 1.0}
    assert ws.minimal_width(rates) == {"stays": 16, "first": 4}
    assert ws.minimal_width({2: 0.0, 4: 0.8}) == {"stays": None, "first": None}
    assert ws.minimal_width({2: 1.0, 4: 1.0}) == {"stays": 2, "first": 2}
    cells = [{"m": 4, "success": True}, {"m": 2, "success": False}, {"m": 4, "success": False}]
    assert ws.success_rates(cells) == {2: 0.0, 4: 0.5}


def test_one_cell_records_and_judges():
    X, y, info = ws.make_data("sphere", 12, sphere_dim=5)
    assert info["n"] == 12 and X.shape == (12, 5) and set(y.tolist()) <= {-1.0, 1.0}
    lam0 = lambda0(X)
    wide = ws.run_cell(X, y, 24, 0, steps=8, lam0=lam0)
    assert wide["lr"] == pytest.approx(1 / wide["lambda_max_H0"])
    assert wide["stopped"] is None and wide["lossK"] < wide["loss0"]
    assert wide["success"] == all(wide["checks"].values())
    assert wide["curve"]["step"][0] == 0 and wide["curve"]["step"][-1] == 8
    assert wide["lambda_min_H0"] >= wide["lambda_min_G0"] - 1e-12  # H contains G
    narrow = ws.run_cell(X, y, 1, 0, steps=8, lam0=lam0)  # 1 + 5 + 2 = 8 parameters < 12 samples: H singular
    assert not narrow["checks"]["gram"] and not narrow["success"]
    event = ws.g_event_cell(X, 4, 0, lam0)  # G(0) has rank <= 4 < 12
    assert event["lambda_min_G0"] < 1e-10 and not event["success"]


def test_theorem_widths_constants_one():
    th = ws.theorem_widths(10, 0.1, 2.0, 2.0, 3.0, delta=0.1)
    assert th["theorem_3_1"] == pytest.approx(100 / 0.01 * math.log(100))
    assert th["lemma_3_5"] == pytest.approx(4 * 10 * 4 * 9 / 1e-3)


def test_gamma_cell_past_the_certificate_and_the_model():
    X, y, _ = ws.make_data("sphere", 10, sphere_dim=4)
    inside = ws.gamma_cell(X, y, 16, 0, 0.1, steps=3)
    assert inside["certified"] and inside["solver_converged"] and inside["train_success"] is not None
    assert 0 < inside["picard_rate"] < 0.3
    outside = ws.gamma_cell(X, y, 16, 0, 1.5, steps=3, max_iter=300)
    assert not outside["certified"] and "train_success" not in outside  # gamma >= 1: solver probe only
    points = [{"gamma": 0.1, "certified": True, "solver_converged": True, "train_success": True},
              {"gamma": 0.6, "certified": False, "solver_converged": True, "train_success": True},
              {"gamma": 0.9, "certified": False, "solver_converged": True, "train_success": False},
              {"gamma": 1.2, "certified": False, "solver_converged": False}]
    assert ws.breaks_first(points) == {"certificate": 0.6, "solver": 1.2, "training": 0.9, "first": "certificate"}


def tiny_profile(**kw) -> ws.Profile:
    base = dict(name="test", datasets=("sphere",), ns=(8, 12), widths=(1, 16), seeds=2, steps=4, g_widths=(4, 64),
                gammas=(0.1, 0.7, 1.2), gamma_n=8, gamma_m=8, gamma_seeds=1, gamma_steps=2, sphere_dim=4)
    base.update(kw)
    return ws.Profile(**base)


def test_study_json_round_trip_and_restart(tmp_path):
    log: list[str] = []
    path = ws.run_study(tiny_profile(), tmp_path, progress=False, log=log.append)
    assert path.name == "width-test.json"
    raw = json.loads(path.read_text())  # strict JSON: the standard reader, no NaN tokens
    for key in ("date", "device", "torch", "git_commit", "threads"):
        assert key in raw["provenance"]
    assert raw["settings"]["criterion"]["lam_fraction"] == 0.5 and raw["settings"]["profile"]["seeds"] == 2
    assert "wall_s_this_run" in raw and "earlier_runs" not in raw
    study = ws.load_study(tmp_path, "test")
    group = study["groups"]["sphere/12"]
    assert set(group["success_rate"]) == {1, 16} and group["success_rate"][1] == 0.0
    assert group["theorem_widths"]["constants"].startswith("all hidden constants")
    assert len(group["cells"]) == 4 and study["gamma_sweep"]["sphere"]["breaks"]["certificate"] == 0.7
    rows = ws.summary_table(study)
    assert [(r["dataset"], r["n"]) for r in rows] == [("sphere", 8), ("sphere", 12)]
    assert len(log) == 3
    # a second run with the same settings keeps every group and leaves the file alone
    before = path.read_bytes()
    ws.run_study(tiny_profile(), tmp_path, progress=False, log=log.append)
    assert len(log) == 3 and path.read_bytes() == before
    # other settings under the same name: reported, and the study starts afresh (3 + 1 groups)
    ws.run_study(tiny_profile(ns=(8, 12, 10)), tmp_path, progress=False, log=log.append)
    assert log[3] == f"{path} holds a study with other settings; starting it afresh" and len(log) == 8
    assert set(ws.load_study(path)["groups"]) == {"sphere/8", "sphere/10", "sphere/12"}


def test_plots_from_the_stored_record(tmp_path):
    import matplotlib.pyplot as plt

    from implicit import plotting

    ws.run_study(tiny_profile(), tmp_path, progress=False, log=lambda line: None)
    study = ws.load_study(tmp_path / "width-test.json")
    ax = plotting.plot_phase(study, "sphere")
    assert ax.get_xlabel() and ax.get_ylabel() and "None" not in ax.get_title()
    ax = plotting.plot_gamma_sweep(study, "sphere")
    assert ax.get_xlabel() and ax.get_ylabel() and "None" not in ax.get_title()
    assert ax.get_legend() is not None
    plt.close("all")


def test_damaged_study_file_is_reported_and_started_afresh(tmp_path):
    path = ws.run_study(tiny_profile(ns=(8,)), tmp_path, progress=False, log=lambda line: None)
    path.write_text(path.read_text()[:200])
    log: list[str] = []
    ws.run_study(tiny_profile(ns=(8,)), tmp_path, progress=False, log=log.append)
    assert log[0].startswith(f"{path} is damaged or incomplete") and log[0].endswith("recomputing it")
    assert sum(str(path) in line for line in log) == 1 and len(log) == 3  # reported once, 2 groups recomputed
    assert set(ws.load_study(path)["groups"]) == {"sphere/8"}


def test_a_group_held_by_another_runner_is_left_to_it(tmp_path):
    """While another runner holds the group sphere/8, this one computes the rest, then waits for it."""
    from implicit.records import FileLock
    from implicit.studies import runner

    log: list[str] = []
    profile = tiny_profile()
    with FileLock(runner.lock_path(tmp_path, "width-test.json.groups.sphere-8")):
        worker = threading.Thread(target=ws.run_study, args=(profile, tmp_path),
                                  kwargs=dict(progress=False, log=log.append))
        worker.start()
        deadline = time.monotonic() + 120
        while not any(line.startswith("gamma sweep sphere (n=") for line in log):
            assert time.monotonic() < deadline and worker.is_alive(), log
            time.sleep(0.02)
        assert "sphere/8" not in ws.load_study(tmp_path, "test")["groups"]
    worker.join(120)
    assert log[0] == "sphere n=8: another runner holds it; coming back to it at the end"
    assert log[-1].startswith("sphere n=8: lambda0=")  # the holder left it undone: computed at the end
    assert set(ws.load_study(tmp_path, "test")["groups"]) == {"sphere/8", "sphere/12"}


def test_cli(tmp_path, capsys):
    from implicit.__main__ import COMMANDS

    assert COMMANDS["width-study"] is ws.main
    status = ws.main(["--profile", "fast", "--datasets", "sphere", "--ns", "8", "--widths", "16", "--seeds", "1",
                      "--steps", "2", "--gammas", "0.1", "--tag", "cli", "--out", str(tmp_path), "--device", "cpu"])
    assert status == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "m_min(GD)" in out
    study = ws.load_study(tmp_path / "width-cli.json")
    assert study["settings"]["profile"]["name"] == "cli" and np.isfinite(study["groups"]["sphere/8"]["lambda0"])
