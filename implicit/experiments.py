r"""The paper's experiment (Section 4, Figure 1), with profiles ``fast`` (CPU, minutes) and ``full`` (the paper's scale).

For each data set and width: draw the binary task (:func:`implicit.data.load_binary`), initialise the net
(Assumption 1, :math:`\gamma = 0.1`), and run full-batch gradient descent on :math:`\frac12\|\hat y - y\|^2`, recording
per epoch the training and test mean squared errors, :math:`\|(\gamma/\sqrt m)A(k)\|_2` (the paper's third column) and,
every ``gram_every`` epochs, :math:`\lambda_{\min}(H)` and :math:`\lambda_{\min}(G)` (which the paper did not track).

The paper gives neither the step size nor :math:`\gamma` nor the label encoding. We use :math:`\gamma = 0.1` (it
reproduces the plotted :math:`\tilde\gamma\|A\|\approx 0.198`), targets :math:`\pm1`, and the step size
:math:`\alpha = \text{lr\_scale}/\lambda_{\max}(H(0))`, the scale-free choice that is stable for
:math:`\text{lr\_scale} < 2`. One JSON file per (data set, width) holds the history and its provenance; an existing
file with the same settings is reused, so an interrupted sweep restarts where it stopped.

Run from the shell: ``python -m implicit figure1 --profile fast``.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from .data import BINARY_DATASETS, load_binary
from .gram import gram_blocks
from .model import ImplicitNet
from .runtime import provenance
from .train import History, gradient_descent

__all__ = ["Config", "PROFILES", "run_one", "run_figure1", "load_results", "main"]


@dataclass(frozen=True)
class Config:
    """Settings of one sweep. ``n_train_per_class``/``n_test_per_class`` images of each class are drawn."""

    profile: str
    datasets: tuple[str, ...]
    widths: tuple[int, ...]
    n_train_per_class: int
    n_test_per_class: int
    epochs: int
    gram_every: int
    gamma: float = 0.1
    lr_scale: float = 1.0
    seed: int = 0
    encoding: str = "pm1"
    dtype: str = "float64"


PROFILES = {
    "fast": Config("fast", ("mnist", "fashionmnist", "cifar10"), (100, 200, 400), 50, 50, 100, 10),
    "full": Config("full", tuple(BINARY_DATASETS), (500, 1000, 2000, 4000), 500, 500, 1000, 50),
}


def result_path(out_dir: Path, cfg: Config, dataset: str, width: int) -> Path:
    return Path(out_dir) / f"figure1-{cfg.profile}-{dataset}-m{width}.json"


def run_one(cfg: Config, dataset: str, width: int, *, device: str | torch.device = "cpu",
            data_dir: str | Path | None = None, progress: bool | None = None) -> dict:
    """Train one width on one data set; return the result record (settings, provenance, history columns)."""
    device = torch.device(device)
    dtype = getattr(torch, cfg.dtype)
    data = load_binary(dataset, cfg.n_train_per_class, cfg.n_test_per_class, seed=cfg.seed, data_dir=data_dir,
                       encoding=cfg.encoding, dtype=dtype, device=str(device))
    net = ImplicitNet(data.X_train.shape[1], width, cfg.gamma, seed=cfg.seed, dtype=dtype, device=device)
    lam_max = float(torch.linalg.eigvalsh(gram_blocks(net, data.X_train).total.double())[-1])
    lr = cfg.lr_scale / lam_max
    test_start: list[torch.Tensor | None] = [None]

    def observe(model: ImplicitNet) -> dict[str, float]:
        eq = model.equilibrium(data.X_test, z0=test_start[0])
        test_start[0] = eq.z
        pred = eq.z @ model.u.detach() + eq.phi @ model.v.detach()
        return {"test_mse": float(((pred - data.y_test) ** 2).mean())}

    start = time.perf_counter()
    history = gradient_descent(net, data.X_train, data.y_train, lr, cfg.epochs, gram_every=cfg.gram_every,
                               progress=progress, observe=observe)
    wall = time.perf_counter() - start
    history.columns["train_mse"] = [2 * loss / data.X_train.shape[0] for loss in history.columns["loss"]]
    return {"config": asdict(cfg), "dataset": dataset, "width": width, "lr": lr, "lambda_max_H0": lam_max,
            "data": data.info, "provenance": provenance(device), "wall_time_s": wall,
            "history": json.loads(history.to_json())}


def run_figure1(cfg: Config, out_dir: str | Path, *, device: str | torch.device = "cpu",
                data_dir: str | Path | None = None, datasets: tuple[str, ...] | None = None,
                progress: bool | None = None, log=print) -> list[Path]:
    """Run every (data set, width) of ``cfg`` and write one JSON each into ``out_dir``. A file that already holds a
    run with the same settings is kept (restartable sweeps)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for dataset in datasets or cfg.datasets:
        for width in cfg.widths:
            path = result_path(out_dir, cfg, dataset, width)
            if path.exists() and json.loads(path.read_text()).get("config") == json.loads(json.dumps(asdict(cfg))):
                log(f"{path.name}: already done, kept")
            else:
                record = run_one(cfg, dataset, width, device=device, data_dir=data_dir, progress=progress)
                path.write_text(json.dumps(record) + "\n")
                h = record["history"]["columns"]
                log(f"{path.name}: train mse {h['train_mse'][0]:.3g} -> {h['train_mse'][-1]:.3g}, "
                    f"test mse {h['test_mse'][-1]:.3g}, {record['wall_time_s']:.1f}s")
            paths.append(path)
    return paths


def load_results(paths) -> list[dict]:
    """Read result files written by :func:`run_figure1`; each record's ``history`` becomes a
    :class:`~implicit.train.History`."""
    records = []
    for path in sorted(Path(p) for p in paths):
        record = json.loads(path.read_text())
        record["history"] = History.from_json(json.dumps(record["history"]))
        records.append(record)
    return records


def main(argv: list[str] | None = None) -> None:
    """``python -m implicit figure1 [--profile fast|full] [--out DIR] ...``."""
    parser = argparse.ArgumentParser(prog="python -m implicit figure1", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="fast")
    parser.add_argument("--out", default="figure1-results", help="output folder for the JSON files")
    parser.add_argument("--datasets", nargs="+", choices=sorted(BINARY_DATASETS), help="subset of data sets")
    parser.add_argument("--widths", nargs="+", type=int, help="override the profile's widths")
    parser.add_argument("--epochs", type=int, help="override the profile's epochs")
    parser.add_argument("--n-train-per-class", type=int, help="override the profile's training images per class")
    parser.add_argument("--n-test-per-class", type=int, help="override the profile's test images per class")
    parser.add_argument("--lr-scale", type=float, help="step size as a multiple of 1/lambda_max(H(0))")
    parser.add_argument("--tag", help="profile name written into the files (default: the profile)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--data-dir", help="offline data folder (default: $IMPLICIT_DATA)")
    args = parser.parse_args(argv)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cfg = PROFILES[args.profile]
    overrides = {"widths": tuple(args.widths) if args.widths else None, "epochs": args.epochs,
                 "n_train_per_class": args.n_train_per_class, "n_test_per_class": args.n_test_per_class,
                 "lr_scale": args.lr_scale, "profile": args.tag}
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    run_figure1(cfg, args.out, device=args.device, data_dir=args.data_dir,
                datasets=tuple(args.datasets) if args.datasets else None)
