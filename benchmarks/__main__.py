"""``python -m benchmarks SUITE [options]``: run benchmark suites in one process and write their JSON.

``SUITE`` is ``all`` (every suite, the roofline first) or one of the suite names. Each suite writes
``<out-dir>/<suite>-<device>.json`` (``out-dir`` defaults to ``implicit/results/benchmarks``; under ``--quick``,
tiny sizes for a smoke run, to a temporary folder unless ``--out-dir`` is given).

Examples::

    python -m benchmarks all --device cpu --threads 2       # the committed CPU results (under 10 minutes)
    python -m benchmarks all --device cuda                  # the GPU results (float64 and float32, TF32 off)
    python -m benchmarks forward --quick                    # a smoke run of one suite
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from . import agreement, experiment, forward, gradient, gram, roofline, step, warmstart
from .common import RESULTS, Context, configure, write

#: In the order ``all`` runs them: the roofline first, so that every later comparison uses rates measured before it.
SUITES = {"roofline": roofline.run, "forward": forward.run, "warmstart": warmstart.run, "gradient": gradient.run,
          "gram": None, "step": step.run, "experiment": experiment.run, "agreement": agreement.run}


def default_data_dir() -> str | None:
    """``../shared/data`` beside the repository (where the Makefile points ``IMPLICIT_DATA``), if it exists."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data"
    return str(path) if path.is_dir() else None


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("suite", choices=["all", *SUITES])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per case (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls before each case (default 1)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run in seconds")
    parser.add_argument("--out-dir", default=None, help="where the JSON goes (default implicit/results/benchmarks)")
    parser.add_argument("--data-dir", default=None, help="offline image sets (default $IMPLICIT_DATA)")
    parser.add_argument("--max-n", type=int, default=None, help="gram: largest n to run")
    parser.add_argument("--memory-gb", type=float, default=None, help="gram: memory budget for the autograd peers")
    parser.add_argument("--out", default=None, help="gram: file stem (default gram-<device>)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[Path]:
    args = parse(argv)
    device = configure(args.device, args.threads)
    if args.out_dir:
        out_dir = Path(args.out_dir)
    else:
        out_dir = Path(tempfile.mkdtemp(prefix="benchmarks-quick-")) if args.quick else RESULTS
    ctx = Context(device=device, quick=args.quick, repeats=args.repeats, warmup=args.warmup, out_dir=out_dir,
                  data_dir=args.data_dir or os.environ.get("IMPLICIT_DATA") or default_data_dir())
    names = list(SUITES) if args.suite == "all" else [args.suite]
    paths = []
    for name in names:
        start = time.perf_counter()
        if name == "gram":
            payload = gram.run(ctx, max_n=args.max_n, memory_gb=args.memory_gb)
        else:
            payload = SUITES[name](ctx)
        payload["wall_s"] = time.perf_counter() - start
        stem = args.out if (name == "gram" and args.out) else f"{name}-{device.type}"
        paths.append(write(stem, payload, out_dir))
        ctx.log(f"== {name}: {payload['wall_s']:.1f} s, wrote {paths[-1]}")
    return paths


if __name__ == "__main__":
    main()
