"""The Figure 1 runner: one JSON per (data set, width, seed), with provenance; restartable, damage-tolerant, shared."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from test_images import fake_mnist

from implicit import kernels, rawformats
from implicit.data import load_binary
from implicit.records import FileLock, RecordError, read_json, write_json
from implicit.studies import figure1, runner


@pytest.fixture()
def data_dir(tmp_path):
    fake_mnist(tmp_path / "root", "MNIST/raw", per_split=60)
    return rawformats.convert_raw("mnist", tmp_path / "root", tmp_path / "data").parent


def tiny(**kw):
    base = dict(profile="test", datasets=("mnist",), widths=(20, 40), n_train_per_class=3, n_test_per_class=2,
                epochs=4, gram_every=2)
    base.update(kw)
    return figure1.Config(**base)


def test_run_figure1_writes_restartable_json(tmp_path, data_dir):
    cfg = tiny()
    log = []
    paths = figure1.run_figure1(cfg, tmp_path / "out", data_dir=data_dir, progress=False, log=log.append)
    assert [p.name for p in paths] == ["figure1-test-mnist-m20-s0.json", "figure1-test-mnist-m40-s0.json"]
    record = json.loads(paths[0].read_text())  # strict JSON: the standard reader, no NaN tokens
    assert record["config"]["epochs"] == 4 and record["width"] == 20 and record["data"]["n_train"] == 6
    assert record["lr"] == pytest.approx(1 / record["lambda_max_H0"])
    for key in ("device", "torch", "implicit", "date"):
        assert key in record["provenance"]
    cols = record["history"]["columns"]
    assert len(cols["train_mse"]) == 5 and len(cols["test_mse"]) == 5
    np.testing.assert_allclose(cols["train_mse"], 2 * np.asarray(cols["loss"]) / 6)
    assert cols["lambda_min_H"][1] is None and cols["lambda_min_H"][2] is not None
    # a second call keeps the finished files
    figure1.run_figure1(cfg, tmp_path / "out", data_dir=data_dir, progress=False, log=log.append)
    assert sum("already done" in line for line in log) == 2
    records = figure1.load_results(paths)
    assert records[1]["history"]["train_mse"][-1] < records[1]["history"]["train_mse"][0]
    assert [r["width"] for r in figure1.load_results(tmp_path / "out")] == [20, 40]  # a folder works too


def test_changed_settings_rerun(tmp_path, data_dir):
    log = []
    figure1.run_figure1(tiny(widths=(20,)), tmp_path, data_dir=data_dir, progress=False, log=log.append)
    figure1.run_figure1(tiny(widths=(20,), epochs=2), tmp_path, data_dir=data_dir, progress=False, log=log.append)
    assert not any("already done" in line for line in log)
    assert read_json(tmp_path / "figure1-test-mnist-m20-s0.json")["config"]["epochs"] == 2


@pytest.mark.parametrize("damage", ["truncated", "config only"])
def test_damaged_record_is_reported_and_recomputed(tmp_path, data_dir, damage):
    cfg = tiny(widths=(20,))
    [path] = figure1.run_figure1(cfg, tmp_path, data_dir=data_dir, progress=False, log=lambda line: None)
    text = path.read_text()
    path.write_text(text[: len(text) // 2] if damage == "truncated" else json.dumps({"config": json.loads(text)
                                                                                                ["config"]}))
    log: list[str] = []
    figure1.run_figure1(cfg, tmp_path, data_dir=data_dir, progress=False, log=log.append)
    reported = [line for line in log if str(path) in line]
    assert len(reported) == 1 and "recomputing" in reported[0]
    assert ("damaged or incomplete" if damage == "truncated" else "lacks 'dataset'") in reported[0]
    assert any(line.startswith(f"{path.name}: train mse") for line in log)
    assert read_json(path, required=figure1.REQUIRED)["history"]["columns"]["train_mse"]
    path.write_text("{")
    with pytest.raises(RecordError, match=path.name):  # load_results names a damaged file
        figure1.load_results([path])


def test_a_run_held_by_another_runner_is_left_to_it(tmp_path, data_dir):
    """While another runner holds m20, this one does m40, then waits for m20 and keeps what the holder wrote."""
    cfg = tiny()
    target = figure1.result_path(tmp_path, cfg, "mnist", 20)
    log: list[str] = []
    with FileLock(runner.lock_path(tmp_path, target.name)):
        worker = threading.Thread(target=figure1.run_figure1, args=(cfg, tmp_path),
                                  kwargs=dict(data_dir=data_dir, progress=False, log=log.append))
        worker.start()
        deadline = time.monotonic() + 60
        while not any(line.startswith("figure1-test-mnist-m40-s0.json: train mse") for line in log):
            assert time.monotonic() < deadline and worker.is_alive(), log
            time.sleep(0.02)
        assert not target.exists()
        write_json(target, figure1.run_one(cfg, "mnist", 20, data_dir=data_dir, progress=False))  # the holder's
    worker.join(60)
    assert log[0] == "figure1-test-mnist-m20-s0.json: another runner holds it; coming back to it at the end"
    assert log[-1] == "figure1-test-mnist-m20-s0.json: already done, kept"
    assert sum("train mse" in line for line in log) == 1


def test_cli(tmp_path, data_dir, capsys):
    status = figure1.main(["--profile", "fast", "--datasets", "mnist", "--widths", "16", "--epochs", "2",
                           "--n-train-per-class", "2", "--n-test-per-class", "2", "--tag", "cli", "--out",
                           str(tmp_path), "--data-dir", str(data_dir), "--device", "cpu"])
    assert status == 0
    record = read_json(tmp_path / "figure1-cli-mnist-m16-s0.json")
    assert record["config"]["profile"] == "cli" and record["config"]["widths"] == [16]
    assert "figure1-cli-mnist-m16-s0.json: train mse" in capsys.readouterr().out


def test_profiles_match_the_paper():
    full = figure1.PROFILES["full"]
    assert full.widths == (500, 1000, 2000, 4000) and full.epochs == 1000
    assert full.n_train_per_class == full.n_test_per_class == 500
    assert set(full.datasets) == {"mnist", "fashionmnist", "cifar10", "svhn"} and full.gamma == 0.1


def test_seeds_profile_sizes():
    """The CPU profile the verdicts rest on: five seeds or more, three widths spanning 4x, n >= 200, three data sets
    with the same sizes (CIFAR-10's offline subset has 89 test images of class 1)."""
    cfg = figure1.PROFILES["seeds"]
    assert len(cfg.seeds) >= 5 and len(set(cfg.seeds)) == len(cfg.seeds)
    assert len(cfg.widths) >= 3 and max(cfg.widths) >= 4 * min(cfg.widths)
    assert 2 * cfg.n_train_per_class >= 200 and cfg.n_test_per_class <= 89
    assert set(cfg.datasets) == {"mnist", "fashionmnist", "cifar10"}
    for profile in figure1.PROFILES.values():
        assert profile.gram_every % profile.record_every == 0 and profile.epochs % profile.record_every == 0


def test_config_checks_intervals_and_seeds():
    with pytest.raises(ValueError, match="multiple of record_every"):
        tiny(gram_every=3, record_every=2)
    with pytest.raises(ValueError, match="non-negative ints"):
        tiny(seeds=())
    with pytest.raises(ValueError, match="non-negative ints"):
        tiny(seeds=(0, -1))


def test_seeds_set_data_and_initialisation(tmp_path, data_dir):
    """One file per seed; a seed draws its own data and initialisation; lambda0 is that training set's."""
    cfg = tiny(widths=(20,), seeds=(0, 3))
    paths = figure1.run_figure1(cfg, tmp_path, data_dir=data_dir, progress=False, log=lambda line: None)
    assert [p.name for p in paths] == ["figure1-test-mnist-m20-s0.json", "figure1-test-mnist-m20-s3.json"]
    a, b = figure1.load_results(paths)
    assert (a["seed"], b["seed"]) == (0, 3) and a["history"]["train_mse"][0] != b["history"]["train_mse"][0]
    assert (a["data"]["seed"], b["data"]["seed"]) == (0, 3) and a["lambda0"] != b["lambda0"]  # other images
    for record in (a, b):
        X = load_binary("mnist", 3, 2, seed=record["seed"], data_dir=data_dir).X_train
        assert record["lambda0"] == pytest.approx(kernels.lambda0(X), rel=1e-12)
        assert record["history"]["lambda_min_G"][0] <= record["history"]["lambda_min_H"][0]


def test_more_seeds_keep_finished_runs(tmp_path, data_dir):
    log: list[str] = []
    figure1.run_figure1(tiny(widths=(20,), seeds=(0,)), tmp_path, data_dir=data_dir, progress=False, log=log.append)
    figure1.run_figure1(tiny(widths=(20, 24), seeds=(0, 1)), tmp_path, data_dir=data_dir, progress=False,
                        log=log.append)
    assert log[1] == "figure1-test-mnist-m20-s0.json: already done, kept"
    assert sum("train mse" in line for line in log) == 4  # s0 m20 once, then m24 s0, m20 s1, m24 s1


def test_thinned_history_matches_the_full_one(tmp_path, data_dir):
    """Storing every second epoch changes what is kept, not the run: the kept values are the full run's."""
    full = figure1.run_one(tiny(epochs=5, gram_every=2), "mnist", 20, data_dir=data_dir, progress=False)
    thin = figure1.run_one(tiny(epochs=5, gram_every=2, record_every=2), "mnist", 20, data_dir=data_dir,
                           progress=False)
    f, t = full["history"]["columns"], thin["history"]["columns"]
    assert t["step"] == [0.0, 2.0, 4.0, 5.0] and thin["history"]["meta"]["record_every"] == 2
    rows = [0, 2, 4, 5]
    for column in ("train_mse", "test_mse", "contraction", "lambda_min_H"):
        np.testing.assert_allclose([f[column][i] if f[column][i] is not None else np.nan for i in rows],
                                   [np.nan if v is None else v for v in t[column]], rtol=1e-12)
    assert all(v is not None for v in t["test_mse"])  # measured at every kept epoch
    q = np.asarray(t["contraction"])
    np.testing.assert_allclose(np.asarray(t["norm_A"]) * 0.1 / np.sqrt(20), q, rtol=1e-12)


def test_old_single_seed_files_stay_readable(tmp_path, data_dir):
    """A file from before seeds were listed (no ``seed`` key, ``config.seed``) loads with its seed."""
    record = figure1.run_one(tiny(widths=(20,)), "mnist", 20, data_dir=data_dir, progress=False)
    record.pop("seed")
    config = record["config"]
    config.pop("seeds"), config.pop("record_every")
    config["seed"] = 7
    write_json(tmp_path / "figure1-old-mnist-m20.json", record)
    [loaded] = figure1.load_results(tmp_path)
    assert loaded["seed"] == 7 and loaded["path"] == "figure1-old-mnist-m20.json"


def test_cli_seeds_and_interval_errors(tmp_path, data_dir, capsys):
    common = ["--datasets", "mnist", "--widths", "16", "--epochs", "2", "--n-train-per-class", "2",
              "--n-test-per-class", "2", "--tag", "cli", "--out", str(tmp_path), "--data-dir", str(data_dir),
              "--device", "cpu"]
    assert figure1.main([*common, "--seeds", "1", "2"]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["figure1-cli-mnist-m16-s1.json",
                                                               "figure1-cli-mnist-m16-s2.json"]
    capsys.readouterr()
    assert figure1.main([*common, "--seeds", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --seeds: expected a non-negative integer" in err
    assert figure1.main([*common, "--record-every", "3"]) == 2  # the fast profile measures Gram every 10
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "must be a multiple of record_every" in err


def test_two_runners_share_one_folder(tmp_path, data_dir):
    """Two ``python -m implicit figure1`` processes on one folder: both succeed, every run is computed once."""
    args = [sys.executable, "-m", "implicit", "figure1", "--datasets", "mnist", "--widths", "16", "20", "24", "28",
            "--epochs", "15", "--n-train-per-class", "3", "--n-test-per-class", "2", "--tag", "conc", "--device",
            "cpu", "--data-dir", str(data_dir), "--out", "f"]
    procs = [subprocess.Popen(args, cwd=tmp_path, env={**os.environ, "CI": "1"}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    computed = [line.split(":")[0] for out, _ in outs for line in out.splitlines() if ": train mse" in line]
    assert sorted(computed) == sorted(f"figure1-conc-mnist-m{m}-s0.json" for m in (16, 20, 24, 28))
    assert len(figure1.load_results(tmp_path / "f")) == 4
