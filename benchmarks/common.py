"""What every suite shares: the run's context (device, threads, sizes), timing with spread, provenance, output.

A suite is a module with ``run(ctx: Context) -> dict``; the dispatcher (``python -m benchmarks``) builds one
:class:`Context` and runs the suites it is asked for in one process, so that every ratio it reports compares
measurements taken side by side, with the same threads, after the same warm-up.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from implicit.measure import time_stats
from implicit.records import write_json
from implicit.runtime import provenance as runtime_provenance

#: Where the suites write by default: the package's stored results, which the book's performance page reads through
#: ``implicit.studies.results_dir("benchmarks")`` (so they ship in the wheel).
RESULTS = Path(__file__).resolve().parent.parent / "implicit" / "results" / "benchmarks"

#: The forward solves' tolerance per dtype (the issue's "float64 tol 1e-10 and float32 tol 1e-5").
TOLERANCES = {torch.float64: 1e-10, torch.float32: 1e-5}


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


@dataclass
class Context:
    """One benchmark run: where it runs, how often each case repeats, how big (``quick``: tiny smoke sizes).

    ``roofline`` caches the GEMM rate per shape and dtype (:mod:`benchmarks.roofline`), measured on first use, so a
    suite that needs a rate the run has not measured yet measures it in the same process before using it.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    quick: bool = False
    repeats: int = 5
    warmup: int = 1
    out_dir: Path = RESULTS
    data_dir: str | None = None
    roofline: dict = field(default_factory=dict)
    log: Callable[[str], None] = print

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def pick(self, quick, cpu, cuda):
        """The setting for this run: tiny under ``--quick``, else per device type."""
        return quick if self.quick else (cuda if self.cuda else cpu)


def configure(device: str, threads: int | None) -> torch.device:
    """Fix the threads, turn TF32 off (so float32 products are true float32) and make float64 the default dtype."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but torch sees no CUDA device")
    if threads:
        torch.set_num_threads(threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_default_dtype(torch.float64)
    return dev


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timing(fn: Callable[[], object], ctx: Context, *, repeats: int | None = None,
           warmup: int | None = None) -> dict:
    """:func:`implicit.measure.time_stats` with the run's repetitions and warm-up (or the ones given)."""
    return time_stats(fn, ctx.repeats if repeats is None else repeats, ctx.warmup if warmup is None else warmup)


def public(stats: dict) -> dict:
    """A :func:`timing` record without its in-memory ``result``."""
    return {k: v for k, v in stats.items() if k != "result"}


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """Relative Frobenius distance ``||a - b|| / ||b||`` (computed in float64)."""
    a, b = a.detach().double(), b.detach().double()
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b).clamp_min(1e-300))


def provenance(device: torch.device, dtype: torch.dtype | list[torch.dtype]) -> dict:
    """:func:`implicit.runtime.provenance` plus the suite's dtypes, TF32, CUDA and torchdeq versions (``dtype`` may be
    the list of dtypes a suite covers)."""
    dtypes = dtype if isinstance(dtype, list) else [dtype]
    out = {**runtime_provenance(device),
           "dtype": dtype_name(dtypes[0]) if len(dtypes) == 1 else [dtype_name(d) for d in dtypes],
           "tf32": bool(torch.backends.cuda.matmul.allow_tf32)}
    if device.type == "cuda":
        out["cuda"] = torch.version.cuda
    out["torchdeq"] = torchdeq_version()
    return out


def torchdeq_version() -> str | None:
    """The installed torchdeq's version (its module has no ``__version__``), or ``None``."""
    from importlib import metadata

    try:
        return metadata.version("torchdeq")
    except metadata.PackageNotFoundError:
        return None


def write(name: str, payload: dict, out_dir: Path | None = None) -> Path:
    """Write ``payload`` to ``<out_dir>/<name>.json`` (default :data:`RESULTS`) and return the path."""
    path = (RESULTS if out_dir is None else Path(out_dir)) / f"{name}.json"
    write_json(path, payload, indent=1, separators=(",", ": "))  # atomic, strict JSON
    return path


def has_torchdeq() -> bool:
    try:
        import torchdeq  # noqa: F401
    except ImportError:
        return False
    return True


def binary_data(ctx: Context, name: str, n_train_per_class: int, n_test_per_class: int = 0,
                dtype: torch.dtype = torch.float64):
    """The paper's binary task ``name`` (classes 0 and 1, targets ±1) from the offline folder, on the run's device.

    Returns ``(data, source)``; ``data`` is ``None`` with ``source`` saying why when no offline copy exists (the
    suites then skip that data set rather than download anything).
    """
    from implicit.data import load_binary

    try:
        data = load_binary(name, n_train_per_class, max(n_test_per_class, 1), seed=0, data_dir=ctx.data_dir,
                           dtype=dtype, device=str(ctx.device))
    except (FileNotFoundError, OSError, RuntimeError, ImportError, ValueError) as err:  # missing or too small
        return None, f"skipped: {type(err).__name__}: {str(err).splitlines()[0][:160]}"
    return data, data.info.get("source", name)


# -- the shapes of the suites, in one place so that the roofline can measure them all first ---------------------------

#: The forward suite's dtypes.
FORWARD_DTYPES = (torch.float64, torch.float32)


def forward_sizes(ctx: Context) -> list[tuple[int, int]]:
    """(n, m) of the forward runs: the done-when size n=512, m=1024 everywhere, and a larger one on a GPU."""
    return ctx.pick(quick=[(16, 64)], cpu=[(512, 1024)], cuda=[(512, 1024), (1024, 4096)])


def step_sizes(ctx: Context) -> list[tuple[int, int]]:
    """(n, m) of the training-step suite."""
    return ctx.pick(quick=[(16, 64)], cpu=[(256, 1024), (512, 2048)], cuda=[(1000, 2000), (1000, 4000)])


def gradient_size(ctx: Context) -> tuple[int, int]:
    """(n, m) of the gradient suite."""
    return ctx.pick(quick=(16, 64), cpu=(512, 1024), cuda=(1000, 4000))


def full_profile():
    """The paper's full Figure 1 settings, which the experiment suite extrapolates."""
    from implicit.studies.figure1 import PROFILES

    return PROFILES["full"]


def experiment_n_train(ctx: Context) -> int:
    """Training-set size of the experiment suite (the full profile's, or 16 under ``--quick``)."""
    return 2 * (8 if ctx.quick else full_profile().n_train_per_class)


def experiment_widths(ctx: Context) -> tuple[list[int], list[int]]:
    """(measured, scaled) widths of the experiment suite on this device."""
    if ctx.quick:
        return [32, 64], []
    full = list(full_profile().widths)
    return (full, []) if ctx.cuda else (full[:-1], full[-1:])


def experiment_shapes(ctx: Context) -> list[tuple[int, int]]:
    """(n, m) of every training step the experiment suite times."""
    measured, scaled = experiment_widths(ctx)
    return [(experiment_n_train(ctx), m) for m in measured + scaled]
