r"""Data sets that satisfy Assumption 2: unit-norm rows, no two of them parallel.

* :func:`sphere`: seeded points uniform on the unit sphere :math:`\mathbb S^{d-1}` (synthetic; exact control of
  :math:`n` and :math:`d`).
* :func:`digits`: a real, offline image set: scikit-learn's bundled 8×8 handwritten digits, two classes.
* :func:`load_binary`: the paper's experiment data (MNIST, Fashion-MNIST, CIFAR-10, SVHN; classes 0 vs 1), from an
  offline folder or downloaded once with torchvision.
* :func:`ensure_not_parallel`: the Assumption 2 repair the paper prescribes: perturb one sample of every (nearly)
  parallel pair with Gaussian noise and renormalise.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .rawformats import convert_raw

__all__ = ["unit_rows", "ensure_not_parallel", "sphere", "digits", "encode_labels", "BinaryData", "load_binary",
           "download_binary", "data_directory", "BINARY_DATASETS"]


def unit_rows(X: Tensor) -> Tensor:
    r"""Rows scaled to unit :math:`\ell_2` norm; a zero row is an error (it has no direction)."""
    norms = torch.linalg.vector_norm(X, dim=1, keepdim=True)
    if bool((norms == 0).any()):
        rows = torch.nonzero(norms.squeeze(1) == 0).flatten().tolist()
        raise ValueError(f"rows {rows[:10]} are zero and cannot be normalised to unit norm")
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
    non-parallel (Assumption 2), shape ``(n, d)``."""
    if n < 1 or d < 1:
        raise ValueError(f"need n >= 1 and d >= 1, got n={n}, d={d}")
    gen = torch.Generator().manual_seed(seed)
    X = ensure_not_parallel(torch.randn(n, d, generator=gen, dtype=torch.float64), seed=seed)
    return X.to(dtype=dtype, device=device)


def encode_labels(labels: Tensor, classes: tuple[int, int], encoding: str) -> Tensor:
    """Map class labels to regression targets: ``"pm1"`` gives -1/+1, ``"01"`` gives 0/1 (first class first)."""
    if encoding not in ("pm1", "01"):
        raise ValueError(f"encoding must be 'pm1' or '01', got {encoding!r}")
    positive = (labels == classes[1]).to(torch.float64)
    return 2 * positive - 1 if encoding == "pm1" else positive


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
        if not 1 <= n <= len(labels):
            raise ValueError(f"n must be between 1 and {len(labels)} for classes {classes}, got {n}")
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[:n]
        images, labels = images[order], labels[order]
    X = ensure_not_parallel(images, seed=seed)
    y = encode_labels(labels, classes, encoding)
    return X.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device)


# -- the paper's binary image sets (Section 4) ---------------------------------------------------------------------

#: The data sets of the paper's experiment, with their torchvision class names.
BINARY_DATASETS = {"mnist": "MNIST", "fashionmnist": "FashionMNIST", "cifar10": "CIFAR10", "svhn": "SVHN"}
#: The environment variable naming the offline data directory.
DATA_ENV = "IMPLICIT_DATA"
#: Images are converted to grayscale and resized to this side length (d = 784), as in the paper.
SIDE = 28


@dataclass
class BinaryData:
    r"""A binary task (classes 0 vs 1): unit-norm training and test rows of dimension 784, targets, provenance.

    ``info`` records the data set, source file, classes, counts per class and split, seed, label encoding and
    preprocessing, so a run's JSON can say exactly what it trained on.
    """

    X_train: Tensor
    y_train: Tensor
    X_test: Tensor
    y_test: Tensor
    info: dict


def data_directory(data_dir: str | Path | None = None) -> Path:
    """The offline data folder: ``data_dir`` if given, else ``$IMPLICIT_DATA``, else ``~/.cache/implicit-convergence``."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return Path.home() / ".cache" / "implicit-convergence"


def download_binary(name: str, data_dir: str | Path | None = None, root: str | Path | None = None) -> Path:
    """Download ``name`` with torchvision (network needed) and write the offline ``<name>-01.npz`` into the data
    folder, so later runs need no network. Returns the file's path."""
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
    return arrays["images"][idx], arrays["labels"][idx]


def load_binary(name: str, n_train_per_class: int = 500, n_test_per_class: int = 500, *, seed: int = 0,
                data_dir: str | Path | None = None, encoding: str = "pm1", download: bool = False,
                dtype: torch.dtype = torch.float64, device: str = "cpu") -> BinaryData:
    r"""The paper's binary task on ``name`` (``mnist``, ``fashionmnist``, ``cifar10`` or ``svhn``): classes 0 and 1,
    ``n_train_per_class`` training and ``n_test_per_class`` test images per class drawn with ``seed`` from the official
    splits, grayscale, resized to 28×28, flattened, unit :math:`\ell_2` norm; training rows made pairwise
    non-parallel (Assumption 2).

    The images come from ``<data_dir>/<name>-01.npz`` (``data_dir`` defaults to ``$IMPLICIT_DATA``). If that file is
    missing and ``download`` is true, torchvision downloads the data set and the file is written first.
    """
    if name not in BINARY_DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(BINARY_DATASETS)}")
    path = data_directory(data_dir) / f"{name}-01.npz"
    if not path.exists():
        if not download:
            raise FileNotFoundError(
                f"no offline copy of {name} at {path}. Point {DATA_ENV} (or data_dir=) at a folder holding "
                f"{name}-01.npz (arrays images, labels, split, index; see implicit.rawformats), or pass "
                f"download=True to fetch it with torchvision (pip install torchvision; needs network).")
        download_binary(name, data_dir)
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in ("images", "labels", "split", "index")}
    gen = torch.Generator().manual_seed(seed)
    train_images, train_labels = _sample(arrays, 0, n_train_per_class, gen, name, path)
    test_images, test_labels = _sample(arrays, 1, n_test_per_class, gen, name, path)
    X_train = ensure_not_parallel(_preprocess(train_images), seed=seed)
    X_test = unit_rows(_preprocess(test_images))
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
