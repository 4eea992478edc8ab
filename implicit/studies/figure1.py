r"""The paper's experiment (Section 4, Figure 1): profiles ``fast`` (CPU, minutes) and ``full`` (the paper's scale).

For each data set and width: draw the binary task (:func:`implicit.data.load_binary`), initialise the net
(Assumption 1, :math:`\gamma = 0.1`), and run full-batch gradient descent on :math:`\frac12\|\hat y - y\|^2`, recording
per epoch the training and test mean squared errors, :math:`\|(\gamma/\sqrt m)A(k)\|_2` (the paper's third column) and,
every ``gram_every`` epochs, :math:`\lambda_{\min}(H)` and :math:`\lambda_{\min}(G)` (which the paper did not track).

The paper gives neither the step size nor :math:`\gamma` nor the label encoding. We use :math:`\gamma = 0.1` (it
reproduces the plotted :math:`\tilde\gamma\|A\|\approx 0.198`), targets :math:`\pm1`, and the step size
:math:`\alpha = \text{lr\_scale}/\lambda_{\max}(H(0))`, the scale-free choice that is stable for
:math:`\text{lr\_scale} < 2`.

One JSON file per (data set, width) holds the history and its provenance, written atomically. An existing file with
the same settings is kept, so an interrupted sweep restarts where it stopped; a damaged or incomplete one is reported
and recomputed. Each run is computed under its own lock, so several runners can share one output folder.
Stored results of the book: ``load_results(results_dir("figure1"))``.

Run from the shell: ``python -m implicit figure1 --profile fast``.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..data import BINARY_DATASETS, load_binary
from ..gram import gram_blocks
from ..model import ImplicitNet
from ..records import dumps, read_json, write_json
from ..runtime import provenance
from ..train import History, gradient_descent
from .runner import (
    CommandError,
    Override,
    apply_overrides,
    command,
    device_from,
    lock_path,
    out_folder,
    parser,
    positive_float,
    read_record,
    run_claimed,
    tag,
)

__all__ = ["Config", "PROFILES", "result_path", "run_one", "run_figure1", "load_results", "main"]

#: Keys every finished result file holds.
REQUIRED = ("config", "dataset", "width", "history")


@dataclass(frozen=True)
class Config:
    """Settings of one sweep. ``n_train_per_class``/``n_test_per_class`` images of each class are drawn.

    Examples:
        >>> import dataclasses
        >>> from implicit.studies.figure1 import PROFILES
        >>> cfg = PROFILES["fast"]
        >>> cfg.datasets, cfg.widths, cfg.epochs, cfg.gamma
        (('mnist', 'fashionmnist', 'cifar10'), (100, 200, 400), 100, 0.1)
        >>> dataclasses.replace(cfg, widths=(50,), epochs=5).widths  # a smaller sweep
        (50,)
    """

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


def result_path(out_dir: str | Path, cfg: Config, dataset: str, width: int) -> Path:
    """``<out_dir>/figure1-<profile>-<dataset>-m<width>.json``.

    Examples:
        >>> from implicit.studies.figure1 import PROFILES, result_path
        >>> result_path("results/figure1", PROFILES["fast"], "mnist", 100).as_posix()
        'results/figure1/figure1-fast-mnist-m100.json'
    """
    return Path(out_dir) / f"figure1-{cfg.profile}-{dataset}-m{width}.json"


def run_one(cfg: Config, dataset: str, width: int, *, device: str | torch.device = "cpu",
            data_dir: str | Path | None = None, progress: bool | None = None) -> dict:
    """Train one width on one data set; return the result record (settings, provenance, history columns).

    Examples:
        >>> import dataclasses, pathlib, tempfile
        >>> import numpy as np
        >>> from implicit.studies.figure1 import PROFILES, run_one
        >>> data = pathlib.Path(tempfile.mkdtemp())  # a stand-in for the MNIST subset: 16 random images, 0s and 1s
        >>> rng = np.random.default_rng(0)
        >>> np.savez(data / "mnist-01.npz", images=rng.integers(1, 256, (16, 28, 28), dtype=np.uint8),
        ...          labels=np.tile([0, 1], 8), split=np.repeat([0, 1], 8))
        >>> cfg = dataclasses.replace(PROFILES["fast"], n_train_per_class=4, n_test_per_class=4, epochs=5)
        >>> record = run_one(cfg, "mnist", 20, data_dir=data, progress=False)
        >>> mse = record["history"]["columns"]["train_mse"]
        >>> record["data"]["n_train"], len(mse), mse[-1] < mse[0]
        (8, 6, True)
    """
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


def _is_done(path: Path, cfg: Config, log: Callable[[str], None]) -> bool:
    """Whether ``path`` holds a complete run with the settings ``cfg`` (a damaged file is reported and is not)."""
    record = read_record(path, required=REQUIRED, log=log)
    if record is None:
        return False
    if not isinstance(record["history"], dict) or "columns" not in record["history"]:
        log(f"{path} is incomplete: its history has no columns; recomputing it")
        return False
    return record["config"] == json.loads(dumps(asdict(cfg)))


def run_figure1(cfg: Config, out_dir: str | Path, *, device: str | torch.device = "cpu",
                data_dir: str | Path | None = None, datasets: tuple[str, ...] | None = None,
                progress: bool | None = None, log: Callable[[str], None] = print) -> list[Path]:
    """Run every (data set, width) of ``cfg`` (or of ``datasets``) and write one JSON each into ``out_dir``; return
    their paths. A file that already holds a run with the same settings is kept (restartable sweeps); each run is
    claimed with a lock, so runners sharing ``out_dir`` split the work
    (:func:`~implicit.studies.runner.run_claimed`).

    Examples:
        >>> import dataclasses, pathlib, tempfile
        >>> import numpy as np
        >>> from implicit.studies.figure1 import PROFILES, run_figure1
        >>> data = pathlib.Path(tempfile.mkdtemp())  # a stand-in for the MNIST subset: 16 random images, 0s and 1s
        >>> rng = np.random.default_rng(0)
        >>> np.savez(data / "mnist-01.npz", images=rng.integers(1, 256, (16, 28, 28), dtype=np.uint8),
        ...          labels=np.tile([0, 1], 8), split=np.repeat([0, 1], 8))
        >>> cfg = dataclasses.replace(PROFILES["fast"], widths=(20,), n_train_per_class=4, n_test_per_class=4, epochs=5)
        >>> paths = run_figure1(cfg, data / "out", data_dir=data, datasets=("mnist",), progress=False)
        figure1-fast-mnist-m20.json: train mse ... -> ..., test mse ..., ...s
        >>> run_figure1(cfg, data / "out", data_dir=data, datasets=("mnist",), progress=False) == paths  # resumed
        figure1-fast-mnist-m20.json: already done, kept
        True
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = [(dataset, width) for dataset in datasets or cfg.datasets for width in cfg.widths]

    def work(run: tuple[str, int]) -> None:
        path = result_path(out_dir, cfg, *run)
        if _is_done(path, cfg, log):
            log(f"{path.name}: already done, kept")
            return
        record = run_one(cfg, *run, device=device, data_dir=data_dir, progress=progress)
        write_json(path, record)
        h = record["history"]["columns"]
        log(f"{path.name}: train mse {h['train_mse'][0]:.3g} -> {h['train_mse'][-1]:.3g}, "
            f"test mse {h['test_mse'][-1]:.3g}, {record['wall_time_s']:.1f}s")

    run_claimed(runs, lambda run: lock_path(out_dir, result_path(out_dir, cfg, *run).name), work,
                name_of=lambda run: result_path(out_dir, cfg, *run).name, log=log)
    return [result_path(out_dir, cfg, *run) for run in runs]


