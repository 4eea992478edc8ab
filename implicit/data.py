r"""Data sets that satisfy Assumption 2: unit-norm rows, no two of them parallel.

* :func:`sphere`: seeded points uniform on the unit sphere :math:`\mathbb S^{d-1}` (synthetic; exact control of
  :math:`n` and :math:`d`).
* :func:`digits`: a real, offline image set: scikit-learn's bundled 8×8 handwritten digits, two classes.
* :func:`load_binary`: the paper's experiment data (MNIST, Fashion-MNIST, CIFAR-10, SVHN; classes 0 vs 1), from an
  offline folder, the user cache, or downloaded on first use (:mod:`implicit.fetch`; SVHN with torchvision).
* :func:`ensure_not_parallel`: the Assumption 2 repair the paper prescribes: perturb one sample of every (nearly)
  parallel pair with Gaussian noise and renormalise.

The offline files are read without pickle and checked against the layout :mod:`implicit.rawformats` documents; a file
that is corrupt or does not fit is a :class:`DataFileError` naming the file (and the array, where one is at fault).
"""
from __future__ import annotations

import operator
import struct
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .rawformats import convert_raw

__all__ = ["PREPARED", "unit_rows",
           "ensure_not_parallel", "sphere", "digits", "encode_labels", "BinaryData", "load_binary",
           "download_binary", "data_directory", "BINARY_DATASETS", "DataFileError"]


def _row_list(mask: Tensor | np.ndarray, shown: int = 10) -> str:
    """The indices where the 1-D boolean ``mask`` is true (or, for an integer array, its sorted values), as
    ``[i, j, ...]``: the first ``shown`` only, with the total when there are more."""
    mask = np.asarray(mask)
    rows = (np.flatnonzero(mask) if mask.dtype == bool else np.unique(mask)).tolist()
    more = f" ({len(rows)} in all)" if len(rows) > shown else ""
    return f"{rows[:shown]}{more}"


def unit_rows(X: Tensor) -> Tensor:
    r"""Rows scaled to unit :math:`\ell_2` norm. A row with NaN or inf, a zero row (it has no direction) and a row whose
    norm overflows ``X``'s dtype are errors listing the rows.

    Examples:
        >>> import torch
        >>> from implicit.data import unit_rows
        >>> unit_rows(torch.tensor([[3.0, 4.0], [0.0, -2.0]], dtype=torch.float64)).tolist()
        [[0.6, 0.8], [0.0, -1.0]]
        >>> try:
        ...     unit_rows(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
        ... except ValueError as err:
        ...     print(err)
        rows [1] are zero and cannot be normalised to unit norm
    """
    finite = torch.isfinite(X).all(dim=1)
    if not bool(finite.all()):
        raise ValueError(f"rows {_row_list(~finite)} contain NaN or inf and cannot be normalised to unit norm")
    norms = torch.linalg.vector_norm(X, dim=1, keepdim=True)
    if bool((norms == 0).any()):
        raise ValueError(f"rows {_row_list(norms.squeeze(1) == 0)} are zero and cannot be normalised to unit norm")
    if not bool(torch.isfinite(norms).all()):
        raise ValueError(f"rows {_row_list(~torch.isfinite(norms.squeeze(1)))} have norms that overflow {X.dtype}; "
                         f"rescale X or convert it to torch.float64")
    return X / norms


def _parallel_pairs(X: Tensor, tol: float) -> list[tuple[int, int]]:
    C = (X @ X.T).abs()
    C.fill_diagonal_(0.0)
    idx = torch.nonzero(torch.triu(C >= 1 - tol, diagonal=1))
    return [(int(i), int(j)) for i, j in idx]


