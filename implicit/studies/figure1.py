r"""The paper's experiment (Section 4, Figure 1): profiles ``fast`` (CPU, minutes), ``seeds`` (CPU, five seeds, about
an hour on one thread) and ``full`` (the paper's scale, a GPU run).

For each data set, width and seed: draw the binary task with that seed (:func:`implicit.data.load_binary`),
initialise the net with the same seed (Assumption 1, :math:`\gamma = 0.1`), and run full-batch gradient descent on
:math:`\frac12\|\hat y - y\|^2`, recording the training mean squared error every epoch, and every ``record_every``
epochs the test mean squared error and :math:`\|(\gamma/\sqrt m)A(k)\|_2` (the paper's third column); every
``gram_every`` epochs :math:`\lambda_{\min}(H)`, :math:`\lambda_{\max}(H)` and :math:`\lambda_{\min}(G)` (which the
paper did not track); and once per run :math:`\lambda_0` of the training set (:func:`implicit.kernels.lambda0`). The
stored history keeps every ``record_every``-th epoch. The metrics and verdicts computed from these records are in
:mod:`implicit.studies.verdicts`.

The paper gives neither the step size nor :math:`\gamma` nor the label encoding. We use :math:`\gamma = 0.1` (it
reproduces the plotted :math:`\tilde\gamma\|A\|\approx 0.198`), targets :math:`\pm1`, and the step size
:math:`\alpha = \text{lr\_scale}/\lambda_{\max}(H(0))`, the scale-free choice that is stable for
:math:`\text{lr\_scale} < 2`.

One JSON file per (data set, width, seed) holds the history and its provenance, written atomically. An existing file
with the same settings is kept (the lists of data sets, widths and seeds may grow without
recomputing finished runs), so an interrupted sweep restarts where it stopped; a damaged or incomplete one is reported
and recomputed. Each run is computed under its own lock, so several runners can share one output folder.
Stored results of the book: ``load_results(results_dir("figure1"))``.

Run from the shell: ``python -m implicit figure1 --profile fast`` (``--seeds 0 1 2`` overrides the seeds).
"""
from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..data import BINARY_DATASETS, PREPARED, load_binary
from ..gram import gram_blocks
from ..kernels import lambda0
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
    positive_int,
    read_record,
    run_claimed,
    seed_int,
    tag,
)

__all__ = ["Config", "PROFILES", "result_path", "run_one", "run_figure1", "load_results", "obtainable", "main",
           "replay", "sensitivity"]

#: Keys every finished result file holds.
REQUIRED = ("config", "dataset", "width", "history")
#: Fields of :class:`Config` that list the runs of a sweep rather than set how each run is done: a stored run whose
#: other settings match is kept when these lists change.
SWEEP_FIELDS = ("datasets", "widths", "seeds")