def load_results(source: str | Path | Iterable[str | Path]) -> list[dict]:
    """Read result files written by :func:`run_figure1`: a folder (every ``figure1-*.json`` in it) or an iterable of
    paths, sorted by path. Each record's ``history`` becomes a :class:`~implicit.train.History`. A damaged or
    incomplete file raises :class:`~implicit.records.RecordError` naming it.

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.figure1 import load_results
        >>> records = load_results(results_dir("figure1"))  # the book's stored runs
        >>> len(records), sorted({r["dataset"] for r in records})
        (12, ['cifar10', 'fashionmnist', 'mnist'])
        >>> r = records[0]; h = r["history"]
        >>> r["dataset"], r["width"], len(h), bool(h.final("train_mse") < h["train_mse"][0] / 10)
        ('mnist', 1000, 101, True)
    """
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        paths = sorted(Path(source).glob("figure1-*.json"))
    else:
        paths = sorted(Path(p) for p in ([source] if isinstance(source, (str, Path)) else source))
    records = []
    for path in paths:
        record = read_json(path, required=REQUIRED)
        record["history"] = History.from_json(json.dumps(record["history"]))
        records.append(record)
    return records


# -- command line ----------------------------------------------------------------------------------------------------

OVERRIDES = (
    Override("widths", "override the profile's widths", many=True),
    Override("epochs", "override the profile's epochs"),
    Override("n_train_per_class", "override the profile's training images per class"),
    Override("n_test_per_class", "override the profile's test images per class"),
    Override("lr_scale", "step size as a multiple of 1/lambda_max(H(0))", kind=positive_float),
    Override("profile", "profile name written into the files (default: the profile)", kind=tag, flag="tag"),
)