def ensure_not_parallel(X: Tensor, *, tol: float = 1e-6, noise: float = 1e-3, seed: int = 0,
                        max_rounds: int = 100) -> Tensor:
    r"""Assumption 2: return unit rows with :math:`|\langle x_i, x_j\rangle| < 1 - \mathrm{tol}` for all :math:`i\ne j`.

    For every pair at or above the threshold, the second row gets Gaussian noise of standard deviation ``noise`` per
    coordinate and is renormalised, repeated until no pair remains. Rows that already satisfy the assumption are
    returned unchanged (up to normalisation).

    Examples:
        >>> import torch
        >>> from implicit.data import ensure_not_parallel
        >>> X = ensure_not_parallel(torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]], dtype=torch.float64))
        >>> X[0].tolist(), X[2].tolist()  # unit rows; only the second of the parallel pair (0, 1) moved
        ([1.0, 0.0], [0.0, 1.0])
        >>> bool(abs(X[0] @ X[1]) < 1 - 1e-6), round(float(X[1].norm()), 12)
        (True, 1.0)
    """
    X = unit_rows(X.clone())
    gen = torch.Generator().manual_seed(seed)
    for _ in range(max_rounds):
        pairs = _parallel_pairs(X, tol)
        if not pairs:
            return X
        for j in sorted({j for _, j in pairs}):
            X[j] += noise * torch.randn(X.shape[1], generator=gen, dtype=torch.float64).to(X)
        X = unit_rows(X)
    raise RuntimeError(f"could not separate parallel rows within {max_rounds} rounds; raise noise={noise}")


def sphere(n: int, d: int, *, seed: int = 0, dtype: torch.dtype = torch.float64, device: str = "cpu") -> Tensor:
    r"""``n`` seeded points uniform on the unit sphere in :math:`\mathbb R^d` (normalised Gaussians), pairwise
    non-parallel (Assumption 2), shape ``(n, d)``.

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> X = sphere(5, 3, seed=0)
        >>> X.shape, X.dtype, torch.allclose(X.norm(dim=1), torch.ones(5, dtype=torch.float64))
        (torch.Size([5, 3]), torch.float64, True)
        >>> torch.equal(X, sphere(5, 3, seed=0))  # the same seed gives the same points
        True
    """
    if n < 1 or d < 1:
        raise ValueError(f"need n >= 1 and d >= 1, got n={n}, d={d}")
    gen = torch.Generator().manual_seed(seed)
    X = ensure_not_parallel(torch.randn(n, d, generator=gen, dtype=torch.float64), seed=seed)
    return X.to(dtype=dtype, device=device)


def encode_labels(labels: Tensor, classes: tuple[int, int], encoding: str) -> Tensor:
    """Map class labels to regression targets: ``"pm1"`` gives -1/+1, ``"01"`` gives 0/1 (first class first).

    Examples:
        >>> import torch
        >>> from implicit.data import encode_labels
        >>> labels = torch.tensor([3, 5, 5, 3])
        >>> encode_labels(labels, (3, 5), "pm1").tolist(), encode_labels(labels, (3, 5), "01").tolist()
        ([-1.0, 1.0, 1.0, -1.0], [0.0, 1.0, 1.0, 0.0])
    """
    if encoding not in ("pm1", "01"):
        raise ValueError(f"encoding must be 'pm1' or '01', got {encoding!r}")
    positive = (labels == classes[1]).to(torch.float64)
    return 2 * positive - 1 if encoding == "pm1" else positive


def _check_sample_size(n: object, available: int, classes: tuple[int, int]) -> int:
    """``n`` as an int if it is an integer in ``[1, available]`` (Python or NumPy; not bool), else ``ValueError``."""
    bounds = f"between 1 and {available} for classes {classes}"
    if isinstance(n, (bool, np.bool_)):
        raise ValueError(f"n must be an integer {bounds}, got bool {n!r}")
    try:
        n = operator.index(n)
    except TypeError:
        raise ValueError(f"n must be an integer {bounds}, got {type(n).__name__} {n!r}") from None
    if not 1 <= n <= available:
        raise ValueError(f"n must be {bounds}, got {n}")
    return n


