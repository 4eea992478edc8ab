"""The Figure 1 runner: one JSON per (data set, width) with provenance, restartable, and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

from implicit import experiments, rawformats

from test_images import fake_mnist


@pytest.fixture()
def data_dir(tmp_path):
    fake_mnist(tmp_path / "root", "MNIST/raw", per_split=60)
    return rawformats.convert_raw("mnist", tmp_path / "root", tmp_path / "data").parent


def tiny(**kw):
    base = dict(profile="test", datasets=("mnist",), widths=(20, 40), n_train_per_class=3, n_test_per_class=2,
                epochs=4, gram_every=2)
    base.update(kw)
    return experiments.Config(**base)


def test_run_figure1_writes_restartable_json(tmp_path, data_dir):
    cfg = tiny()
    log = []
    paths = experiments.run_figure1(cfg, tmp_path / "out", data_dir=data_dir, progress=False, log=log.append)
    assert [p.name for p in paths] == ["figure1-test-mnist-m20.json", "figure1-test-mnist-m40.json"]
    record = json.loads(paths[0].read_text())
    assert record["config"]["epochs"] == 4 and record["width"] == 20 and record["data"]["n_train"] == 6
    assert record["lr"] == pytest.approx(1 / record["lambda_max_H0"])
    for key in ("device", "torch", "implicit", "date"):
        assert key in record["provenance"]
    cols = record["history"]["columns"]
    assert len(cols["train_mse"]) == 5 and len(cols["test_mse"]) == 5
    np.testing.assert_allclose(cols["train_mse"], 2 * np.asarray(cols["loss"]) / 6)
    assert cols["lambda_min_H"][1] is None and cols["lambda_min_H"][2] is not None
    # a second call keeps the finished files
    experiments.run_figure1(cfg, tmp_path / "out", data_dir=data_dir, progress=False, log=log.append)
    assert sum("already done" in line for line in log) == 2
    records = experiments.load_results(paths)
    assert records[1]["history"]["train_mse"][-1] < records[1]["history"]["train_mse"][0]


def test_changed_settings_rerun(tmp_path, data_dir):
    log = []
    experiments.run_figure1(tiny(widths=(20,)), tmp_path, data_dir=data_dir, progress=False, log=log.append)
    experiments.run_figure1(tiny(widths=(20,), epochs=2), tmp_path, data_dir=data_dir, progress=False,
                            log=log.append)
    assert not any("already done" in line for line in log)
    record = json.loads((tmp_path / "figure1-test-mnist-m20.json").read_text())
    assert record["config"]["epochs"] == 2


def test_cli(tmp_path, data_dir):
    experiments.main(["--profile", "fast", "--datasets", "mnist", "--widths", "16", "--epochs", "2",
                      "--n-train-per-class", "2", "--n-test-per-class", "2", "--tag", "cli", "--out",
                      str(tmp_path), "--data-dir", str(data_dir)])
    record = json.loads((tmp_path / "figure1-cli-mnist-m16.json").read_text())
    assert record["config"]["profile"] == "cli" and record["config"]["widths"] == [16]


def test_profiles_match_the_paper():
    full = experiments.PROFILES["full"]
    assert full.widths == (500, 1000, 2000, 4000) and full.epochs == 1000
    assert full.n_train_per_class == full.n_test_per_class == 500
    assert set(full.datasets) == {"mnist", "fashionmnist", "cifar10", "svhn"} and full.gamma == 0.1
