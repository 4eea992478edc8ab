r"""Result files that survive crashes and concurrent runners: strict JSON, atomic writes, defensive reads, locks.

* **Strict JSON.** :func:`encode` maps every float that JSON cannot hold to a value every JSON reader accepts:
  NaN :math:`\to` ``null`` and :math:`\pm\infty \to` ``"Infinity"``/``"-Infinity"`` (strings). :func:`decode` maps
  the strings back, so ``decode(json.loads(dumps(x)))`` round-trips every float exactly (``null`` stays ``None``: the
  caller knows which columns are numeric and turns it back into NaN, as :class:`implicit.train.History` does).
* **Atomic writes.** :func:`write_json` writes to a uniquely named temporary file in the target's folder, flushes it
  to disk and renames it over the target (``os.replace`` is atomic on POSIX and Windows), so a reader sees the old
  file or the new one, never half of one, even if the writer is killed mid-write.
* **Defensive reads.** :func:`read_json` raises :class:`RecordError` naming the file for anything unreadable
  (truncated, not JSON, not an object, missing keys), never a bare ``JSONDecodeError``.
* **Locks.** :class:`FileLock` is an advisory lock on ``<path>.lock`` (``fcntl.flock`` on POSIX): two runners on one
  folder each hold the lock while they claim, compute and write a record, so neither duplicates nor corrupts the
  other's work.

Examples:
    >>> import math, tempfile, pathlib
    >>> from implicit.records import read_json, write_json
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.json"
    >>> write_json(path, {"loss": [1.0, math.nan, math.inf]})
    >>> path.read_text().strip()
    '{"loss":[1.0,null,"Infinity"]}'
    >>> read_json(path)
    {'loss': [1.0, None, inf]}
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["RecordError", "encode", "decode", "dumps", "write_json", "read_json", "FileLock"]

_NONFINITE = {"Infinity": math.inf, "-Infinity": -math.inf}
#: The bare tokens Python's ``json`` writes by default; older result files hold them, so reading still accepts them.
_LEGACY_CONSTANTS = {"NaN": math.nan, **_NONFINITE}


class RecordError(ValueError):
    """A stored result file is unreadable, truncated or incomplete; the message names the file."""


def encode(obj: Any) -> Any:
    """A copy of ``obj`` that strict JSON can hold: NaN becomes ``None``, :math:`\\pm\\infty` the strings
    ``"Infinity"``/``"-Infinity"``; tuples become lists.

    Examples:
        >>> from implicit.records import encode
        >>> encode({"loss": (0.5, float("nan"), float("inf"), -float("inf")), "step": 3})
        {'loss': [0.5, None, 'Infinity', '-Infinity'], 'step': 3}
    """
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        return obj if math.isfinite(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {k: encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode(v) for v in obj]
    return obj


def decode(obj: Any) -> Any:
    """The inverse of :func:`encode` for infinities: ``"Infinity"``/``"-Infinity"`` become floats again.

    Examples:
        >>> from implicit.records import decode, encode
        >>> decode({"loss": [0.5, None, "Infinity", "-Infinity"], "name": "run"})
        {'loss': [0.5, None, inf, -inf], 'name': 'run'}
        >>> decode(encode([1.0, float("inf")]))
        [1.0, inf]
    """
    if isinstance(obj, str):
        return _NONFINITE.get(obj, obj)
    if isinstance(obj, dict):
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """Strict JSON text of ``obj`` (``allow_nan=False`` after :func:`encode`, so no bare ``NaN`` token can appear).

    Examples:
        >>> from implicit.records import dumps
        >>> dumps({"loss": [1.0, float("nan"), float("inf")]})
        '{"loss":[1.0,null,"Infinity"]}'
        >>> dumps({"a": 1}, indent=None, separators=(", ", ": "))
        '{"a": 1}'
    """
    kwargs.setdefault("separators", (",", ":"))
    return json.dumps(encode(obj), allow_nan=False, **kwargs)


def write_json(path: str | Path, obj: Any, **kwargs: Any) -> None:
    """Write ``obj`` as strict JSON to ``path`` atomically: a unique temporary file in the same folder, fsync, rename.

    A crash or a full disk leaves either the previous file or none, plus at most a stray ``.tmp`` file that later
    writes ignore; two writers never share a temporary name.

    Examples:
        >>> import json, tempfile
        >>> from pathlib import Path
        >>> from implicit.records import write_json
        >>> path = Path(tempfile.mkdtemp()) / "runs" / "seed0.json"  # missing folders are created
        >>> write_json(path, {"seed": 0, "loss": [0.25, float("inf")]})
        >>> json.loads(path.read_text()), [p.name for p in path.parent.iterdir()]  # no temporary file is left
        ({'seed': 0, 'loss': [0.25, 'Infinity']}, ['seed0.json'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dumps(obj, **kwargs) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # mkstemp creates 0600; a result file gets the mode an ordinary new file would
            os.fchmod(fd, _file_mode(path))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_mode(path: Path) -> int:
    """The target's current permission bits, else those of a new file under the process's umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def read_json(path: str | Path, *, required: Iterable[str] = ()) -> Any:
    """Read a file written by :func:`write_json` (or any JSON file); infinities are restored by :func:`decode`.

    Raises:
        FileNotFoundError: the file does not exist.
        RecordError: it is empty, truncated or not JSON, or (with ``required``) not an object holding every key of
            ``required``. The message names the file and what is wrong.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from implicit.records import RecordError, read_json
        >>> path = Path(tempfile.mkdtemp()) / "run.json"
        >>> _ = path.write_text('{"loss": [1.0, NaN, "Infinity"]}')  # an older file with a bare NaN token
        >>> read_json(path, required=["loss"])
        {'loss': [1.0, nan, inf]}
        >>> _ = path.write_text('{"loss": [1.0, ')  # cut off mid-write
        >>> try:
        ...     read_json(path)
        ... except RecordError as err:
        ...     print(str(err).replace(str(path), "run.json"))
        run.json is damaged or incomplete (invalid JSON at line 1, column 16: Expecting value); it may be left from
        an interrupted run
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise RecordError(f"{path} is not a text file ({err.reason} at byte {err.start}); delete or rewrite it") \
            from None
    try:
        obj = json.loads(text, parse_constant=_LEGACY_CONSTANTS.__getitem__)
    except json.JSONDecodeError as err:
        raise RecordError(f"{path} is damaged or incomplete (invalid JSON at line {err.lineno}, column {err.colno}: "
                          f"{err.msg}); it may be left from an interrupted run") from None
    missing = [k for k in required if not isinstance(obj, dict) or k not in obj]
    if missing:
        raise RecordError(f"{path} is incomplete: it lacks {', '.join(map(repr, missing))}")
    return decode(obj)


class FileLock:
    """An exclusive advisory lock on ``<path>.lock``, held inside a ``with`` block.

    Args:
        path: the file (or folder) to guard; the lock file is ``<path>.lock`` beside it.
        timeout: seconds to wait for another holder before raising ``TimeoutError`` (``None`` waits for ever).
        poll: seconds between attempts.

    On systems without ``fcntl`` the lock is a no-op (each write is still atomic).

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from implicit.records import FileLock, write_json
        >>> path = Path(tempfile.mkdtemp()) / "run.json"
        >>> with FileLock(path, timeout=10) as lock:  # claim, compute and write while holding it
        ...     write_json(path, {"done": True})
        >>> lock.path.name
        'run.json.lock'
        >>> with FileLock(path), FileLock(path, timeout=0.1):  # a second holder waits, then gives up
        ...     pass
        Traceback (most recent call last):
        TimeoutError: another run holds ...run.json.lock for more than 0.1 s
    """

    def __init__(self, path: str | Path, *, timeout: float | None = None, poll: float = 0.05) -> None:
        self.path = Path(str(path) + ".lock")
        self.timeout, self.poll = timeout, poll
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() > deadline:
                    os.close(fd)
                    raise TimeoutError(f"another run holds {self.path} for more than {self.timeout} s") from None
                time.sleep(self.poll)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