def digits(n: int | None = None, *, classes: tuple[int, int] = (0, 1), encoding: str = "pm1", seed: int = 0,
           dtype: torch.dtype = torch.float64, device: str = "cpu") -> tuple[Tensor, Tensor]:
    r"""scikit-learn's bundled handwritten digits (8×8, :math:`d = 64`), two classes, flattened, unit-norm rows,
    parallel pairs perturbed (Assumption 2). Works offline.

    Args:
        n: number of samples, drawn without replacement with ``seed`` (default: all, 360 for classes 0 and 1).
        classes: the two digit classes.
        encoding: targets as ``"pm1"`` (-1/+1) or ``"01"``.

    Returns:
        ``(X, y)`` with shapes ``(n, 64)`` and ``(n,)``.

    Examples:
        >>> from implicit.data import digits
        >>> X, y = digits(100, classes=(3, 8), seed=0)
        >>> X.shape, y.shape, sorted(set(y.tolist()))
        (torch.Size([100, 64]), torch.Size([100]), [-1.0, 1.0])
        >>> round(float(X.norm(dim=1).max()), 12)
        1.0
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("implicit.data.digits needs scikit-learn: pip install scikit-learn") from err
    bunch = load_digits()
    images = torch.as_tensor(bunch.data, dtype=torch.float64)
    labels = torch.as_tensor(bunch.target)
    keep = (labels == classes[0]) | (labels == classes[1])
    images, labels = images[keep], labels[keep]
    if n is not None:
        n = _check_sample_size(n, len(labels), classes)
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[:n]
        images, labels = images[order], labels[order]
    X = ensure_not_parallel(images, seed=seed)
    y = encode_labels(labels, classes, encoding)
    return X.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device)


# -- the paper's binary image sets (Section 4) ---------------------------------------------------------------------

#: The data sets of the paper's experiment, with their torchvision class names.
BINARY_DATASETS = {"mnist": "MNIST", "fashionmnist": "FashionMNIST", "cifar10": "CIFAR10", "svhn": "SVHN"}
#: The data sets with a prepared subset, found offline, in the cache or downloaded on first use (see
#: :mod:`implicit.fetch`).
PREPARED = ("mnist", "fashionmnist", "cifar10")
#: The environment variable naming the offline data folder (read only, nothing downloaded); as in implicit.fetch.
DATA_ENV = "IMPLICIT_DATA"
#: Images are converted to grayscale and resized to this side length (d = 784), as in the paper.
SIDE = 28
#: The arrays :func:`load_binary` needs in an offline file; ``index`` (provenance) is checked when present.
REQUIRED_ARRAYS = ("images", "labels", "split")
OPTIONAL_ARRAYS = ("index",)
#: What reading a truncated or bit-flipped ``.npz`` raises: zip structure and CRC, deflate stream, end of data, a seek
#: to a garbled offset (``OSError``; the file itself is opened outside these handlers, so a missing file stays a
#: ``FileNotFoundError``), and NumPy's ``.npy`` header and size checks (``ValueError``, which also covers object arrays
#: under allow_pickle=False; the header tokenizer's ``TokenError``).
_CORRUPT_NPZ = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, struct.error,
                OverflowError, SyntaxError, tokenize.TokenError)
_RECREATE = ("re-create it (delete it, then run `python -m implicit data fetch NAME` or call load_binary with "
             "download=True, or rebuild it with implicit.rawformats.convert_raw)")


class DataFileError(ValueError):
    """An offline data file that cannot be read, lacks an array, or does not fit the layout of
    :mod:`implicit.rawformats`; the message names the file and, where one is at fault, the array."""


@dataclass
class BinaryData:
    r"""A binary task (classes 0 vs 1): unit-norm training and test rows of dimension 784, targets, provenance.

    ``info`` records the data set, source file, classes, counts per class and split, seed, label encoding and
    preprocessing, so a run's JSON can say exactly what it trained on.

    Examples:
        :func:`load_binary` returns one; any unit-norm rows and targets make one:

        >>> import torch
        >>> from implicit.data import BinaryData, sphere
        >>> X, y = sphere(6, 784), torch.tensor([-1.0, 1.0] * 3, dtype=torch.float64)
        >>> task = BinaryData(X[:4], y[:4], X[4:], y[4:], info={"dataset": "sphere", "n_train": 4, "n_test": 2})
        >>> task.X_train.shape, task.X_test.shape, task.info["dataset"]
        (torch.Size([4, 784]), torch.Size([2, 784]), 'sphere')
    """

    X_train: Tensor
    y_train: Tensor
    X_test: Tensor
    y_test: Tensor
    info: dict


def data_directory(data_dir: str | Path | None = None) -> Path:
    """The folder :func:`load_binary` reads: ``data_dir`` if given, else ``$IMPLICIT_DATA`` if set (an offline folder),
    else the user cache :func:`implicit.fetch.cache_directory` (``~/.cache/implicit-convergence`` on Linux).

    Examples:
        >>> import os
        >>> from pathlib import Path
        >>> from unittest import mock
        >>> from implicit.data import data_directory
        >>> data_directory("~/images") == Path.home() / "images"
        True
        >>> with mock.patch.dict(os.environ, {"IMPLICIT_DATA": ""}):  # no offline folder: the cache
        ...     print("implicit-convergence" in data_directory().parts)
        True
    """
    from . import fetch

    return fetch.data_directory(data_dir)


def __getattr__(attr: str):
    """``implicit.data.DataUnavailableError`` is :class:`implicit.fetch.DataUnavailableError` (loaded on use)."""
    if attr == "DataUnavailableError":
        from .fetch import DataUnavailableError

        return DataUnavailableError
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def _locate(name: str, data_dir: str | Path | None, download: bool) -> Path:
    """``<name>-01.npz`` as :func:`implicit.fetch.find` finds it (offline folder, cache, download on first use); if it
    cannot and ``download`` is true, built with torchvision into the folder it looked in (:func:`download_binary`)."""
    from . import fetch

    try:
        return fetch.find(name, data_dir)
    except fetch.DataUnavailableError:
        if not download:
            raise
    return download_binary(name, data_dir)


def download_binary(name: str, data_dir: str | Path | None = None, root: str | Path | None = None) -> Path:
    """Download ``name``'s original files with torchvision (network needed; into ``root``, default
    ``<folder>/raw``) and write ``<name>-01.npz`` into the folder :func:`data_directory` gives for ``data_dir``, so
    later runs need no network. Returns the file's path. Unlike the prepared subsets of :mod:`implicit.fetch`, this
    keeps every image of classes 0 and 1 (the original files are 10 to 250 MB).

    Examples:
        Original files already under ``root`` are used as they are, with no download (here tiny stand-ins for
        MNIST's four IDX files: bytes 0, 0, type 8 (uint8) and rank, the big-endian sizes, then the values; 3 white
        images labelled 0, 1 and 7 in each split). Without torchvision the call stops at once with an
        ``ImportError`` that says what to install.

        >>> import tempfile
        >>> from pathlib import Path
        >>> from implicit.data import download_binary
        >>> folder = Path(tempfile.mkdtemp())
        >>> raw = folder / "raw" / "MNIST" / "raw"  # root = folder / "raw", laid out as torchvision downloads it
        >>> raw.mkdir(parents=True)
        >>> images = bytes([0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28]) + bytes([255]) * 3 * 28 * 28
        >>> labels = bytes([0, 0, 8, 1, 0, 0, 0, 3]) + bytes([0, 1, 7])
        >>> for part in ("train", "t10k"):
        ...     _ = (raw / f"{part}-images-idx3-ubyte").write_bytes(images)
        ...     _ = (raw / f"{part}-labels-idx1-ubyte").write_bytes(labels)
        >>> try:
        ...     path = download_binary("mnist", data_dir=folder)  # reads folder / "raw", writes folder / "mnist-01.npz"
        ... except ImportError as err:  # torchvision is not installed
        ...     print("pip install torchvision" in str(err))
        ... else:
        ...     print(path == folder / "mnist-01.npz")
        True
    """
    try:
        import torchvision.datasets as tvd
    except ImportError as err:
        raise ImportError(f"downloading {name} needs torchvision: pip install torchvision (or put {name}-01.npz in "
                          f"{data_directory(data_dir)})") from err
    out = data_directory(data_dir)
    root = Path(root) if root is not None else out / "raw"
    cls = getattr(tvd, BINARY_DATASETS[name])
    for train in (True, False):
        if name == "svhn":
            cls(str(root), split="train" if train else "test", download=True)
        else:
            cls(str(root), train=train, download=True)
    return convert_raw(name, root, out)


def _preprocess(images: np.ndarray) -> Tensor:
    """uint8 images -> float64 grayscale 28x28 rows: luma weights (0.2989, 0.587, 0.114) as torchvision's
    ``Grayscale``, bilinear antialiased resize as ``Resize``, then flattening."""
    x = torch.as_tensor(images, dtype=torch.float64) / 255.0
    if x.ndim == 4:  # (N, H, W, 3) RGB
        x = x @ torch.tensor([0.2989, 0.587, 0.114], dtype=torch.float64)
    if x.shape[1:] != (SIDE, SIDE):
        x = torch.nn.functional.interpolate(x[:, None], size=(SIDE, SIDE), mode="bilinear", antialias=True,
                                            align_corners=False)[:, 0]
    return x.reshape(x.shape[0], -1)


def _check_count(name: str, value: object) -> int:
    """``value`` as an int if it is a positive integer (Python or NumPy; not bool), else ``ValueError`` naming
    ``name``: a count of zero, a negative count or a fraction has no meaning here."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a positive int, got bool {value!r}")
    try:
        count = operator.index(value)  # Python and NumPy integers; not floats, strings or None
    except TypeError:
        raise ValueError(f"{name} must be a positive int, got {type(value).__name__} {value!r}") from None
    if count < 1:
        raise ValueError(f"{name} must be a positive int, got {count!r}")
    return count


