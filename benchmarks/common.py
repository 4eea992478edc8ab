"""Provenance, timing and output shared by the benchmark suites."""
from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
from pathlib import Path

import torch

import implicit
from implicit.runtime import device_name

RESULTS = Path(__file__).resolve().parent / "results"


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def provenance(device: torch.device, dtype: torch.dtype) -> dict:
    """Where and with what a result was measured."""
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "device": device_name(device),
        "device_type": device.type,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "implicit": implicit.__version__,
        "python": platform.python_version(),
        "dtype": str(dtype).replace("torch.", ""),
        "commit": git_commit(),
    }


def write(name: str, payload: dict) -> Path:
    """Write ``payload`` to ``benchmarks/results/<name>.json`` and return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
