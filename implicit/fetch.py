"""The prepared image subsets (classes 0 and 1 of MNIST, Fashion-MNIST and CIFAR-10): where
:func:`implicit.data.load_binary` finds them, and their download on first use.

A prepared subset is one file, ``<name>-01.npz``, in the layout :mod:`implicit.rawformats` documents. :func:`find`
looks for it in this order and stops at the first rule that applies:

1. **An offline folder**: ``data_dir=`` if given, else the folder in the environment variable ``IMPLICIT_DATA`` if it
   is set. The file must be there: nothing is ever downloaded into an offline folder, and a missing file is a
   :class:`DataUnavailableError` naming the folder.
2. **The user cache**, :func:`cache_directory`: ``~/.cache/implicit-convergence`` on Linux (under
   ``$XDG_CACHE_HOME`` when that is set), the platform's cache folder elsewhere. A file found there is used as it is.
3. **A download** into the cache from :func:`base_url`: the environment variable ``IMPLICIT_DATA_URL`` (a mirror, or a
   local server in the tests), else the assets of the GitHub data release, :data:`implicit.release.DATA_URL`. The
   download is checked against the SHA-256 digest in :data:`REGISTRY`.

The download (:func:`download`) uses `pooch <https://www.fatiando.org/pooch>`_ (registry of digests, cache folder,
base address): it streams into a temporary file in the cache folder and renames it to ``<name>-01.npz`` only once
the digest matches, so neither an interrupted transfer nor a corrupt one leaves a file under that name. It shows a
tqdm progress bar on stderr (none when the environment variable ``CI`` is set), gives up on a server that does not
connect within 5 s or stops sending for 10 s (:data:`TIMEOUT`), and does not retry. Every failure (server
unreachable, HTTP error, broken transfer, digest mismatch, cache not writable) is one :class:`DataUnavailableError`
whose message says what was tried and the two ways out.

SVHN has no prepared subset: ``load_binary("svhn", download=True)`` builds one with torchvision, or a maintainer
builds one from the original files with ``python -m implicit data prepare svhn --raw ROOT --out DIR``.

Command line (:func:`data_main`): ``python -m implicit data list``, ``python -m implicit data fetch NAME ...|all``,
``python -m implicit data prepare NAME --raw ROOT --out DIR``.
"""
from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import release
from .cli import ArgumentParser, CommandError, command
from .rawformats import RAW_FOLDERS

__all__ = ["REGISTRY", "SIZES", "DATA_ENV", "URL_ENV", "TIMEOUT", "DataUnavailableError", "filename",
           "offline_directory", "cache_directory", "data_directory", "base_url", "find", "download", "sha256",
           "data_main"]

#: SHA-256 digest of each prepared subset ``<name>-01.npz`` published with the data release
#: :data:`implicit.release.DATA_TAG`; a download must match it.
REGISTRY: dict[str, str] = {
    "mnist": "c27d606b58ed99c44d5a6df79630242e8287f7678383b6349b0677fa5251fb88",
    "fashionmnist": "ced9fb4062adb7add639233b778891a06681d18206979d4cb46c4d85d1c2a99c",
    "cifar10": "9279a704959dbb390c04acb05adbff93cdfdbc789d05b5445dd793aa2eb3794f",
}
#: Size in bytes of each prepared subset (9.1 MB for the three).
SIZES: dict[str, int] = {"mnist": 662_923, "fashionmnist": 5_868_598, "cifar10": 2_599_276}
#: The environment variable naming an offline folder (read only, no download); the same as ``implicit.data.DATA_ENV``.
DATA_ENV = "IMPLICIT_DATA"
#: The environment variable naming another download address (a mirror); default :data:`implicit.release.DATA_URL`.
URL_ENV = "IMPLICIT_DATA_URL"
#: The cache folder's name under the platform's user cache folder.
CACHE_NAME = "implicit-convergence"
#: Seconds to wait for a connection, and for the next bytes of an open transfer.
TIMEOUT = (5.0, 10.0)


class DataUnavailableError(FileNotFoundError):
    """A prepared subset is in none of the places :func:`find` looks, and cannot be downloaded; the message says
    which file, which folder and which address were tried, and what to do instead."""


def filename(name: str) -> str:
    """The file name of ``name``'s prepared subset, ``<name>-01.npz``.

    Examples:
        >>> from implicit.fetch import filename
        >>> filename("cifar10")
        'cifar10-01.npz'
    """
    return f"{name}-01.npz"


def _check_name(name: str) -> None:
    if name not in RAW_FOLDERS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(RAW_FOLDERS)}")