def _read_offline(path: Path) -> dict[str, np.ndarray]:
    """The arrays of the offline file ``path`` (``images``, ``labels``, ``split``; ``index`` if present), read with
    ``allow_pickle=False``. An unreadable archive, a missing array or a corrupt one is a :class:`DataFileError`."""
    with open(path, "rb") as f:  # our handle, closed on every path (np.load(path) leaks its own on BadZipFile)
        try:
            npz = np.load(f, allow_pickle=False)
        except _CORRUPT_NPZ as err:
            raise DataFileError(f"{path} is not a readable .npz archive, it is truncated or corrupt "
                                f"({type(err).__name__}: {err}); {_RECREATE}") from err
        if isinstance(npz, np.ndarray):
            raise DataFileError(f"{path} holds a single array (a .npy file), not the .npz archive of arrays "
                                f"{', '.join(REQUIRED_ARRAYS)} that load_binary needs; {_RECREATE}")
        with npz:
            missing = [k for k in REQUIRED_ARRAYS if k not in npz.files]
            if missing:
                raise DataFileError(f"{path} lacks the array(s) {missing} (it holds {sorted(npz.files)}); the offline "
                                    f"layout needs {list(REQUIRED_ARRAYS)} (see implicit.rawformats); {_RECREATE}")
            return {key: _read_member(npz, key, path) for key in REQUIRED_ARRAYS + OPTIONAL_ARRAYS if key in npz.files}


