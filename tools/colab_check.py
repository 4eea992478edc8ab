"""The chapters as a Colab reader meets them: the package from a wheel, nothing else from the checkout.

Usage: ``python tools/colab_check.py [NOTEBOOK ...]`` (``make test`` runs it). It

1. builds the package's wheel;
2. creates a fresh virtual environment in a temporary folder outside the checkout and installs the pinned torch, the
   wheel and a notebook kernel into it (what Colab has preinstalled);
3. copies the chapters that read image data or stored results (by default: the experiment, beyond the paper,
   performance) there, with nothing beside them;
4. serves the prepared image subsets from a local HTTP mirror on 127.0.0.1 and points ``IMPLICIT_DATA_URL`` at it,
   with ``IMPLICIT_DATA`` unset and an empty cache, so every image is downloaded and checked as on first use;
5. executes each notebook there and fails if any cell fails.

The mirror serves the files of the data folder (``IMPLICIT_DATA``, else ``../shared/data`` beside the checkout);
where neither exists the check says so and passes without running (a machine without the subsets cannot mirror them).
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ("experiment", "beyond", "performance")
SUBSETS = ("mnist-01.npz", "fashionmnist-01.npz", "cifar10-01.npz")
#: What Colab has preinstalled besides torch, and what runs a notebook.
KERNEL = ("ipykernel", "nbclient", "nbformat", "scikit-learn")

EXECUTE = """
import sys, time, nbformat, nbclient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
start = time.perf_counter()
nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
print(f"{path}: ok in {time.perf_counter() - start:.1f} s")
"""


def data_folder() -> Path | None:
    """The folder holding the prepared subsets to mirror, or ``None``."""
    for candidate in (os.environ.get("IMPLICIT_DATA"), ROOT.parent / "shared" / "data"):
        if candidate and all((Path(candidate) / name).is_file() for name in SUBSETS):
            return Path(candidate)
    return None


def run(*args: str | Path, quiet: bool = False, **kwargs) -> None:
    """Run a command; with ``quiet`` its output is shown only if it fails (pip's notices are noise here)."""
    result = subprocess.run([str(a) for a in args], capture_output=quiet, text=True, **kwargs)
    if result.returncode:
        if quiet:
            print(result.stdout[-4000:], result.stderr[-4000:], sep="\n", file=sys.stderr)
        raise subprocess.CalledProcessError(result.returncode, result.args)


def build_env(work: Path) -> Path:
    """Build the wheel and a fresh environment holding it; return the environment's Python."""
    # Build from a clean copy of the sources: setuptools' build/ folder in a checkout keeps files deleted since.
    source = work / "source"
    skip = shutil.ignore_patterns(".git", ".venv", "_build", "build", "dist", "*.egg-info", "__pycache__",
                                  ".pytest_cache", ".jupyter_cache")
    shutil.copytree(ROOT, source, ignore=skip)
    dist = work / "dist"
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, source,
        quiet=True)
    wheel = next(dist.glob("implicit_convergence-*.whl"))
    base = shutil.which("python3") or sys.executable
    run(base, "-m", "venv", work / "env", quiet=True)
    python = work / "env" / "bin" / "python"
    constraints = ("-c", ROOT / "constraints.txt")
    run(python, "-m", "pip", "install", "-q", "torch==2.13.0", *constraints, quiet=True)
    run(python, "-m", "pip", "install", "-q", wheel, *KERNEL, *constraints, quiet=True)
    return python


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """An HTTP server on 127.0.0.1 (ephemeral port) serving ``folder``, in a daemon thread."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # one line per download would only repeat the package's own message
        pass


def main(names: list[str]) -> int:
    folder = data_folder()
    if folder is None:
        print("colab check: no folder of prepared subsets to mirror (set IMPLICIT_DATA); not run")
        return 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="colab-check-") as tmp:
        work = Path(tmp)
        python = build_env(work)
        book = work / "book"
        book.mkdir()
        for name in names or CHAPTERS:
            shutil.copy(ROOT / "book" / f"{name}.ipynb", book)
        server, url = serve(folder)
        env = {k: v for k, v in os.environ.items() if k not in ("IMPLICIT_DATA", "PYTHONPATH", "VIRTUAL_ENV")}
        env.update(IMPLICIT_DATA_URL=url, XDG_CACHE_HOME=str(work / "cache"), CI="true", HOME=str(work),
                   PATH=f"{python.parent}:{env.get('PATH', '')}")
        try:
            for notebook in sorted(book.glob("*.ipynb")):
                run(python, "-c", EXECUTE, notebook.name, cwd=book, env=env)
        finally:
            server.shutdown()
    print(f"colab check: {len(names or CHAPTERS)} notebooks ran from the wheel in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as err:
        print(f"colab check failed: {' '.join(map(str, err.cmd))[:200]} exited {err.returncode}", file=sys.stderr)
        sys.exit(1)
