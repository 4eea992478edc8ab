"""Readers for the raw files torchvision downloads, and the conversion to this package's offline layout.

The offline layout (one ``<name>-01.npz`` per data set, classes 0 and 1 only) holds four arrays: ``images`` (uint8,
``(N, 28, 28)`` grayscale or ``(N, H, W, 3)`` RGB), ``labels`` (uint8, 0 or 1), ``split`` (uint8, 0 = official training
split, 1 = official test split) and ``index`` (int32, the image's position in its official split). Rows are sorted by
split, then label, then index.

Raw layouts under a torchvision ``root``:

* MNIST / Fashion-MNIST: ``MNIST/raw`` or ``FashionMNIST/raw`` with the four IDX files (optionally gzipped);
* CIFAR-10: ``cifar-10-batches-py`` with the pickled ``data_batch_1..5`` and ``test_batch``;
* SVHN: ``train_32x32.mat`` and ``test_32x32.mat`` (label 10 stands for digit 0).
"""
from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

__all__ = ["read_idx", "read_raw", "convert_raw", "keep_binary", "RAW_FOLDERS"]

RAW_FOLDERS = {"mnist": "MNIST/raw", "fashionmnist": "FashionMNIST/raw", "cifar10": "cifar-10-batches-py", "svhn": "."}
_IDX_FILES = {0: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              1: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format: magic, dimensions, big-endian uint8 data), gzipped or not."""
    path = Path(path)
    if not path.exists() and Path(str(path) + ".gz").exists():
        path = Path(str(path) + ".gz")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {data[:4].hex()})")
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _read_mnist_like(folder: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    return {split: (read_idx(folder / images), read_idx(folder / labels))
            for split, (images, labels) in _IDX_FILES.items()}


def _read_cifar10(folder: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    def batch(name: str) -> tuple[np.ndarray, np.ndarray]:
        with open(folder / name, "rb") as f:
            raw = pickle.load(f, encoding="bytes")
        images = np.asarray(raw[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return images, np.asarray(raw[b"labels"], dtype=np.int64)

    train = [batch(f"data_batch_{i}") for i in range(1, 6) if (folder / f"data_batch_{i}").exists()]
    if not train:
        raise FileNotFoundError(f"no CIFAR-10 training batches (data_batch_1..5) in {folder}")
    return {0: (np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train])),
            1: batch("test_batch")}


def _read_svhn(folder: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    from scipy.io import loadmat

    out = {}
    for split, name in ((0, "train_32x32.mat"), (1, "test_32x32.mat")):
        mat = loadmat(folder / name)
        labels = mat["y"].reshape(-1).astype(np.int64)
        out[split] = (np.ascontiguousarray(mat["X"].transpose(3, 0, 1, 2)), np.where(labels == 10, 0, labels))
    return out


def read_raw(name: str, root: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """All images and labels of both official splits, ``{0: (train_images, train_labels), 1: (test...)}``."""
    folder = Path(root) / RAW_FOLDERS[name]
    readers = {"mnist": _read_mnist_like, "fashionmnist": _read_mnist_like, "cifar10": _read_cifar10,
               "svhn": _read_svhn}
    return readers[name](folder)


def keep_binary(splits: dict[int, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Classes 0 and 1 of both splits in the offline layout, sorted by split, label, index."""
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
    """Read ``name``'s raw files under ``root`` and write ``out_dir/<name>-01.npz``; return its path."""
    arrays = keep_binary(read_raw(name, root))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}-01.npz"
    np.savez_compressed(path, **arrays)
    return path