def _read_member(npz, key: str, path: Path) -> np.ndarray:
    """Array ``key`` of the open archive ``npz`` (of file ``path``); a corrupt member is a :class:`DataFileError`."""
    try:
        return npz[key]
    except _CORRUPT_NPZ as err:
        raise DataFileError(f"{path}: array {key!r} cannot be read, the file is truncated or corrupt "
                            f"({type(err).__name__}: {err}); {_RECREATE}") from err


def _check_images(images: np.ndarray, path: Path) -> None:
    """``images`` must be uint8 of shape ``(N, H, W)`` or ``(N, H, W, 3)`` with ``H, W >= 1``."""
    layout = "uint8 pixel values of shape (N, H, W) (grayscale) or (N, H, W, 3) (RGB)"
    if images.dtype != np.uint8:
        raise DataFileError(f"{path}: array 'images' must hold {layout}, got dtype {images.dtype} (NaN, inf and "
                            f"fractions have no place in an image file); {_RECREATE}")
    rgb = images.ndim == 4 and images.shape[3] == 3
    if not (images.ndim == 3 or rgb) or min(images.shape[1:3], default=0) < 1:
        raise DataFileError(f"{path}: array 'images' must hold {layout}, got shape {images.shape}; {_RECREATE}")


def _check_per_image(arrays: dict[str, np.ndarray], path: Path) -> None:
    """``labels``, ``split`` (and ``index``): 1-D integer arrays with one entry per image; labels and split in
    ``{0, 1}``, since anything else would be dropped silently by the sampling."""
    n = len(arrays["images"])
    for key in ("labels", "split") + OPTIONAL_ARRAYS:
        if key not in arrays:
            continue
        values = arrays[key]
        if values.ndim != 1 or values.shape[0] != n:
            raise DataFileError(f"{path}: array {key!r} has {values.shape[0] if values.ndim else 0} entries (shape "
                                f"{values.shape}) but 'images' has {n} images; every array must have one entry per "
                                f"image; {_RECREATE}")
        if values.dtype.kind not in "biu":
            raise DataFileError(f"{path}: array {key!r} must hold integers, got dtype {values.dtype}; {_RECREATE}")
    for key, meaning in (("labels", "classes 0 and 1 only"), ("split", "0 = training, 1 = test")):
        bad = (arrays[key] != 0) & (arrays[key] != 1)
        if bad.any():
            values = np.unique(arrays[key][bad]).tolist()
            raise DataFileError(f"{path}: array {key!r} holds the values {values} at rows {_row_list(bad)}; the "
                                f"offline layout allows {meaning}; {_RECREATE}")