@dataclass(frozen=True)
class Config:
    """Settings of one sweep: every (data set, width, seed). ``n_train_per_class``/``n_test_per_class`` images of each
    class are drawn; a seed sets both the data draw and the initialisation. Test error and operator norm are measured,
    and the history stored, every ``record_every`` epochs; the Gram spectra every ``gram_every`` epochs (a multiple
    of ``record_every``).

    Examples:
        >>> import dataclasses
        >>> from implicit.studies.figure1 import PROFILES
        >>> cfg = PROFILES["fast"]
        >>> cfg.datasets, cfg.widths, cfg.epochs, cfg.gamma, cfg.seeds
        (('mnist', 'fashionmnist', 'cifar10'), (100, 200, 400), 100, 0.1, (0,))
        >>> seeds = PROFILES["seeds"]
        >>> len(seeds.seeds), 2 * seeds.n_train_per_class, seeds.widths
        (5, 200, (100, 200, 400))
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
    seeds: tuple[int, ...] = (0,)
    encoding: str = "pm1"
    dtype: str = "float64"
    record_every: int = 1

    def __post_init__(self) -> None:
        if self.gram_every % self.record_every:
            raise ValueError(f"gram_every ({self.gram_every}) must be a multiple of record_every "
                             f"({self.record_every}), so that every Gram measurement is kept")
        if not self.seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be a non-empty tuple of non-negative ints, got {self.seeds!r}")


PROFILES = {
    "fast": Config("fast", ("mnist", "fashionmnist", "cifar10"), (100, 200, 400), 50, 50, 100, 10),
    "seeds": Config("seeds", ("mnist", "fashionmnist", "cifar10"), (100, 200, 400), 100, 80, 4000, 200,
                    seeds=(0, 1, 2, 3, 4), record_every=40),
    "full": Config("full", tuple(BINARY_DATASETS), (500, 1000, 2000, 4000), 500, 500, 1000, 50,
                   seeds=(0, 1, 2, 3, 4), record_every=5),
}


def result_path(out_dir: str | Path, cfg: Config, dataset: str, width: int, seed: int | None = None) -> Path:
    """``<out_dir>/figure1-<profile>-<dataset>-m<width>-s<seed>.json`` (``seed``: default the profile's first).

    Examples:
        >>> from implicit.studies.figure1 import PROFILES, result_path
        >>> result_path("results/figure1", PROFILES["seeds"], "mnist", 100, 3).as_posix()
        'results/figure1/figure1-seeds-mnist-m100-s3.json'
    """
    seed = cfg.seeds[0] if seed is None else seed
    return Path(out_dir) / f"figure1-{cfg.profile}-{dataset}-m{width}-s{seed}.json"


def _thin(history: History, every: int) -> None:
    """Keep the records of the epochs that are multiples of ``every``, and the last one."""
    steps = history.columns["step"]
    keep = [i for i, k in enumerate(steps) if int(k) % every == 0 or i == len(steps) - 1]
    history.columns = {name: [column[i] for i in keep] for name, column in history.columns.items()}


def run_one(cfg: Config, dataset: str, width: int, seed: int | None = None, *, device: str | torch.device = "cpu",
            data_dir: str | Path | None = None, progress: bool | None = None) -> dict:
    """Train one width on one data set with one seed (default: the profile's first); return the result record
    (settings, seed, step size, :math:`\\lambda_0`, provenance, history columns).

    Examples:
        >>> import dataclasses, pathlib, tempfile
        >>> import numpy as np
        >>> from implicit.studies.figure1 import PROFILES, run_one
        >>> data = pathlib.Path(tempfile.mkdtemp())  # a stand-in for the MNIST subset: 16 random images, 0s and 1s
        >>> rng = np.random.default_rng(0)
        >>> np.savez(data / "mnist-01.npz", images=rng.integers(1, 256, (16, 28, 28), dtype=np.uint8),
        ...          labels=np.tile([0, 1], 8), split=np.repeat([0, 1], 8))
        >>> cfg = dataclasses.replace(PROFILES["fast"], n_train_per_class=4, n_test_per_class=4, epochs=6,
        ...                           record_every=2, gram_every=2)
        >>> record = run_one(cfg, "mnist", 20, seed=1, data_dir=data, progress=False)
        >>> h = record["history"]["columns"]
        >>> record["seed"], record["data"]["n_train"], h["step"], h["train_mse"][-1] < h["train_mse"][0]
        (1, 8, [0.0, 2.0, 4.0, 6.0], True)
        >>> record["lambda0"] > 0 and 0.15 < h["contraction"][0] < 0.25 and h["test_mse"][-1] > 0
        True
    """
    seed = cfg.seeds[0] if seed is None else seed
    device = torch.device(device)
    dtype = getattr(torch, cfg.dtype)
    data = load_binary(dataset, cfg.n_train_per_class, cfg.n_test_per_class, seed=seed, data_dir=data_dir,
                       encoding=cfg.encoding, dtype=dtype, device=str(device))
    net = ImplicitNet(data.X_train.shape[1], width, cfg.gamma, seed=seed, dtype=dtype, device=device)
    lam_max = float(torch.linalg.eigvalsh(gram_blocks(net, data.X_train).total.double())[-1])
    lr = cfg.lr_scale / lam_max
    test_start: list[torch.Tensor | None] = [None]
    calls = [0]

    def observe(model: ImplicitNet) -> dict[str, float]:
        step, calls[0] = calls[0], calls[0] + 1
        if step % cfg.record_every and step != cfg.epochs:
            return {}  # an epoch the thinned history drops: no test solve
        eq = model.equilibrium(data.X_test, z0=test_start[0])
        test_start[0] = eq.z
        pred = eq.z @ model.u.detach() + eq.phi @ model.v.detach()
        # the forward solve above has just certified well-posedness: this factor is cached, not recomputed
        return {"test_mse": float(((pred - data.y_test) ** 2).mean()), "scaled_norm_A": model.contraction_factor()}

    start = time.perf_counter()
    history = gradient_descent(net, data.X_train, data.y_train, lr, cfg.epochs, gram_every=cfg.gram_every,
                               progress=progress, observe=observe, norms=False)
    wall = time.perf_counter() - start
    history.columns["contraction"] = history.columns.pop("scaled_norm_A")
    history.columns["norm_A"] = [q / net.gamma_tilde for q in history.columns["contraction"]]
    history.columns["train_mse"] = [2 * loss / data.X_train.shape[0] for loss in history.columns["loss"]]
    history.meta["record_every"] = cfg.record_every
    _thin(history, cfg.record_every)
    return {"config": asdict(cfg), "dataset": dataset, "width": width, "seed": seed, "lr": lr,
            "lambda_max_H0": lam_max, "lambda0": lambda0(data.X_train), "data": data.info,
            "provenance": provenance(device), "wall_time_s": wall, "history": json.loads(history.to_json())}


def _settings(config: dict) -> dict:
    """A stored or current config without the sweep lists (:data:`SWEEP_FIELDS`)."""
    return {k: v for k, v in config.items() if k not in SWEEP_FIELDS}


def _is_done(path: Path, cfg: Config, log: Callable[[str], None]) -> bool:
    """Whether ``path`` holds a complete run with the settings ``cfg`` (a damaged file is reported and is not)."""
    record = read_record(path, required=REQUIRED, log=log)
    if record is None:
        return False
    if not isinstance(record["history"], dict) or "columns" not in record["history"]:
        log(f"{path} is incomplete: its history has no columns; recomputing it")
        return False
    if not isinstance(record["config"], dict):
        return False
    return _settings(record["config"]) == _settings(json.loads(dumps(asdict(cfg))))


def run_figure1(cfg: Config, out_dir: str | Path, *, device: str | torch.device = "cpu",
                data_dir: str | Path | None = None, datasets: tuple[str, ...] | None = None,
                progress: bool | None = None, log: Callable[[str], None] = print) -> list[Path]:
    """Run every (data set, width, seed) of ``cfg`` (or of ``datasets``), seed by seed, and write one JSON each into
    ``out_dir``; return their paths. A file that already holds a run with the same settings is kept (restartable
    sweeps); each run is claimed with a lock, so runners sharing ``out_dir`` split the work
    (:func:`~implicit.studies.runner.run_claimed`).

    Examples:
        >>> import dataclasses, pathlib, tempfile
        >>> import numpy as np
        >>> from implicit.studies.figure1 import PROFILES, run_figure1
        >>> data = pathlib.Path(tempfile.mkdtemp())  # a stand-in for the MNIST subset: 16 random images, 0s and 1s
        >>> rng = np.random.default_rng(0)
        >>> np.savez(data / "mnist-01.npz", images=rng.integers(1, 256, (16, 28, 28), dtype=np.uint8),
        ...          labels=np.tile([0, 1], 8), split=np.repeat([0, 1], 8))
        >>> cfg = dataclasses.replace(PROFILES["fast"], widths=(20,), n_train_per_class=4, n_test_per_class=4,
        ...                           epochs=5, seeds=(0, 1))
        >>> paths = run_figure1(cfg, data / "out", data_dir=data, datasets=("mnist",), progress=False)
        figure1-fast-mnist-m20-s0.json: train mse ... -> ..., test mse ..., ...s
        figure1-fast-mnist-m20-s1.json: train mse ... -> ..., test mse ..., ...s
        >>> more = dataclasses.replace(cfg, seeds=(0, 1, 2))  # one more seed: the two finished runs are kept
        >>> len(run_figure1(more, data / "out", data_dir=data, datasets=("mnist",), progress=False))
        figure1-fast-mnist-m20-s0.json: already done, kept
        figure1-fast-mnist-m20-s1.json: already done, kept
        figure1-fast-mnist-m20-s2.json: train mse ... -> ..., test mse ..., ...s
        3
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = [(dataset, width, seed) for seed in cfg.seeds for dataset in datasets or cfg.datasets
            for width in cfg.widths]

    def work(run: tuple[str, int, int]) -> None:
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
    paths, sorted by path. Each record's ``history`` becomes a :class:`~implicit.train.History`; ``seed`` is set
    for files written before runs had several seeds (from their config). A damaged or incomplete file raises
    :class:`~implicit.records.RecordError` naming it.

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.figure1 import load_results
        >>> records = load_results(results_dir("figure1"))  # the book's stored runs
        >>> sorted({r["config"]["profile"] for r in records}), sorted({r["dataset"] for r in records})
        (['cpu', 'fast', 'seeds'], ['cifar10', 'fashionmnist', 'mnist'])
        >>> r = next(r for r in records if r["config"]["profile"] == "cpu"); h = r["history"]
        >>> r["dataset"], r["width"], r["seed"], len(h), bool(h.final("train_mse") < h["train_mse"][0] / 10)
        ('mnist', 1000, 0, 101, True)
    """
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        paths = sorted(Path(source).glob("figure1-*.json"))
    else:
        paths = sorted(Path(p) for p in ([source] if isinstance(source, (str, Path)) else source))
    records = []
    for path in paths:
        record = read_json(path, required=REQUIRED)
        record["history"] = History.from_json(json.dumps(record["history"]))
        record.setdefault("seed", record["config"].get("seeds", [record["config"].get("seed", 0)])[0])
        record["path"] = path.name
        records.append(record)
    return records


def _columns(record: dict) -> dict:
    """A record's history columns, whether it was read by :func:`load_results` or just returned by :func:`run_one`."""
    h = record["history"]
    return h.columns if isinstance(h, History) else h["columns"]


def replay(record: dict, epochs: int, *, data_dir: str | Path | None = None) -> dict:
    r"""Re-run the first ``epochs`` epochs of a stored run with its own settings, data draw and seed (CPU), and
    compare the training MSE at the epochs both histories keep: the largest relative difference
    :math:`\max_k |L_\text{new}(k) - L_\text{stored}(k)|/L_\text{stored}(k)`.

    Returns:
        ``{"epochs": [...], "max_rel_diff": float, "wall_time_s": float}`` (the compared epochs, the difference, and
        the re-run's training time).

    Examples:
        >>> import dataclasses, pathlib, tempfile
        >>> import numpy as np
        >>> from implicit.studies.figure1 import PROFILES, replay, run_one
        >>> data = pathlib.Path(tempfile.mkdtemp())  # a stand-in for the MNIST subset, as in run_one
        >>> rng = np.random.default_rng(0)
        >>> np.savez(data / "mnist-01.npz", images=rng.integers(1, 256, (16, 28, 28), dtype=np.uint8),
        ...          labels=np.tile([0, 1], 8), split=np.repeat([0, 1], 8))
        >>> cfg = dataclasses.replace(PROFILES["fast"], n_train_per_class=4, n_test_per_class=4, epochs=6,
        ...                           record_every=2, gram_every=2)
        >>> record = run_one(cfg, "mnist", 20, seed=1, data_dir=data, progress=False)
        >>> again = replay(record, 4, data_dir=data)  # seeded, float64: the same arithmetic
        >>> again["epochs"], again["max_rel_diff"]
        ([0, 2, 4], 0.0)
    """
    fields = {f.name for f in dataclasses.fields(Config)}
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in record["config"].items() if k in fields}
    cfg = dataclasses.replace(Config(**config), epochs=epochs)
    live = run_one(cfg, record["dataset"], record["width"], seed=record["seed"], data_dir=data_dir, progress=False)
    new, old = _columns(live), _columns(record)
    stored = dict(zip((int(k) for k in old["step"]), old["train_mse"], strict=True))
    both = [(int(k), v) for k, v in zip(new["step"], new["train_mse"], strict=True) if int(k) in stored]
    return {"epochs": [k for k, _ in both], "wall_time_s": live["wall_time_s"],
            "max_rel_diff": max(abs(v - stored[k]) / stored[k] for k, v in both)}


def sensitivity(dataset: str, width: int, lr_scales: Iterable[float], gammas: Iterable[float], *, epochs: int = 40,
                per_class: int = 50, seed: int = 0, data_dir: str | Path | None = None) -> list[dict]:
    r"""Train one width on one data set for every step-size scale (:math:`\alpha\lambda_{\max}(H(0))`) and every
    :math:`\gamma`, ``per_class`` training and test images per class, ``epochs`` epochs; one row per pair with the
    training MSE at the start and the end and the final test MSE.

    Examples:
        >>> import pathlib, tempfile
        >>> import numpy as np
        >>> from implicit.studies.figure1 import sensitivity
        >>> data = pathlib.Path(tempfile.mkdtemp())  # a stand-in for the MNIST subset, as in run_one
        >>> rng = np.random.default_rng(0)
        >>> np.savez(data / "mnist-01.npz", images=rng.integers(1, 256, (16, 28, 28), dtype=np.uint8),
        ...          labels=np.tile([0, 1], 8), split=np.repeat([0, 1], 8))
        >>> rows = sensitivity("mnist", 20, (0.5, 1.0), (0.1,), epochs=5, per_class=4, data_dir=data)
        >>> [(r["lr_scale"], r["gamma"]) for r in rows], all(r["train_end"] < r["train_start"] for r in rows)
        ([(0.5, 0.1), (1.0, 0.1)], True)
    """
    rows = []
    for lr_scale in lr_scales:
        for gamma in gammas:
            cfg = Config("sensitivity", (dataset,), (width,), per_class, per_class, epochs, 1000, gamma=gamma,
                         lr_scale=lr_scale, seeds=(seed,))
            h = _columns(run_one(cfg, dataset, width, data_dir=data_dir, progress=False))
            rows.append({"lr_scale": lr_scale, "gamma": gamma, "train_start": h["train_mse"][0],
                         "train_end": h["train_mse"][-1], "test_end": h["test_mse"][-1]})
    return rows


# -- command line ----------------------------------------------------------------------------------------------------

OVERRIDES = (
    Override("widths", "override the profile's widths", many=True),
    Override("seeds", "override the profile's seeds (data draw and initialisation)", kind=seed_int, many=True),
    Override("epochs", "override the profile's epochs"),
    Override("n_train_per_class", "override the profile's training images per class"),
    Override("n_test_per_class", "override the profile's test images per class"),
    Override("record_every", "store every this many epochs (a divisor of --gram-every)", kind=positive_int),
    Override("gram_every", "measure the Gram spectra every this many epochs", kind=positive_int),
    Override("lr_scale", "step size as a multiple of 1/lambda_max(H(0))", kind=positive_float),
    Override("profile", "profile name written into the files (default: the profile)", kind=tag, flag="tag"),
)


def _check_data(cfg: Config, datasets: tuple[str, ...], data_dir: str | None) -> None:
    """Load each data set once before any training, so missing files or too few images are one error line."""
    for dataset in datasets:
        try:
            load_binary(dataset, cfg.n_train_per_class, cfg.n_test_per_class, seed=cfg.seeds[0], data_dir=data_dir)
        except FileNotFoundError as err:
            raise CommandError(str(err), status=1) from None
        except ValueError as err:
            raise CommandError(f"{dataset}: {err}") from None


def obtainable() -> tuple[str, ...]:
    """The data sets this installation can get: those with a prepared subset (:data:`implicit.data.PREPARED`), and
    SVHN where torchvision is installed to download and build it.

    Examples:
        >>> from implicit.studies.figure1 import obtainable
        >>> obtainable()[:3]
        ('mnist', 'fashionmnist', 'cifar10')
    """
    import importlib.util

    extra = tuple(d for d in BINARY_DATASETS if d not in PREPARED and importlib.util.find_spec("torchvision"))
    return (*PREPARED, *extra)


@command
def main(argv: list[str]) -> None:
    """``python -m implicit figure1 [--profile fast|seeds|full] [--out DIR] ...``: run the sweep, one file per run.

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
        figure1-fast-mnist-m20-s0.json: train mse ... -> ..., test mse ..., ...s
        0
    """
    p = parser("python -m implicit figure1", __doc__.splitlines()[0], PROFILES, OVERRIDES,
               default_out="results/figure1")
    offered = obtainable()
    p.add_argument("--datasets", nargs="+", choices=offered,
                   help="subset of data sets (SVHN only where torchvision can build it: pip install '.[data]')")
    args = p.parse_args(argv)
    try:
        cfg = apply_overrides(PROFILES[args.profile], args, OVERRIDES)
    except ValueError as err:  # e.g. a record interval that does not divide the Gram interval
        raise CommandError(str(err)) from None
    datasets = tuple(args.datasets) if args.datasets else tuple(d for d in cfg.datasets if d in offered)
    for dataset in [] if args.datasets else [d for d in cfg.datasets if d not in offered]:
        print(f"note: {dataset} is left out: it has no prepared subset and torchvision is not installed to build one")
    device = device_from(args)
    _check_data(cfg, datasets, args.data_dir)
    run_figure1(cfg, out_folder(args.out), device=device, data_dir=args.data_dir, datasets=datasets)