def _offline(data_dir: str | Path | None) -> tuple[Path, str] | None:
    """The offline folder and what named it (``data_dir=`` or the environment variable), or ``None``."""
    if data_dir is not None:
        return Path(data_dir).expanduser(), "data_dir="
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser(), DATA_ENV
    return None


def offline_directory(data_dir: str | Path | None = None) -> Path | None:
    """The offline folder: ``data_dir`` if given, else ``$IMPLICIT_DATA`` if set, else ``None`` (use the cache).

    Examples:
        >>> import os
        >>> from pathlib import Path
        >>> from unittest import mock
        >>> from implicit.fetch import offline_directory
        >>> offline_directory("~/images") == Path.home() / "images"
        True
        >>> with mock.patch.dict(os.environ, {"IMPLICIT_DATA": ""}):  # unset (or empty): no offline folder
        ...     print(offline_directory())
        None
    """
    found = _offline(data_dir)
    return found[0] if found else None


def _pooch():
    """pooch, imported without the warning its progress-bar module (``tqdm.auto``) prints in a Jupyter kernel that
    has no widgets (a page would show it, with the path of the installation)."""
    import warnings

    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)
        import pooch
    return pooch


def cache_directory() -> Path:
    """The user cache of downloaded subsets: ``pooch.os_cache("implicit-convergence")``, which is
    ``~/.cache/implicit-convergence`` on Linux (``$XDG_CACHE_HOME/implicit-convergence`` when that is set),
    ``~/Library/Caches/implicit-convergence`` on macOS and the local application-data cache on Windows.

    Examples:
        >>> from implicit.fetch import cache_directory
        >>> "implicit-convergence" in cache_directory().parts  # created by the first download, not here
        True
    """
    pooch = _pooch()

    return Path(pooch.os_cache(CACHE_NAME)).expanduser()


def data_directory(data_dir: str | Path | None = None) -> Path:
    """The folder :func:`find` reads: the offline folder (``data_dir``, else ``$IMPLICIT_DATA``) if there is one,
    else the user cache.

    Examples:
        >>> import os
        >>> from pathlib import Path
        >>> from unittest import mock
        >>> from implicit.fetch import cache_directory, data_directory
        >>> data_directory("~/images") == Path.home() / "images"
        True
        >>> with mock.patch.dict(os.environ, {"IMPLICIT_DATA": ""}):  # no offline folder: the cache
        ...     print(data_directory() == cache_directory())
        True
    """
    found = offline_directory(data_dir)
    return found if found is not None else cache_directory()


def base_url() -> str:
    """The address the subsets are downloaded from, ending in ``/``: ``$IMPLICIT_DATA_URL`` if set, else the GitHub
    data release :data:`implicit.release.DATA_URL`.

    Examples:
        >>> import os
        >>> from unittest import mock
        >>> from implicit.fetch import base_url
        >>> with mock.patch.dict(os.environ, {"IMPLICIT_DATA_URL": "https://mirror.example.org/implicit"}):
        ...     print(base_url())
        https://mirror.example.org/implicit/
    """
    url = os.environ.get(URL_ENV) or release.DATA_URL
    return url if url.endswith("/") else url + "/"


