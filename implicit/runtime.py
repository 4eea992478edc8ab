"""One setup call for every notebook and script: seeds, dtype, device, profile, and a printed summary line.

The profile comes from the ``IMPLICIT_PROFILE`` environment variable: ``fast`` (default; small sizes that run in
about a minute on 2 CPU cores) or ``full`` (the paper's scale; expects a GPU).
"""
from __future__ import annotations

import datetime as dt
import os
import platform
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

__all__ = ["RunConfig", "setup", "select_device", "quiet", "device_name", "provenance", "glue"]

PROFILES = ("fast", "full")
T = TypeVar("T")


@dataclass(frozen=True)
class RunConfig:
    """What :func:`setup` chose: the profile, device, dtype and seed.

    Examples:
        >>> import torch
        >>> from implicit.runtime import RunConfig
        >>> cfg = RunConfig("fast", torch.device("cpu"), torch.float64, seed=0)
        >>> cfg.fast, cfg.pick(fast=200, full=4000)
        (True, 200)
    """

    profile: str
    device: torch.device
    dtype: torch.dtype
    seed: int

    @property
    def fast(self) -> bool:
        return self.profile == "fast"

    def pick(self, fast: T, full: T) -> T:
        """The value for the active profile: ``cfg.pick(fast=200, full=4000)``."""
        return fast if self.fast else full

    def summary(self) -> str:
        from . import __version__

        if self.device.type == "cuda":
            where = f"cuda ({device_name(self.device)})"
        else:
            where = f"cpu ({torch.get_num_threads()} threads, {platform.machine()})"
        dtype = str(self.dtype).replace("torch.", "")
        return (f"implicit {__version__} | torch {torch.__version__} | {where} | {dtype}"
                f" | profile {self.profile} | seed {self.seed}")


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model name from /proc/cpuinfo (else the machine type).

    Examples:
        >>> import torch
        >>> from implicit.runtime import device_name
        >>> name = device_name(torch.device("cpu"))  # e.g. 'AMD EPYC 7B13'
        >>> isinstance(name, str) and name != ""
        True
    """
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    """Output of a git command run in the package's folder, or ``None`` outside a checkout."""
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.rstrip("\n") if out.returncode == 0 else None


def provenance(device: torch.device | str = "cpu") -> dict:
    """Where and with what a stored result was computed: date (UTC), device name and type, threads, versions of torch,
    the package and Python, the git commit and the package files modified against it (``None`` outside a checkout).

    Examples:
        >>> from implicit.runtime import provenance
        >>> p = provenance("cpu")
        >>> sorted(p)
        ['date', 'device', 'device_type', 'git_commit', 'git_modified', 'implicit', 'python', 'threads', 'torch']
        >>> p["device_type"]
        'cpu'
    """
    from . import __version__

    device = torch.device(device)
    status = _git("status", "--porcelain", "--", ".")
    return {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "device": device_name(device),
            "device_type": device.type, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "implicit": __version__, "python": platform.python_version(),
            "git_commit": (_git("rev-parse", "HEAD") or "").strip() or None,
            "git_modified": None if status is None else [line[3:] for line in status.splitlines() if line.strip()]}


def quiet() -> bool:
    """True when the environment variable ``CI`` is set (automated test runs), where progress bars stay silent.

    Examples:
        >>> import os
        >>> from unittest import mock
        >>> from implicit.runtime import quiet
        >>> with mock.patch.dict(os.environ, {"CI": "true"}):
        ...     quiet()
        True
    """
    return bool(os.environ.get("CI"))


def select_device(device: str | torch.device | None = None, *, threads: int | None = None) -> torch.device:
    """Turn TF32 off (float32 products stay IEEE), set the CPU's intra-op ``threads`` if given, and return the device:
    ``device`` if given, else CUDA if available, else the CPU. Seeds, dtype and plot style are left alone.

    Examples:
        >>> import torch
        >>> from implicit.runtime import select_device
        >>> select_device("cpu"), torch.backends.cuda.matmul.allow_tf32
        (device(type='cpu'), False)
    """
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if threads:
        torch.set_num_threads(threads)
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def setup(seed: int = 0, *, dtype: torch.dtype = torch.float64, device: str | None = None,
          profile: str | None = None, verbose: bool = True) -> RunConfig:
    """Seed Python, NumPy and torch; make ``dtype`` the default; choose the device and turn TF32 off
    (:func:`select_device`); read the profile; apply the book's plot style; print a one-line summary. Returns a
    :class:`RunConfig`.

    Examples:
        >>> import torch
        >>> from implicit.runtime import setup
        >>> cfg = setup(0, device="cpu", profile="fast")
        implicit ... | torch ... | cpu (... threads, ...) | float64 | profile fast | seed 0
        >>> torch.get_default_dtype(), cfg.pick(fast="minutes on a CPU", full="a GPU")
        (torch.float64, 'minutes on a CPU')
    """
    profile = (profile or os.environ.get("IMPLICIT_PROFILE", "fast")).lower()
    if profile not in PROFILES:
        raise ValueError(f"IMPLICIT_PROFILE must be one of {PROFILES}, got {profile!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_default_dtype(dtype)
    dev = select_device(device)
    from .plotting import use_style

    use_style()
    cfg = RunConfig(profile=profile, device=dev, dtype=dtype, seed=seed)
    if verbose:
        print(cfg.summary())
    return cfg


def glue(name: str, value: object, display: bool = True) -> None:
    """Name a computed value for the book's text (MyST-NB's ``glue``: the page shows it where it writes
    ``{glue:text}`name```). Where MyST-NB is not installed (Colab, a plain Jupyter), the value is shown when
    ``display`` is true and otherwise only kept, so a chapter runs anywhere.

    Examples:
        >>> from implicit.runtime import glue
        >>> glue("verdict", "reproduced", display=False)  # silent: the book's text shows it
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)
