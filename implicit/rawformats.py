"""Readers for the raw files torchvision downloads, and the conversion to this package's offline layout.

The offline layout (one ``<name>-01.npz`` per data set, classes 0 and 1 only) holds four arrays: ``images`` (uint8,
``(N, 28, 28)`` grayscale or ``(N, H, W, 3)`` RGB), ``labels`` (uint8, 0 or 1), ``split`` (uint8, 0 = official training
split, 1 = official test split) and ``index`` (int32, the image's position in its official split; provenance only,
:func:`implicit.data.load_binary` does not need it). Rows are sorted by split, then label, then index.

Raw layouts under a torchvision ``root``:

* MNIST / Fashion-MNIST: ``MNIST/raw`` or ``FashionMNIST/raw`` with the four IDX files (optionally gzipped);
* CIFAR-10: ``cifar-10-batches-py`` with the pickled ``data_batch_1..5`` and ``test_batch``;
* SVHN: ``train_32x32.mat`` and ``test_32x32.mat`` (label 10 stands for digit 0).

What each reader trusts (no reader runs code from a data file):

* IDX (:func:`read_idx`): nothing but bytes; the header is parsed with :mod:`struct`, and a payload whose size differs
  from the header's shape is an error.
* CIFAR-10: the batches are pickles, so they are read with a restricted unpickler that builds only dicts, lists,
  bytes, ints and NumPy arrays (the globals ``numpy._core.multiarray._reconstruct`` / ``scalar``,
  ``numpy._core.numeric._frombuffer``, ``numpy.ndarray``, ``numpy.dtype``, and ``_codecs.encode`` limited to latin-1,
  each also under its NumPy 1.x name ``numpy.core``); any other global is refused with :class:`pickle.UnpicklingError`.
* SVHN: :func:`scipy.io.loadmat` parses MATLAB v5 data and executes nothing; MATLAB objects stay inert data.
* The offline ``.npz`` (:func:`implicit.data.load_binary`): :func:`numpy.load` with ``allow_pickle=False``, so object
  arrays are refused; corrupt archives, missing arrays and a layout other than the above are errors naming the file.
"""
from __future__ import annotations

import gzip
import importlib
import math
import pickle
import struct
import zlib
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = ["read_idx", "read_raw", "convert_raw", "keep_binary", "RAW_FOLDERS"]

RAW_FOLDERS = {"mnist": "MNIST/raw", "fashionmnist": "FashionMNIST/raw", "cifar10": "cifar-10-batches-py", "svhn": "."}
_IDX_FILES = {0: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              1: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_CIFAR_SIDE = 32
_CIFAR_ROW = 3 * _CIFAR_SIDE * _CIFAR_SIDE  # 3072 bytes per image: R plane, G plane, B plane


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format: magic, dimensions, big-endian uint8 data), gzipped or not.

    Examples:
        >>> import pathlib, struct, tempfile
        >>> from implicit.rawformats import read_idx
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t10k-labels-idx1-ubyte"
        >>> path.write_bytes(struct.pack(">HBBI", 0, 0x08, 1, 3) + bytes([7, 2, 1]))  # magic, 1 dimension of 3
        11
        >>> read_idx(path)
        array([7, 2, 1], dtype=uint8)
    """
    path = Path(path)
    if not path.exists() and Path(str(path) + ".gz").exists():
        path = Path(str(path) + ".gz")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise ValueError(f"{path} is not a readable gzip file ({type(err).__name__}: {err}); download it "
                         f"again") from err
    if len(data) < 4:
        raise ValueError(f"{path} is too short ({len(data)} bytes) to be an IDX file; download it again")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {data[:4].hex()})")
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise ValueError(f"{path} is too short ({len(data)} bytes) for the {ndim} dimensions its header announces")
    shape = struct.unpack(">" + "I" * ndim, data[4:offset])
    expected = math.prod(shape)
    if len(data) - offset != expected:
        raise ValueError(f"{path}: the header announces shape {shape} ({expected} bytes of data) but the file holds "
                         f"{len(data) - offset}; it is truncated or not an IDX file, download it again")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


def _read_mnist_like(folder: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    return {split: (read_idx(folder / images), read_idx(folder / labels))
            for split, (images, labels) in _IDX_FILES.items()}


# -- CIFAR-10: pickles, read without running code -------------------------------------------------------------------

class _Refused(pickle.UnpicklingError):
    """A pickle asked for something a CIFAR-10 batch never needs (a global, a codec)."""


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it to rebuild ``bytes``, for the latin-1 codec only."""
    if not (isinstance(text, str) and isinstance(encoding, str) and isinstance(errors, str)
            and encoding.replace("_", "-").lower() in ("latin1", "latin-1", "iso-8859-1")):
        raise _Refused(f"refusing _codecs.encode with codec {encoding!r} (only latin-1 rebuilds bytes)")
    return text.encode("latin-1", errors)