def sha256(path: str | Path) -> str:
    """The SHA-256 digest of the file ``path``, as 64 hexadecimal digits.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from implicit.fetch import sha256
        >>> path = Path(tempfile.mkdtemp()) / "hello.txt"
        >>> _ = path.write_bytes(b"hello")
        >>> sha256(path)
        '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find(name: str, data_dir: str | Path | None = None) -> Path:
    """The path of ``name``'s prepared subset ``<name>-01.npz``, downloading it on first use.

    Looked up in this order:

    1. ``data_dir`` if given, else ``$IMPLICIT_DATA`` if set: an offline folder; the file must be there (never
       downloaded).
    2. The user cache (:func:`cache_directory`); a file there is used as it is.
    3. A download into the cache from :func:`base_url` (``$IMPLICIT_DATA_URL``, else the GitHub data release),
       checked against :data:`REGISTRY` (:func:`download`). Only the subsets in :data:`REGISTRY` are published.

    Raises:
        ValueError: ``name`` is not one of the data sets of :mod:`implicit.rawformats`.
        DataUnavailableError: the file is not in the offline folder; or it is not cached and not published, or the
            download failed. The message names the file, the folder, the address, and the ways out.

    Examples:
        An offline folder holding a (here tiny) subset:

        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> from implicit.fetch import DataUnavailableError, find
        >>> folder = Path(tempfile.mkdtemp())
        >>> np.savez(folder / "mnist-01.npz", images=np.full((4, 28, 28), 255, np.uint8),
        ...          labels=np.array([0, 1, 0, 1], np.uint8), split=np.array([0, 0, 1, 1], np.uint8))
        >>> find("mnist", data_dir=folder) == folder / "mnist-01.npz"
        True
        >>> try:
        ...     find("cifar10", data_dir=folder)  # not there, and never downloaded into an offline folder
        ... except DataUnavailableError as err:
        ...     print(type(err).__name__, isinstance(err, FileNotFoundError))
        DataUnavailableError True
    """
    _check_name(name)
    file = filename(name)
    offline = _offline(data_dir)
    if offline is not None:
        folder, origin = offline
        path = folder / file
        if path.is_file():
            return path
        raise DataUnavailableError(_offline_message(name, path, origin))
    folder = cache_directory()
    path = folder / file
    if path.is_file():
        return path
    if name not in REGISTRY:
        raise DataUnavailableError(_unpublished_message(name, folder))
    return download(name, folder)


def download(name: str, folder: str | Path | None = None, *, progress: bool | None = None) -> Path:
    """Download ``name``'s prepared subset from :func:`base_url` into ``folder`` (default: the user cache) and return
    its path. The transfer goes to a temporary file that is renamed only once its SHA-256 matches :data:`REGISTRY`. A
    file already in ``folder`` with the registered digest is kept without any request; one with another digest is
    replaced.

    ``progress`` shows a progress bar on stderr; by default it does unless the environment variable ``CI`` is set.

    Raises:
        ValueError: ``name`` has no prepared subset in :data:`REGISTRY`.
        DataUnavailableError: the server cannot be reached or does not answer within :data:`TIMEOUT`, answers with
            an HTTP error, breaks the transfer off, or sends a file whose digest differs; or ``folder`` is not
            writable. Nothing is left under the file's name in ``folder`` (an older copy stays as it was).

    Examples:
        A server that cannot be reached (here a mirror on a closed local port) is one error, and nothing is saved:

        >>> import os, tempfile
        >>> from pathlib import Path
        >>> from unittest import mock
        >>> from implicit.fetch import DataUnavailableError, download
        >>> folder = Path(tempfile.mkdtemp())
        >>> with mock.patch.dict(os.environ, {"IMPLICIT_DATA_URL": "http://127.0.0.1:9/", "NO_PROXY": "127.0.0.1"}):
        ...     try:
        ...         download("mnist", folder, progress=False)
        ...     except DataUnavailableError as err:
        ...         print(type(err).__name__, list(folder.iterdir()))
        DataUnavailableError []
        >>> try:
        ...     download("svhn", folder)
        ... except ValueError as err:
        ...     print(err)
        no prepared subset of 'svhn' is published; the published ones are ['cifar10', 'fashionmnist', 'mnist']
    """
    pooch = _pooch()
    import requests

    if name not in REGISTRY:
        raise ValueError(f"no prepared subset of {name!r} is published; the published ones are {sorted(REGISTRY)}")
    folder = Path(folder).expanduser() if folder is not None else cache_directory()
    file = filename(name)
    url = base_url() + file
    if progress is None:
        progress = not _ci()
    stale = (folder / file).is_file()
    try:
        with _quiet_pooch():
            path = pooch.retrieve(url, known_hash=f"sha256:{REGISTRY[name]}", fname=file, path=folder,
                                  downloader=_Downloader(progress, SIZES.get(name)))
    except (requests.RequestException, ValueError, OSError) as err:  # RequestException is an OSError too
        raise DataUnavailableError(_download_message(name, folder, url, err, stale)) from err
    return Path(path)


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


class _Downloader:
    """A pooch downloader: HTTP(S) GET with :data:`TIMEOUT`, streamed in 64 KiB blocks to ``output_file`` (pooch's
    temporary file), with a progress bar on stderr when ``progress``. Unlike ``pooch.HTTPDownloader`` it closes the
    connection on every path (HTTP error, broken transfer), so no socket is left open."""

    def __init__(self, progress: bool, size: int | None = None) -> None:
        self.progress = progress
        self.size = size

    def __call__(self, url: str, output_file: str, pooch_object: object, check_only: bool = False) -> bool | None:
        import requests
        from tqdm.std import tqdm

        if check_only:
            with requests.head(url, timeout=TIMEOUT, allow_redirects=True) as response:
                return response.status_code == 200
        if self.progress:
            print(f"downloading {url}", file=sys.stderr)
        with requests.get(url, stream=True, timeout=TIMEOUT) as response:
            response.raise_for_status()
            total = int(response.headers.get("content-length", 0)) or self.size
            with open(output_file, "wb") as out, tqdm(total=total, unit="B", unit_scale=True, ncols=79,
                                                      desc=url.rsplit("/", 1)[-1], disable=not self.progress,
                                                      file=sys.stderr) as bar:
                for block in response.iter_content(chunk_size=1 << 16):
                    out.write(block)
                    bar.update(len(block))
        return None


@contextmanager
def _quiet_pooch() -> Iterator[None]:
    """Silence pooch's own log lines (its handler writes to the stderr of the moment pooch was imported);
    :class:`_Downloader` says what it downloads."""
    pooch = _pooch()

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)


def _reason(err: BaseException) -> str:
    """A few words on why a download failed."""
    import requests

    if isinstance(err, requests.HTTPError) and err.response is not None:
        return f"HTTP {err.response.status_code} {err.response.reason or ''}".strip()
    if isinstance(err, requests.Timeout):
        return f"the server did not answer within {TIMEOUT[0]:g} s (connecting) or {TIMEOUT[1]:g} s (reading)"
    if isinstance(err, requests.exceptions.ChunkedEncodingError):
        return "the transfer broke off before the end of the file"
    if isinstance(err, requests.ConnectionError):
        return "the server cannot be reached"
    if isinstance(err, requests.RequestException):
        return f"{type(err).__name__}"
    if isinstance(err, ValueError) and "hash" in str(err).lower():
        return "the file received does not have the registered SHA-256 digest (corrupt, or changed on the server)"
    if isinstance(err, OSError) and err.strerror:
        return f"{err.strerror}" + (f" ({err.filename})" if err.filename else "")
    return f"{type(err).__name__}: {err}"


def _download_message(name: str, folder: Path, url: str, err: BaseException, stale: bool) -> str:
    file = filename(name)
    where = f"{folder}/{file} differs from the registered version" if stale else f"{file} is not in {folder}"
    mirror = f" (set by {URL_ENV})" if os.environ.get(URL_ENV) else ""
    return (f"{where}, and the download from {url}{mirror} failed: {_reason(err)}; nothing was saved. Either set "
            f"{DATA_ENV} to a folder that holds {file}, or run `python -m implicit data fetch {name}` on a machine "
            f"with internet and copy the file it prints into {folder}.")


def _offline_message(name: str, path: Path, origin: str) -> str:
    file = filename(name)
    named = f"{origin} names an offline folder, so nothing is downloaded"
    if name not in REGISTRY:
        return (f"no offline copy of {name} at {path} ({named}), and no prepared {name} subset is published. Either "
                f"point {DATA_ENV} (or data_dir=) at a folder holding {file} (`python -m implicit data prepare "
                f"{name} --raw ROOT --out DIR` builds it from the original files), or pass download=True to build "
                f"it there with torchvision (pip install torchvision; needs network).")
    unset = f"unset {DATA_ENV}" if origin == DATA_ENV else f"leave out data_dir= (with {DATA_ENV} unset)"
    return (f"no offline copy of {name} at {path} ({named}). Either put {file} in {path.parent} (`python -m "
            f"implicit data fetch {name} --out DIR`, run on a machine with internet, downloads it into DIR), or "
            f"{unset} so that it is downloaded into the cache on first use.")


def _unpublished_message(name: str, folder: Path) -> str:
    file = filename(name)
    return (f"{file} is not in the cache {folder}, and no prepared {name} subset is published to download. Either "
            f"set {DATA_ENV} to a folder holding {file} (`python -m implicit data prepare {name} --raw ROOT --out "
            f"DIR` builds it from the original files), or pass download=True to build it with torchvision "
            f"(pip install torchvision; needs network).")


# -- command line ------------------------------------------------------------------------------------------------------

def _parser() -> ArgumentParser:
    published = ", ".join(REGISTRY)
    p = ArgumentParser(prog="python -m implicit data",
               description="The prepared image subsets (classes 0 and 1) that implicit.data.load_binary reads: "
                           "list them, download them into the cache, or build one from the original files.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    sub.add_parser("list", help="each subset: size, SHA-256, whether and where it is stored",
                   description="List the prepared subsets with their size and SHA-256 digest, and say whether each "
                               "is stored in the folder load_binary reads (IMPLICIT_DATA if set, else the cache).")
    f = sub.add_parser("fetch", help="download subsets into the cache and print their paths",
                       description=f"Download prepared subsets ({published}) from the data release, or from "
                                   f"{URL_ENV} if set, check their SHA-256, and print where each is saved. A file "
                                   f"already saved with the right digest is not downloaded again.")
    f.add_argument("names", nargs="+", metavar="NAME", help=f"a subset ({published}) or all")
    f.add_argument("--out", metavar="DIR", help="save into DIR instead of the cache (for example a folder to copy to "
                                                "a machine without internet and name in IMPLICIT_DATA)")
    r = sub.add_parser("prepare", help="build a subset from the original files and print its SHA-256",
                       description="Build NAME-01.npz from the original files of the data set (as torchvision "
                                   "downloads them) under ROOT, write it into DIR and print its path and SHA-256, "
                                   "for a maintainer who publishes subsets.")
    r.add_argument("name", metavar="NAME", choices=sorted(RAW_FOLDERS),
                   help=f"the data set: {', '.join(sorted(RAW_FOLDERS))}")
    r.add_argument("--raw", metavar="ROOT", required=True,
                   help="folder holding the original files: MNIST/raw, FashionMNIST/raw, cifar-10-batches-py, or "
                        "SVHN's train_32x32.mat and test_32x32.mat")
    r.add_argument("--out", metavar="DIR", required=True, help="folder to write NAME-01.npz into")
    return p


def _megabytes(size: int | None) -> str:
    return "?" if size is None else f"{size / 1e6:.2f} MB"


def _list() -> None:
    offline = _offline(None)
    folder = offline[0] if offline else cache_directory()
    print(f"prepared subsets (classes 0 and 1), data release {release.DATA_TAG}")
    print(f"download address: {base_url()}" + (f" (from {URL_ENV})" if os.environ.get(URL_ENV) else ""))
    if offline:
        print(f"{DATA_ENV} is set: load_binary reads {folder} and downloads nothing")
    else:
        print(f"cache: {folder}")
    rows = [("name", "size", "sha256", "status")]
    for name in REGISTRY:
        path = folder / filename(name)
        if not path.is_file():
            status = f"missing from {folder}" if offline else "not cached (downloaded on first use)"
        elif sha256(path) == REGISTRY[name]:
            status = f"{'present' if offline else 'cached'}: {path}"
        else:
            status = f"{path} differs from the registered digest" + ("" if offline else
                                                                     f" (data fetch {name} replaces it)")
        rows.append((name, _megabytes(SIZES.get(name)), REGISTRY[name], status))
    for name in RAW_FOLDERS:
        if name not in REGISTRY:
            rows.append((name, "-", "-", f"no prepared subset: build it with data prepare {name}, or call "
                                         f"load_binary('{name}', download=True) (torchvision)"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")


def _fetch(names: list[str], out: str | None) -> None:
    wanted = list(REGISTRY) if "all" in names else names
    for name in wanted:
        if name not in REGISTRY:
            extra = (f"; {name} has no prepared subset (build one with python -m implicit data prepare {name} --raw "
                     f"ROOT --out DIR)" if name in RAW_FOLDERS else "")
            raise CommandError(f"unknown subset {name!r}: choose from {', '.join(REGISTRY)} or all{extra}")
    offline = offline_directory()
    if out is None and offline is not None:
        print(f"note: {DATA_ENV} is set, so load_binary reads {offline}, not the cache", file=sys.stderr)
    for name in dict.fromkeys(wanted):
        try:
            print(download(name, out))
        except DataUnavailableError as err:
            raise CommandError(str(err), status=1) from None


def _prepare(name: str, raw: str, out: str) -> None:
    import pickle

    from .rawformats import convert_raw

    try:
        path = convert_raw(name, Path(raw).expanduser(), Path(out).expanduser())
    except (OSError, ValueError, pickle.UnpicklingError) as err:
        raise CommandError(f"cannot build {filename(name)} from {raw}: {err}", status=1) from None
    print(f"wrote {path} ({_megabytes(path.stat().st_size)})")
    print(f"sha256 {sha256(path)}")


def data_main(argv: list[str] | None = None) -> int:
    """``python -m implicit data COMMAND``: ``list``, ``fetch NAME [NAME ...]|all [--out DIR]``, ``prepare NAME --raw
    ROOT --out DIR``. Returns the exit status: 0 done (also for ``--help``), 1 a download or build failed, 2 a usage
    error; each error is one ``error: ...`` line on stderr.

    Examples:
        >>> from implicit.fetch import data_main
        >>> data_main(["fetch", "nosuch"])  # a usage error: status 2, and one error line on stderr
        2
    """
    return command(_data)(argv)


def _data(argv: list[str]) -> None:
    args = _parser().parse_args(argv)
    if args.command is None:
        raise CommandError("python -m implicit data: choose a command: list, fetch or prepare (see --help)")
    if args.command == "list":
        _list()
    elif args.command == "fetch":
        _fetch(args.names, args.out)
    else:
        _prepare(args.name, args.raw, args.out)
