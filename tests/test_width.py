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
    good = ws.judge(geometric(K, 0.99), lr, lam0, 1.0, 1.0, K, lam_min_G0=1.0, lam_min_GK=1.0)
    assert good == {"completed": True, "envelope": True, "late_rate": True, "monotone": True, "gram_H": True,
                    "gram_G": True}
    assert ws.LOSS_PARTS == ("completed", "envelope", "late_rate")  # monotonicity is recorded, in no criterion
    bumpy = geometric(K, 0.99)
    bumpy[20] = bumpy[19] * 1.01  # one increasing step
    assert not ws.judge(bumpy, lr, lam0, 1.0, 1.0, K)["monotone"]
    stalled = [10.0] * (K + 1)  # flat: monotone, but slower than Theorem 3.2's envelope and its rate
    checks = ws.judge(stalled, lr, lam0, 1.0, 1.0, K)
    assert checks["monotone"] and not checks["envelope"] and not checks["late_rate"]
    # round-off sized increases are allowed
    noisy = geometric(K, 0.99)
    noisy[10] = noisy[9] * (1 + 1e-14)
    assert ws.judge(noisy, lr, lam0, 1.0, 1.0, K)["monotone"]
    # each Gram condition at either end, an early stop, and an unmeasured end point all fail
    for H0, HK in [(0.04, 1.0), (1.0, 0.04), (1.0, math.nan)]:
        assert not ws.judge(geometric(K, 0.99), lr, lam0, H0, HK, K)["gram_H"]
        assert not ws.judge(geometric(K, 0.99), lr, lam0, 1.0, 1.0, K, lam_min_G0=H0, lam_min_GK=HK)["gram_G"]
    assert not ws.judge(geometric(K, 0.99), lr, lam0, 1.0, 1.0, K)["gram_G"]  # G not measured
    assert not ws.judge(geometric(10, 0.99), lr, lam0, 1.0, 1.0, K)["completed"]


def test_late_rate_catches_a_stall_inside_the_envelope():
    """A loss that falls fast and then stalls stays under a nearly flat envelope, but its late rate is 1."""
    lr, lam0, K = 0.01, 0.1, 200
    stall = [10.0 * max(0.9 ** k, 0.05) for k in range(K + 1)]
    checks = ws.judge(stall, lr, lam0, 1.0, 1.0, K)
    assert checks["envelope"] and checks["monotone"] and not checks["late_rate"]
    assert ws.late_rate(stall) == pytest.approx(1.0)
    # a geometric curve slower than the theorem's factor 1 - lr*lam0/2 fails, a faster one passes
    assert not ws.judge(geometric(K, 0.9997), lr, lam0, 1.0, 1.0, K)["late_rate"]
    assert ws.judge(geometric(K, 0.9993), lr, lam0, 1.0, 1.0, K)["late_rate"]


def test_round_off_floor():
    """Once the loss is at round-off (below 1e-20 L(0)) its jitter is neither an increase nor a stall."""
    K = 100
    curve = [max(0.3 ** k, 1e-31 * (1 + 0.5 * (k % 2))) for k in range(K + 1)]
    checks = ws.judge(curve, 0.01, 0.1, 1.0, 1.0, K)
    assert checks["monotone"] and checks["envelope"] and checks["late_rate"]
    assert ws.late_rate(curve) is None  # the whole second half is at round-off
    jitter_above = list(curve)
    jitter_above[20] = jitter_above[19] * 1.01  # an increase at 1e-6 L(0) still counts
    assert not ws.judge(jitter_above, 0.01, 0.1, 1.0, 1.0, K)["monotone"]


def test_stored_study_is_judged_again():
    """The 50-step study stored before the criteria were separated: every failure of its old combined criterion was
    the H condition, so the re-judged gram_H rates are its old success rates, and over 50 steps every run passes the
    loss criterion."""
    from implicit.studies import results_dir

    study = ws.load_study(results_dir("width"))
    for group in study["groups"].values():
        assert group["rates"]["gram_H"] == group["success_rate"]
        assert set(group["rates"]["loss"].values()) == {1.0}
        n = group["n"]
        assert all(not c["criteria"]["gram_G"] for c in group["cells"] if c["m"] < n)  # rank G <= m < n
        assert group["g_minimal_widths"]["gram_G0"]["stays"] >= n


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
    assert wide["criteria"]["loss"] == all(wide["checks"][k] for k in ws.LOSS_PARTS)
    assert wide["criteria"] == ws.criteria_of(wide, lam0)  # a stored record is judged as the fresh run was
    assert wide["curve"]["step"][0] == 0 and wide["curve"]["step"][-1] == 8
    assert wide["lambda_min_H0"] >= wide["lambda_min_G0"] - 1e-12  # H contains G
    narrow = ws.run_cell(X, y, 1, 0, steps=8, lam0=lam0)  # 1 + 5 + 2 = 8 parameters < 12 samples: H singular
    assert not narrow["criteria"]["gram_H"] and not narrow["criteria"]["gram_G"]
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
    assert set(group["rates"]["gram_H"]) == {1, 16} and group["rates"]["gram_H"][1] == 0.0
    stored = raw["groups"]["sphere/12"]["rates"]  # as written: JSON keys are strings
    assert stored == {k: {str(m): v for m, v in r.items()} for k, r in group["rates"].items()}
    assert group["steps"] == 4 and set(group["minimal_widths"]) == set(ws.CRITERIA)
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
    assert "wrote" in out and "m_min: gram_G=" in out and "gram_H=" in out and "loss=" in out
    study = ws.load_study(tmp_path / "width-cli.json")
    assert study["settings"]["profile"]["name"] == "cli" and np.isfinite(study["groups"]["sphere/8"]["lambda0"])