def _numpy_module(name: str):
    """``numpy._core.<name>`` (NumPy 2) or ``numpy.core.<name>`` (NumPy 1.x), whichever this NumPy has."""
    try:
        return importlib.import_module(f"numpy._core.{name}")
    except ImportError:  # pragma: no cover - NumPy < 2
        return importlib.import_module(f"numpy.core.{name}")


@lru_cache(maxsize=1)
def _cifar_globals() -> dict[tuple[str, str], object]:
    """The only globals a CIFAR-10 batch may name, as ``(module, name)`` before Python 2 name fixing."""
    multiarray, numeric = _numpy_module("multiarray"), _numpy_module("numeric")
    allowed: dict[tuple[str, str], object] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                              ("_codecs", "encode"): _latin1_encode,
                                              ("builtins", "bytes"): bytes, ("__builtin__", "bytes"): bytes}
    for prefix in ("numpy.core", "numpy._core"):
        allowed[(f"{prefix}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{prefix}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{prefix}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class _CifarUnpickler(pickle.Unpickler):
    """An unpickler that builds plain data and NumPy arrays only: every other global is refused, so a crafted batch
    cannot run code (``pickle.load`` would call whatever callable the file names)."""

    def __init__(self, file: BinaryIO):
        super().__init__(file, encoding="bytes")

    def find_class(self, module: str, name: str) -> object:
        try:
            return _cifar_globals()[(module, name)]
        except KeyError:
            raise _Refused(f"refusing to load the global {module}.{name}") from None


def _unpickle_cifar_batch(path: Path) -> object:
    """The object pickled in ``path``, built by :class:`_CifarUnpickler`; errors name the file."""
    with open(path, "rb") as f:
        try:
            return _CifarUnpickler(f).load()
        except _Refused as err:
            raise pickle.UnpicklingError(
                f"{path}: {err}; a CIFAR-10 batch holds only dicts, lists, bytes, ints and NumPy arrays, so this file "
                f"is not a genuine batch (it may be crafted to run code). Delete it and download CIFAR-10 again.") \
                from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
                struct.error) as err:
            raise pickle.UnpicklingError(f"{path} is truncated or corrupted ({type(err).__name__}: {err}); download "
                                         f"CIFAR-10 again") from err


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 32, 32, 3)`` uint8 and labels ``(N,)`` int64 of one CIFAR-10 batch file, its layout checked."""
    raw = _unpickle_cifar_batch(path)
    if not isinstance(raw, dict) or not {b"data", b"labels"} <= raw.keys():
        found = sorted(raw.keys(), key=repr) if isinstance(raw, dict) else type(raw).__name__
        raise ValueError(f"{path} is not a CIFAR-10 batch: expected a dict with keys b'data' and b'labels', got "
                         f"{found}")
    data, labels = raw[b"data"], np.asarray(raw[b"labels"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        what = f"{data.dtype} array" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{path}: b'data' must be a uint8 array of shape (N, {_CIFAR_ROW}), got a {what}")
    if data.ndim != 2 or data.shape[1] != _CIFAR_ROW:
        raise ValueError(f"{path}: b'data' must have shape (N, {_CIFAR_ROW}), got {data.shape}")
    if labels.ndim != 1 or labels.size != data.shape[0] or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(f"{path}: b'labels' must hold one integer per image, got {labels.size} labels of dtype "
                         f"{labels.dtype} for {data.shape[0]} images")
    images = data.reshape(-1, 3, _CIFAR_SIDE, _CIFAR_SIDE).transpose(0, 2, 3, 1)
    return images, labels.astype(np.int64)


def _read_cifar10(folder: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    names = [f"data_batch_{i}" for i in range(1, 6) if (folder / f"data_batch_{i}").exists()]
    train = [_read_cifar_batch(folder / name) for name in names]
    if not train:
        raise FileNotFoundError(f"no CIFAR-10 training batches (data_batch_1..5) in {folder}")
    return {0: (np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train])),
            1: _read_cifar_batch(folder / "test_batch")}


def _read_svhn(folder: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    from scipy.io import loadmat

    out = {}
    for split, name in ((0, "train_32x32.mat"), (1, "test_32x32.mat")):
        path = folder / name
        mat = loadmat(path)  # MATLAB v5 data only; nothing in the file is executed
        if "X" not in mat or "y" not in mat:
            raise ValueError(f"{path} is not an SVHN file: it lacks the variable(s) "
                             f"{[k for k in ('X', 'y') if k not in mat]}")
        images, labels = mat["X"], mat["y"].reshape(-1).astype(np.int64)
        if images.ndim != 4 or images.shape[2] != 3 or images.shape[3] != labels.size:
            raise ValueError(f"{path}: X must have shape (32, 32, 3, N) with N = {labels.size} labels, got "
                             f"{images.shape}")
        out[split] = (np.ascontiguousarray(images.transpose(3, 0, 1, 2)), np.where(labels == 10, 0, labels))
    return out


def read_raw(name: str, root: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """All images and labels of both official splits, ``{0: (train_images, train_labels), 1: (test...)}``.

    Examples:
        >>> import pathlib, tempfile
        >>> import numpy as np
        >>> from scipy.io import savemat
        >>> from implicit.rawformats import read_raw
        >>> root = pathlib.Path(tempfile.mkdtemp())  # two tiny SVHN files, images (32, 32, 3, N) as in the original
        >>> for name in ("train_32x32.mat", "test_32x32.mat"):
        ...     savemat(root / name, {"X": np.zeros((32, 32, 3, 3), np.uint8), "y": np.array([[10], [1], [2]])})
        >>> splits = read_raw("svhn", root)
        >>> splits[0][0].shape, splits[0][1].tolist()  # images first; label 10 is the digit 0
        ((3, 32, 32, 3), [0, 1, 2])
    """
    if name not in RAW_FOLDERS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(RAW_FOLDERS)}")
    folder = Path(root) / RAW_FOLDERS[name]
    readers = {"mnist": _read_mnist_like, "fashionmnist": _read_mnist_like, "cifar10": _read_cifar10,
               "svhn": _read_svhn}
    return readers[name](folder)


def keep_binary(splits: dict[int, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Classes 0 and 1 of both splits in the offline layout, sorted by split, label, index.

    Examples:
        >>> import numpy as np
        >>> from implicit.rawformats import keep_binary
        >>> images = np.arange(4, dtype=np.uint8).reshape(4, 1, 1)
        >>> out = keep_binary({0: (images, np.array([1, 0, 2, 0])), 1: (images, np.array([2, 2, 1, 0]))})
        >>> out["labels"].tolist(), out["split"].tolist(), out["index"].tolist()
        ([0, 0, 1, 0, 1], [0, 0, 0, 1, 1], [1, 3, 0, 3, 2])
    """
    rows = {"images": [], "labels": [], "split": [], "index": []}
    for split in (0, 1):
        images, labels = splits[split]
        for label in (0, 1):
            idx = np.flatnonzero(labels == label)
            rows["images"].append(images[idx])
            rows["labels"].append(np.full(idx.size, label, dtype=np.uint8))
            rows["split"].append(np.full(idx.size, split, dtype=np.uint8))
            rows["index"].append(idx.astype(np.int32))
    return {k: np.concatenate(v) for k, v in rows.items()}


def convert_raw(name: str, root: Path, out_dir: Path) -> Path:
    """Read ``name``'s raw files under ``root`` and write ``out_dir/<name>-01.npz``; return its path.

    Examples:
        >>> import pathlib, tempfile
        >>> import numpy as np
        >>> from scipy.io import savemat
        >>> from implicit.rawformats import convert_raw
        >>> root = pathlib.Path(tempfile.mkdtemp())  # two tiny SVHN files, images (32, 32, 3, N) as in the original
        >>> for name in ("train_32x32.mat", "test_32x32.mat"):
        ...     savemat(root / name, {"X": np.ones((32, 32, 3, 3), np.uint8), "y": np.array([[10], [1], [2]])})
        >>> path = convert_raw("svhn", root, root / "offline")
        >>> path.name, np.load(path)["labels"].tolist(), np.load(path)["split"].tolist()  # digit 2 dropped
        ('svhn-01.npz', [0, 1, 0, 1], [0, 0, 1, 1])
    """
    arrays = keep_binary(read_raw(name, root))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}-01.npz"
    np.savez_compressed(path, **arrays)
    return path
