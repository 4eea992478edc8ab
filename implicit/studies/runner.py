"""What every study's runner shares: profiles overridden from the command line, arguments checked before any work,
one-line errors, the device set-up, resumable records written atomically, and locks that let several runners share
one output folder.

A study module (:mod:`implicit.studies.figure1`, :mod:`implicit.studies.width`) declares its profiles as frozen
dataclasses and its command-line overrides as :class:`Override` rows; :func:`parser` builds the argument parser,
:func:`apply_overrides` the profile of a run, and :func:`command` turns the study's body into a ``main(argv) -> int``
that reports a user error as one ``error: ...`` line on stderr (exit status 2; 1 for missing data) instead of a
traceback.

Records are JSON files written with :func:`implicit.records.write_json` (atomic, strict JSON) and read with
:func:`read_record`, which reports a damaged or incomplete file (one log line naming it) and treats it as absent, so
that it is recomputed. :func:`run_claimed` runs a list of tasks (one result file, one group of a study) each under
its own lock in ``<out>/.locks/``: a task another runner holds is skipped and revisited at the end, when this runner
waits for the lock and then finds the task done.
"""
from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import torch

from .. import cli as _cli
from ..cli import CommandError
from ..records import FileLock, RecordError, read_json
from ..runtime import select_device

__all__ = ["CommandError", "Override", "positive_int", "seed_int", "positive_float", "tag", "parser", "apply_overrides",
           "command", "device_from", "out_folder", "read_record", "lock_path", "claimed", "run_claimed",
           "results_dir", "STUDIES"]

T = TypeVar("T")
P = TypeVar("P")
#: The studies whose results ship with the package (folders under ``implicit/results``).
STUDIES = ("figure1", "width", "minibatch", "benchmarks")


# -- arguments -------------------------------------------------------------------------------------------------------

