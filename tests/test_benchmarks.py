"""The benchmark suites: a tiny smoke run of the entry point, the JSON schema the book's appendix reads, and the fused
gradient the benchmarks time, checked against autograd through the unrolled iteration (float64, 1e-10).

torchdeq is a benchmark-only dependency (not installed in CI): its rows must then say "skipped", never fail.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

import implicit
from implicit.gram import reference_depth
from implicit.measure import peak_memory

benchmarks = pytest.importorskip("benchmarks.__main__", reason="run from the repository root")
from benchmarks import gradient  # noqa: E402
from benchmarks.common import has_torchdeq  # noqa: E402

SUITES = ["roofline", "forward", "warmstart", "step", "gram", "experiment", "agreement"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    paths = {}
    # The entry point fixes threads and the default dtype for its process: restore both for the other tests.
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    try:
        for suite in SUITES:
            (path,) = benchmarks.main([suite, "--quick", "--repeats", "2", "--threads", "1", "--out-dir", str(out)])
            paths[suite] = path
    finally:
        torch.set_default_dtype(dtype)
        torch.set_num_threads(threads)
    return {suite: json.loads(path.read_text()) for suite, path in paths.items()}


def _timing_ok(record: dict) -> None:
    assert record["min_s"] <= record["median_s"] <= record["max_s"]
    assert record["repeats"] == len(record["times_s"]) == 2


@pytest.mark.parametrize("suite", SUITES)
def test_provenance(results, suite):
    r = results[suite]
    assert r["suite"] == suite and r["wall_s"] > 0
    p = r["provenance"]
    for key in ("date", "device", "device_type", "threads", "torch", "dtype", "git_commit", "tf32", "torchdeq"):
        assert key in p, key
    assert p["threads"] == 1 and p["tf32"] is False


def test_forward_schema(results):
    rows = results["forward"]["rows"]
    expected = {(d, g) for d in ("float64", "float32") for g in (0.1, 0.3, 0.45)}
    assert {(r["dtype"], r["gamma"]) for r in rows} == expected
    for r in rows:
        _timing_ok(r["picard"])
        assert r["picard"]["residual"] <= r["tol"] and r["ideal"]["iterations"] == r["picard"]["iterations"]
        assert r["picard"]["over_ideal"] > 0
        for peer in ("fixed_point_iter", "anderson", "broyden"):
            if has_torchdeq():
                assert r[peer]["speedup_of_picard"] > 0 and r[peer]["iterations"] >= 1
                if peer == "fixed_point_iter":  # the same iteration and the same stop rule: the same count
                    assert r[peer]["iterations"] == r["picard"]["iterations"]
            else:
                assert "skipped" in r[peer]


def test_warmstart_and_step_schema(results):
    s = results["warmstart"]["summary"]
    assert s["forward_cold_mean"] >= s["forward_warm_mean"] > 0 and s["forward_ratio"] >= 1
    steps = results["warmstart"]["steps"]
    assert all(len(v) == steps + 1 for v in results["warmstart"]["per_step"].values())
    for r in results["step"]["rows"]:
        assert 0 < r["fraction_of_roofline"] and r["gflops_median"] > 0 and len(r["repetitions"]) == 2
    assert results["roofline"]["rows"] and all(r["gflops"] > 0 for r in results["roofline"]["rows"])


def test_gram_schema_matches_the_book(results):
    (row,) = results["gram"]["rows"]
    _timing_ok(row["closed_form"])
    for peer in ("vmap_jacrev", "vjp_rows"):
        assert row[peer]["max_rel_error_vs_closed_form"] <= 1e-9 and row[peer]["speedup_of_closed_form"] > 0


def test_fused_gradient_matches_unrolled_autograd_to_1e10():
    """Deliverable 1: the fused closed-form gradient (one forward, one readout-adjoint fixed point, one product per
    block) equals back-propagation through the unrolled iteration, in float64."""
    n, m, d = 6, 40, 5
    net = implicit.ImplicitNet(d, m, 0.3, seed=2)
    X = implicit.data.sphere(n, d, seed=2)
    y = torch.sign(torch.randn(n, generator=torch.Generator().manual_seed(3), dtype=torch.float64))
    depth = reference_depth(net.contraction_factor())
    fns = gradient.methods(net, X, y, depth, tol=1e-12)
    fused, unrolled, function = fns["fused"](), fns["unrolled"](), fns["function"]()
    for k in gradient.BLOCKS:
        ref = unrolled[k]
        assert float(torch.linalg.norm(fused[k] - ref) / torch.linalg.norm(ref)) <= 1e-10, k
        assert float(torch.linalg.norm(function[k] - ref) / torch.linalg.norm(ref)) <= 1e-10, k


def test_peak_memory_counts_temporaries_not_inputs():
    x = torch.ones(1000, dtype=torch.float64)  # exists before: not counted

    def fn():
        a = x * 2  # 8000 bytes
        b = a + 1  # 8000 bytes, both alive
        del a
        return b.sum()

    peak, how = peak_memory(fn)
    assert how == "profiler.memory_timeline"
    assert 16000 <= peak <= 16000 + 64, peak
    assert not math.isnan(peak)


def test_agreement_rehearsal(results):
    """On the CPU the agreement suite compares the CPU with itself: a rehearsal whose differences are zero."""
    r = results["agreement"]
    assert r["rehearsal"] is True and r["all_hold"] is True
    quantities = {row["quantity"] for row in r["rows"]}
    assert {"yhat", "grad_A", "grad_W", "grad_u", "grad_v", "H"} <= quantities
    assert all(row["rel_diff"] == 0.0 for row in r["rows"])


def _fake_subset(folder, name: str, rgb: bool = False) -> None:
    """A tiny prepared subset in the offline layout: 8 images per class and split."""
    import numpy as np

    rng = np.random.default_rng(0)
    shape = (32, 32, 3) if rgb else (28, 28)
    labels = np.tile(np.repeat(np.arange(2, dtype=np.uint8), 8), 2)
    split = np.repeat(np.arange(2, dtype=np.uint8), 16)
    images = rng.integers(0, 256, size=(32, *shape), dtype=np.uint8)
    np.savez(folder / f"{name}-01.npz", images=images, labels=labels, split=split)


def test_gpu_run_tiny_rehearsal(tmp_path):
    """The prepared GPU script runs end to end on the CPU at tiny sizes: agreement, every suite, Figure 1 runs."""
    from benchmarks import gpu_run

    data = tmp_path / "data"
    data.mkdir()
    for name in gpu_run.DATASETS:
        _fake_subset(data, name, rgb=name == "cifar10")
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    try:
        status = gpu_run.main(["--tiny", "--out", str(tmp_path / "out"), "--seeds", "1", "--data-dir", str(data)])
    finally:
        torch.set_default_dtype(dtype)
        torch.set_num_threads(threads)
    assert status == 0
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["tiny"] and run["agreement_holds"] and not run["figure1"]["skipped"]
    assert len(run["figure1"]["ran"]) == 2 * len(gpu_run.DATASETS)
    assert len(list((tmp_path / "out" / "figure1").glob("figure1-full-*-s0.json"))) == 2 * len(gpu_run.DATASETS)
    assert len(list((tmp_path / "out" / "benchmarks").glob("*-cpu.json"))) >= 7