def _sample(arrays, split: int, per_class: int, gen: torch.Generator, name: str, path: Path) -> tuple[np.ndarray,
                                                                                                     np.ndarray]:
    chosen = []
    for label in (0, 1):
        pool = np.flatnonzero((arrays["split"] == split) & (arrays["labels"] == label))
        if per_class > pool.size:
            which = ("training", "test")[split]
            raise ValueError(f"{name} has only {pool.size} images of class {label} in the {which} split of {path}; "
                             f"ask for at most {pool.size} per class (n_{('train', 'test')[split]}_per_class), or "
                             f"download the full set with download=True")
        chosen.append(pool[torch.randperm(pool.size, generator=gen)[:per_class].numpy()])
    idx = np.concatenate(chosen)
    images = arrays["images"][idx]
    blank = images.reshape(len(idx), -1).max(axis=1, initial=0) == 0
    if blank.any():
        raise DataFileError(f"{path}: the images at rows {_row_list(idx[blank])} are all black (every pixel 0), so "
                            f"they have no direction to normalise; remove them from the file or draw with another seed")
    return images, arrays["labels"][idx]


def load_binary(name: str, n_train_per_class: int = 500, n_test_per_class: int = 500, *, seed: int = 0,
                data_dir: str | Path | None = None, encoding: str = "pm1", download: bool = False,
                dtype: torch.dtype = torch.float64, device: str = "cpu") -> BinaryData:
    r"""The paper's binary task on ``name`` (``mnist``, ``fashionmnist``, ``cifar10`` or ``svhn``): classes 0 and 1,
    ``n_train_per_class`` training and ``n_test_per_class`` test images per class drawn with ``seed`` from the official
    splits, grayscale, resized to 28×28, flattened, unit :math:`\ell_2` norm; training rows made pairwise
    non-parallel (Assumption 2).

    The images come from ``<name>-01.npz``, looked up in this order (:func:`implicit.fetch.find`):

    1. ``data_dir`` if given, else ``$IMPLICIT_DATA`` if set: an offline folder, from which nothing is downloaded;
    2. the user cache, ``~/.cache/implicit-convergence`` on Linux (:func:`implicit.fetch.cache_directory`);
    3. for MNIST, Fashion-MNIST and CIFAR-10, a download of the prepared subset into the cache (0.7, 5.9 and 2.6 MB)
       from ``$IMPLICIT_DATA_URL``, else the project's GitHub data release, checked against its SHA-256 digest.

    If none of these gives the file and ``download`` is true, torchvision downloads the full data set and the file is
    written into the folder of step 1 or 2 (:func:`download_binary`); this is the only way to SVHN.

    Raises:
        ValueError: ``name`` or ``encoding`` unknown, a count that is not a positive integer, or more images asked
            for than the file holds.
        DataFileError: the file is truncated or corrupt, lacks ``images``, ``labels`` or ``split``, or does not fit
            the layout of :mod:`implicit.rawformats` (uint8 images ``(N, H, W)`` or ``(N, H, W, 3)``, one label and
            split entry per image, both in {0, 1}); a sampled image is all black. The message names the file.
        DataUnavailableError: (a ``FileNotFoundError``) the file is missing and ``download`` is false: not in the
            offline folder, or not cached and its download failed. The message says what was tried and what to do.

    Examples:
        An offline folder holding a tiny ``mnist-01.npz`` (the real one holds 500 images per class and split):

        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> from implicit.data import load_binary
        >>> folder = Path(tempfile.mkdtemp())
        >>> np.savez(folder / "mnist-01.npz", images=np.random.default_rng(0).integers(1, 256, (8, 28, 28), np.uint8),
        ...          labels=np.array([0, 1] * 4, np.uint8), split=np.array([0] * 4 + [1] * 4, np.uint8))
        >>> task = load_binary("mnist", 2, 1, data_dir=folder, seed=0)
        >>> task.X_train.shape, task.X_test.shape, task.y_train.tolist(), task.info["source"]
        (torch.Size([4, 784]), torch.Size([2, 784]), [-1.0, -1.0, 1.0, 1.0], 'mnist-01.npz')
    """
    if name not in BINARY_DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(BINARY_DATASETS)}")
    n_train_per_class = _check_count("n_train_per_class", n_train_per_class)
    n_test_per_class = _check_count("n_test_per_class", n_test_per_class)
    if encoding not in ("pm1", "01"):
        raise ValueError(f"encoding must be 'pm1' or '01', got {encoding!r}")
    path = _locate(name, data_dir, download)
    arrays = _read_offline(path)
    _check_images(arrays["images"], path)
    _check_per_image(arrays, path)
    gen = torch.Generator().manual_seed(seed)
    train_images, train_labels = _sample(arrays, 0, n_train_per_class, gen, name, path)
    test_images, test_labels = _sample(arrays, 1, n_test_per_class, gen, name, path)
    try:
        X_train = ensure_not_parallel(_preprocess(train_images), seed=seed)
        X_test = unit_rows(_preprocess(test_images))
    except ValueError as err:  # the checks above leave nothing for this; kept so no message loses the file
        raise DataFileError(f"{path}: the sampled images cannot be preprocessed: {err}") from err
    to = dict(dtype=dtype, device=device)
    info = {"dataset": name, "source": path.name, "classes": [0, 1], "n_train_per_class": n_train_per_class,
            "n_test_per_class": n_test_per_class, "n_train": int(X_train.shape[0]), "n_test": int(X_test.shape[0]),
            "seed": seed, "encoding": encoding,
            "preprocessing": "grayscale (luma 0.2989/0.587/0.114), bilinear antialiased resize to 28x28, flatten, "
                             "unit l2 norm, parallel training pairs perturbed"}
    return BinaryData(X_train=X_train.to(**to), y_train=encode_labels(torch.as_tensor(train_labels), (0, 1),
                                                                         encoding).to(**to),
                      X_test=X_test.to(**to), y_test=encode_labels(torch.as_tensor(test_labels), (0, 1),
                                                                    encoding).to(**to), info=info)