def _int_at_least(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise argparse.ArgumentTypeError(f"expected a {what} integer, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer ``>= 1`` from the command line.

    Examples:
        >>> from implicit.studies.runner import positive_int
        >>> positive_int("8")
        8
        >>> positive_int("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: expected a positive integer, got '0'
    """
    return _int_at_least(text, 1, "positive")


def seed_int(text: str) -> int:
    """A seed from the command line: an integer ``>= 0``.

    Examples:
        >>> from implicit.studies.runner import seed_int
        >>> seed_int("0")
        0
        >>> seed_int("-1")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: expected a non-negative integer, got '-1'
    """
    return _int_at_least(text, 0, "non-negative")


def positive_float(text: str) -> float:
    """A finite float ``> 0`` from the command line.

    Examples:
        >>> from implicit.studies.runner import positive_float
        >>> positive_float("1e-3")
        0.001
        >>> positive_float("inf")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: expected a positive finite number, got 'inf'
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def tag(text: str) -> str:
    """A profile name that is safe in a file name: letters, digits, ``-``, ``_`` and ``.``.

    Examples:
        >>> from implicit.studies.runner import tag
        >>> tag("gpu-run.2")
        'gpu-run.2'
        >>> tag("../elsewhere")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: expected letters, digits, '-', '_' or '.', got '../elsewhere'
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", text):
        raise argparse.ArgumentTypeError(f"expected letters, digits, '-', '_' or '.', got {text!r}")
    return text


@dataclass(frozen=True)
class Override:
    """A command-line option ``--<flag>`` that replaces the profile field ``field``.

    ``kind`` converts and checks one value (:func:`positive_int`, :func:`positive_float`, :func:`tag`); ``many``
    takes one or more values (stored as a tuple); ``choices`` restricts them.

    Examples:
        >>> from implicit.studies.runner import Override, positive_float
        >>> o = Override("lr_scale", "step size as a multiple of 1/lambda_max(H(0))", kind=positive_float)
        >>> o.option, o.dest
        ('--lr-scale', 'lr_scale')
        >>> Override("profile", "profile name written into the files", kind=str, flag="tag").option
        '--tag'
    """

    field: str
    help: str
    kind: Callable[[str], Any] = positive_int
    many: bool = False
    choices: Sequence[str] | None = None
    flag: str | None = None

    @property
    def option(self) -> str:
        return "--" + (self.flag or self.field.replace("_", "-"))

    @property
    def dest(self) -> str:
        return self.option[2:].replace("-", "_")


def parser(prog: str, description: str, profiles: Mapping[str, Any], overrides: Iterable[Override], *,
           default_out: str) -> argparse.ArgumentParser:
    """The argument parser of one study: ``--profile``, ``--out``, ``--device``, ``--threads``, ``--data-dir`` and
    one option per :class:`Override`.

    Examples:
        >>> from implicit.studies.runner import Override, parser
        >>> p = parser("demo", "A demo study.", {"fast": None, "full": None}, [Override("epochs", "training epochs")],
        ...            default_out="results/demo")
        >>> args = p.parse_args(["--profile", "full", "--epochs", "5"])
        >>> args.profile, args.epochs, args.out
        ('full', 5, 'results/demo')
        >>> p.parse_args(["--epochs", "0"])  # a CommandError, not argparse's usage message and exit
        Traceback (most recent call last):
        ...
        implicit.cli.CommandError: demo: argument --epochs: expected a positive integer, got '0' (see --help)
    """
    p = _cli.ArgumentParser(prog=prog, description=description.replace("``", ""))
    p.add_argument("--profile", choices=sorted(profiles), default="fast", help="sizes of the run (default: fast)")
    p.add_argument("--out", default=default_out, help=f"output folder (default: {default_out})")
    p.add_argument("--device", help="torch device, e.g. cpu or cuda (default: cuda if available)")
    p.add_argument("--threads", type=positive_int, help="torch intra-op threads on the CPU")
    p.add_argument("--data-dir", help="offline data folder (default: $IMPLICIT_DATA)")
    for o in overrides:
        p.add_argument(o.option, dest=o.dest, type=o.kind, nargs="+" if o.many else None, choices=o.choices,
                       help=o.help)
    return p


def apply_overrides(profile: P, args: argparse.Namespace, overrides: Iterable[Override]) -> P:
    """``profile`` with every field whose option was given replaced (lists become tuples).

    Examples:
        >>> import dataclasses
        >>> from implicit.studies.runner import Override, apply_overrides, parser
        >>> @dataclasses.dataclass(frozen=True)
        ... class Profile:
        ...     widths: tuple = (100, 200)
        ...     epochs: int = 100
        >>> overrides = [Override("widths", "widths", many=True), Override("epochs", "epochs")]
        >>> p = parser("demo", "A demo study.", {"fast": Profile()}, overrides, default_out="out")
        >>> args = p.parse_args(["--widths", "8", "16"])
        >>> apply_overrides(Profile(), args, overrides)
        Profile(widths=(8, 16), epochs=100)
    """
    changes = {}
    for o in overrides:
        value = getattr(args, o.dest, None)
        if value is not None:
            changes[o.field] = tuple(value) if o.many else value
    return replace(profile, **changes)  # type: ignore[type-var]


def device_from(args: argparse.Namespace) -> torch.device:
    """The run's device via :func:`implicit.runtime.select_device` (TF32 off, ``--threads``); an unknown or
    unavailable device is a :class:`CommandError`.

    Examples:
        >>> import argparse
        >>> from implicit.studies.runner import device_from
        >>> device_from(argparse.Namespace(device="cpu", threads=None))
        device(type='cpu')
        >>> device_from(argparse.Namespace(device="abacus", threads=None))
        Traceback (most recent call last):
        ...
        implicit.cli.CommandError: --device: ... abacus
    """
    try:
        device = select_device(args.device, threads=args.threads)
    except RuntimeError as err:
        raise CommandError(f"--device: {err}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CommandError(f"--device {args.device}: CUDA is not available on this machine")
    return device


def out_folder(out: str | Path) -> Path:
    """The output folder ``out``, created if missing; one that cannot be created is a :class:`CommandError`.

    Examples:
        >>> import pathlib, tempfile
        >>> from implicit.studies.runner import out_folder
        >>> out_folder(pathlib.Path(tempfile.mkdtemp()) / "results" / "width").is_dir()
        True
    """
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CommandError(f"--out {out}: {err.strerror or err}") from None
    return Path(out)


#: A study's ``main``: :func:`implicit.cli.command` with the study's hint on Ctrl-C (finished work is kept).
command = _cli.command(interrupted="interrupted: finished work is kept; run the same command again to resume")


# -- records and locks -----------------------------------------------------------------------------------------------

def read_record(path: str | Path, *, required: Iterable[str] = (), log: Callable[[str], None] = print) -> Any | None:
    """The record stored at ``path``, or ``None`` when there is none; a damaged or incomplete file (truncated, not
    JSON, lacking a ``required`` key) is reported by one ``log`` line naming it and also gives ``None``, so that the
    caller recomputes it.

    Examples:
        >>> import pathlib, tempfile
        >>> from implicit.records import write_json
        >>> from implicit.studies.runner import read_record
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> write_json(folder / "run.json", {"loss": 0.5})
        >>> read_record(folder / "run.json", required=["loss"]), read_record(folder / "missing.json")
        ({'loss': 0.5}, None)
        >>> _ = (folder / "cut.json").write_text('{"loss": 0.')  # a run killed while writing
        >>> read_record(folder / "cut.json") is None
        /.../cut.json is damaged or incomplete (...); it may be left from an interrupted run; recomputing it
        True
    """
    try:
        return read_json(path, required=required)
    except FileNotFoundError:
        return None
    except RecordError as err:
        log(f"{err}; recomputing it")
        return None


def lock_path(out_dir: str | Path, name: str) -> Path:
    """The path a :class:`~implicit.records.FileLock` guards for task ``name``: ``<out_dir>/.locks/<name>`` (the lock
    file is that plus ``.lock``).

    Examples:
        >>> from implicit.studies.runner import lock_path
        >>> lock_path("results/figure1", "figure1-fast-mnist-m100.json").as_posix()
        'results/figure1/.locks/figure1-fast-mnist-m100.json'
    """
    return Path(out_dir) / ".locks" / name


@contextmanager
def claimed(path: str | Path, *, wait: bool) -> Iterator[bool]:
    """Hold the lock on ``path`` inside the block; yields ``True``. Without ``wait``, a lock another runner holds
    yields ``False`` at once (and nothing is held).

    Examples:
        >>> import tempfile
        >>> from implicit.studies.runner import claimed, lock_path
        >>> path = lock_path(tempfile.mkdtemp(), "task")
        >>> with claimed(path, wait=False) as mine:
        ...     with claimed(path, wait=False) as theirs:  # a second runner asking for the same task
        ...         mine, theirs
        (True, False)
    """
    lock = FileLock(path, timeout=None if wait else 0.0)
    try:
        lock.__enter__()
    except TimeoutError:
        yield False
        return
    try:
        yield True
    finally:
        lock.__exit__(None, None, None)


def run_claimed(tasks: Iterable[T], lock_of: Callable[[T], Path], work: Callable[[T], None], *,
                name_of: Callable[[T], str] = str, log: Callable[[str], None] = print) -> None:
    """Call ``work(task)`` for every task while holding the lock ``lock_of(task)``. A task whose lock another runner
    holds is skipped and revisited after the others, waiting for the lock; ``work`` then finds it done (it must
    re-read the stored result before computing).

    Examples:
        >>> import tempfile
        >>> from implicit.studies.runner import lock_path, run_claimed
        >>> out = tempfile.mkdtemp()
        >>> run_claimed(["mnist", "cifar10"], lambda task: lock_path(out, task), lambda task: print("training", task))
        training mnist
        training cifar10
    """
    deferred = []
    for task in tasks:
        with claimed(lock_of(task), wait=False) as mine:
            if mine:
                work(task)
            else:
                log(f"{name_of(task)}: another runner holds it; coming back to it at the end")
                deferred.append(task)
    for task in deferred:
        with claimed(lock_of(task), wait=True):
            work(task)


def results_dir(study: str) -> Path:
    """The folder of the results stored with the package for ``study`` (``"figure1"``, ``"width"``,
    ``"minibatch"`` or ``"benchmarks"``, written by ``python -m benchmarks``):
    ``implicit/results/<study>``, the same in a checkout and in an installed package.

    Examples:
        >>> from implicit.studies.runner import results_dir
        >>> folder = results_dir("width")
        >>> folder.name, (folder / "width-full.json").is_file()
        ('width', True)
    """
    if study not in STUDIES:
        raise ValueError(f"unknown study {study!r}; stored results exist for {STUDIES}")
    folder = Path(__file__).resolve().parent.parent / "results" / study
    if not folder.is_dir():
        raise FileNotFoundError(f"no stored results at {folder}: the package was installed without its package data")
    return folder
