r"""One prepared GPU run: CPU–GPU agreement, every benchmark suite, then Figure 1 at the paper's scale, in a budget.

``python -m benchmarks.gpu_run --out gpu-run`` (on any CUDA machine, e.g. a Colab GPU runtime after
``pip install "implicit-convergence[bench] @ git+<repository>"``) writes into one folder:

* ``agreement-cuda.json``: the seeded float64 forward, gradients and Gram blocks against the CPU, and a float32 run
  (:mod:`benchmarks.agreement`); the run stops here if they disagree;
* ``benchmarks/<suite>-cuda.json``: ``python -m benchmarks all --device cuda``;
* ``figure1/figure1-full-<data set>-m<width>-s<seed>.json``: the paper's experiment, :math:`n = 1000` (500 images per
  class; CIFAR-10 at the prepared subset's size, 350 training and 85 test images per class, recorded in each file),
  widths 500–4000, 1000 epochs, seed 0 for every data set first, then further seeds for the widths that still fit;
* ``run.json``: what ran, what was skipped for lack of time, with provenance (device, torch and CUDA versions, date,
  git commit).

Each Figure 1 run is started only if its predicted time fits the remaining budget: the first run's time per epoch,
scaled by :math:`(m/m_0)^2` (the cost of the :math:`(n\times m)(m\times m)` products) — an over-estimate at the small
widths, where a GPU is launch-bound. ``--tiny`` rehearses the whole script on the CPU in seconds (tiny sizes).
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch

from implicit.records import write_json
from implicit.runtime import provenance
from implicit.studies import figure1

from . import agreement
from .__main__ import main as benchmarks_main
from .common import Context, configure

#: Figure 1 at the paper's scale, for the data sets with a prepared subset.
DATASETS = ("mnist", "fashionmnist", "cifar10")
#: The prepared CIFAR-10 subset has 396/366 training and 103/89 test images per class.
PER_CLASS = {"cifar10": (350, 85)}


def plan(cfg: figure1.Config, seeds: tuple[int, ...]) -> list[tuple[str, int, int]]:
    """(data set, width, seed) in the order they run: seed 0 everywhere first, then the next seeds, smaller widths
    first."""
    return [(ds, m, s) for s in seeds for m in cfg.widths for ds in cfg.datasets]


def config_for(cfg: figure1.Config, dataset: str, width: int, seed: int) -> figure1.Config:
    """The one-run sweep of (data set, width, seed), at the data set's size."""
    n_train, n_test = PER_CLASS.get(dataset, (cfg.n_train_per_class, cfg.n_test_per_class))
    return dataclasses.replace(cfg, datasets=(dataset,), widths=(width,), seeds=(seed,),
                               n_train_per_class=min(n_train, cfg.n_train_per_class),
                               n_test_per_class=min(n_test, cfg.n_test_per_class))


def figure1_runs(cfg: figure1.Config, seeds: tuple[int, ...], out: Path, device: torch.device, budget_s: float,
                 data_dir: str | None) -> dict:
    """Run the plan while the predicted time of the next run fits the budget; return what ran and what did not."""
    start, ran, skipped = time.perf_counter(), [], []
    per_epoch: tuple[int, float] | None = None  # (width, seconds per epoch) of the first run
    for dataset, width, seed in plan(cfg, seeds):
        left = budget_s - (time.perf_counter() - start)
        predicted = None if per_epoch is None else per_epoch[1] * (width / per_epoch[0]) ** 2 * cfg.epochs
        if predicted is not None and predicted > left:
            skipped.append({"dataset": dataset, "width": width, "seed": seed, "predicted_s": predicted})
            continue
        t0 = time.perf_counter()
        figure1.run_figure1(config_for(cfg, dataset, width, seed), out, device=device, data_dir=data_dir,
                            progress=False)
        took = time.perf_counter() - t0
        per_epoch = per_epoch or (width, took / cfg.epochs)
        ran.append({"dataset": dataset, "width": width, "seed": seed, "wall_s": took, "predicted_s": predicted})
        print(f"figure1 {dataset} m={width} seed={seed}: {took:.1f} s", flush=True)
    return {"ran": ran, "skipped": skipped, "wall_s": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_run", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu-run", help="output folder (default gpu-run)")
    parser.add_argument("--budget-s", type=float, default=390.0, help="seconds for the Figure 1 runs (default 390)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1, later seeds only where time allows")
    parser.add_argument("--tiny", action="store_true", help="rehearse on the CPU with tiny sizes")
    parser.add_argument("--data-dir", default=None, help="offline image subsets (default: IMPLICIT_DATA or cache)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    device = configure("cpu" if args.tiny else "cuda", 1 if args.tiny else None)
    began = time.perf_counter()
    record: dict = {"provenance": provenance(device), "tiny": args.tiny, "cuda": torch.version.cuda}
    ctx = Context(device=device, quick=args.tiny, out_dir=out, data_dir=args.data_dir)
    agree = agreement.run(ctx)
    write_json(out / f"agreement-{device.type}.json", agree, indent=1)
    record["agreement_holds"] = agree["all_hold"]
    if not agree["all_hold"]:
        write_json(out / "run.json", record, indent=1)
        print("CPU and device disagree: stopped before the long runs (see agreement JSON)")
        return 1
    suite_args = ["all", "--device", device.type, "--out-dir", str(out / "benchmarks")]
    benchmarks_main(suite_args + (["--quick", "--threads", "1"] if args.tiny else []))
    cfg = figure1.PROFILES["full"]
    if args.tiny:
        cfg = dataclasses.replace(cfg, widths=(8, 16), epochs=3, n_train_per_class=4, n_test_per_class=4,
                                  gram_every=3, record_every=1)
    cfg = dataclasses.replace(cfg, datasets=DATASETS)
    record["figure1"] = figure1_runs(cfg, tuple(range(args.seeds)), out / "figure1", device, args.budget_s,
                                     args.data_dir)
    record["wall_s"] = time.perf_counter() - began
    write_json(out / "run.json", record, indent=1)
    print(f"gpu run: {len(record['figure1']['ran'])} Figure 1 runs, {len(record['figure1']['skipped'])} skipped, "
          f"{record['wall_s']:.0f} s in all; results in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