def _check_data(cfg: Config, datasets: tuple[str, ...], data_dir: str | None) -> None:
    """Load each data set once before any training, so missing files or too few images are one error line."""
    for dataset in datasets:
        try:
            load_binary(dataset, cfg.n_train_per_class, cfg.n_test_per_class, seed=cfg.seed, data_dir=data_dir)
        except FileNotFoundError as err:
            raise CommandError(str(err), status=1) from None
        except ValueError as err:
            raise CommandError(f"{dataset}: {err}") from None


@command
def main(argv: list[str]) -> None:
    """``python -m implicit figure1 [--profile fast|full] [--out DIR] ...``: run the sweep, one file per run.

    Returns the exit status: 0, or 2 for an invalid argument and 1 for missing data (one ``error: ...`` line on
    stderr).

    Examples:
        >>> import pathlib, tempfile
        >>> import numpy as np
        >>> from implicit.studies.figure1 import main
        >>> data = pathlib.Path(tempfile.mkdtemp())  # a stand-in for the MNIST subset: 16 random images, 0s and 1s
        >>> rng = np.random.default_rng(0)
        >>> np.savez(data / "mnist-01.npz", images=rng.integers(1, 256, (16, 28, 28), dtype=np.uint8),
        ...          labels=np.tile([0, 1], 8), split=np.repeat([0, 1], 8))
        >>> main(["--datasets", "mnist", "--widths", "20", "--epochs", "3", "--n-train-per-class", "4",
        ...       "--n-test-per-class", "4", "--data-dir", str(data), "--out", str(data / "out"), "--device", "cpu"])
        figure1-fast-mnist-m20.json: train mse ... -> ..., test mse ..., ...s
        0
    """
    p = parser("python -m implicit figure1", __doc__.splitlines()[0], PROFILES, OVERRIDES,
               default_out="results/figure1")
    p.add_argument("--datasets", nargs="+", choices=sorted(BINARY_DATASETS), help="subset of data sets")
    args = p.parse_args(argv)
    cfg = apply_overrides(PROFILES[args.profile], args, OVERRIDES)
    datasets = tuple(args.datasets) if args.datasets else cfg.datasets
    device = device_from(args)
    _check_data(cfg, datasets, args.data_dir)
    run_figure1(cfg, out_folder(args.out), device=device, data_dir=args.data_dir, datasets=datasets)
