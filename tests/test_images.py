"""The paper's binary image sets: raw-format readers on fake files, the offline layout, load_binary's contract."""
from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from implicit import data, rawformats

RNG = np.random.default_rng(0)


def write_idx(path, array, gz):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def fake_mnist(root, folder, per_split=40, gz=True):
    raw = root / folder
    raw.mkdir(parents=True)
    truth = {}
    for split, (img, lab) in rawformats._IDX_FILES.items():
        images = RNG.integers(0, 256, (per_split, 28, 28), dtype=np.uint8)
        labels = RNG.integers(0, 10, per_split, dtype=np.uint8)
        labels[:6] = [0, 1, 0, 1, 0, 1]  # both classes present
        write_idx(raw / img, images, gz)
        write_idx(raw / lab, labels, gz)
        truth[split] = (images, labels)
    return truth


def fake_cifar(root, per_batch=20):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    truth = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images = RNG.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
        labels = list(RNG.integers(0, 10, per_batch))
        labels[:4] = [0, 1, 0, 1]
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": images.reshape(per_batch, -1), b"labels": labels}, f)
        truth[name] = (images.transpose(0, 2, 3, 1), np.asarray(labels))
    return truth


def fake_svhn(root, n=30):
    from scipy.io import savemat

    truth = {}
    for split, name in ((0, "train_32x32.mat"), (1, "test_32x32.mat")):
        images = RNG.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        labels = RNG.integers(1, 11, (n, 1)).astype(np.uint8)
        labels[:4, 0] = [10, 1, 10, 1]
        savemat(root / name, {"X": images, "y": labels})
        truth[split] = (images.transpose(3, 0, 1, 2), np.where(labels[:, 0] == 10, 0, labels[:, 0]))
    return truth


@pytest.mark.parametrize("name,folder,gz", [("mnist", "MNIST/raw", True), ("fashionmnist", "FashionMNIST/raw", False)])
def test_idx_round_trip_and_conversion(tmp_path, name, folder, gz):
    truth = fake_mnist(tmp_path / "root", folder, gz=gz)
    path = rawformats.convert_raw(name, tmp_path / "root", tmp_path / "out")
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    assert set(arrays) == {"images", "labels", "split", "index"}
    for split in (0, 1):
        images, labels = truth[split]
        rows = arrays["split"] == split
        keep = np.flatnonzero(labels <= 1)
        order = np.lexsort((keep, labels[keep]))  # sorted by label, then index
        np.testing.assert_array_equal(arrays["index"][rows], keep[order])
        np.testing.assert_array_equal(arrays["images"][rows], images[keep[order]])
        np.testing.assert_array_equal(arrays["labels"][rows], labels[keep[order]])


def test_cifar_reader_matches_batches(tmp_path):
    truth = fake_cifar(tmp_path)
    splits = rawformats.read_raw("cifar10", tmp_path)
    train_images = np.concatenate([truth[f"data_batch_{i}"][0] for i in range(1, 6)])
    np.testing.assert_array_equal(splits[0][0], train_images)
    np.testing.assert_array_equal(splits[1][0], truth["test_batch"][0])
    assert splits[0][0].shape[1:] == (32, 32, 3)


def test_svhn_reader_maps_label_10_to_digit_0(tmp_path):
    truth = fake_svhn(tmp_path)
    splits = rawformats.read_raw("svhn", tmp_path)
    for split in (0, 1):
        np.testing.assert_array_equal(splits[split][0], truth[split][0])
        np.testing.assert_array_equal(splits[split][1], truth[split][1])
    assert 10 not in splits[0][1]


def test_read_idx_rejects_other_formats(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(struct.pack(">HBB", 0, 0x0D, 1) + struct.pack(">I", 2) + b"\0" * 8)
    with pytest.raises(ValueError, match="not an unsigned-byte IDX"):
        rawformats.read_idx(bad)


def test_load_binary_from_converted_raw_files(tmp_path):
    fake_cifar(tmp_path / "root", per_batch=30)
    rawformats.convert_raw("cifar10", tmp_path / "root", tmp_path / "data")
    b = data.load_binary("cifar10", 3, 2, data_dir=tmp_path / "data", seed=1)
    assert b.X_train.shape == (6, 784) and b.X_test.shape == (4, 784)
    torch.testing.assert_close(torch.linalg.vector_norm(b.X_train, dim=1), torch.ones(6, dtype=torch.float64))
    assert sorted(b.y_train.tolist()) == [-1, -1, -1, 1, 1, 1]
    assert b.info["n_train"] == 6 and b.info["dataset"] == "cifar10" and b.info["seed"] == 1
    again = data.load_binary("cifar10", 3, 2, data_dir=tmp_path / "data", seed=1)
    assert torch.equal(again.X_train, b.X_train)


def test_preprocess_grayscale_and_resize():
    rgb = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    rgb[..., 0] = 255  # pure red -> luma 0.2989 everywhere, constant after resizing
    x = data._preprocess(rgb)
    assert x.shape == (1, 784)
    torch.testing.assert_close(x, torch.full((1, 784), 0.2989, dtype=torch.float64))
    gray = RNG.integers(0, 256, (2, 28, 28), dtype=np.uint8)
    torch.testing.assert_close(data._preprocess(gray), torch.as_tensor(gray.reshape(2, -1) / 255.0))


def test_missing_file_error_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=r"no offline copy of svhn .*IMPLICIT_DATA.*download=True"):
        data.load_binary("svhn", data_dir=tmp_path)


def test_unknown_name_and_too_many_requested(tmp_path):
    with pytest.raises(ValueError, match="unknown data set 'imagenet'"):
        data.load_binary("imagenet", data_dir=tmp_path)
    fake_mnist(tmp_path / "root", "MNIST/raw", per_split=20)
    rawformats.convert_raw("mnist", tmp_path / "root", tmp_path / "data")
    with pytest.raises(ValueError, match=r"has only \d+ images of class 0 in the training split"):
        data.load_binary("mnist", 500, 1, data_dir=tmp_path / "data")


def test_data_directory_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert data.data_directory() == tmp_path
    assert data.data_directory(tmp_path / "x") == tmp_path / "x"


def test_download_without_torchvision_is_a_clear_error(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torchvision(name, *args, **kwargs):
        if name.startswith("torchvision"):
            raise ImportError("No module named 'torchvision'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torchvision)
    with pytest.raises(ImportError, match="needs torchvision: pip install torchvision"):
        data.load_binary("mnist", data_dir=tmp_path, download=True)


def test_shared_data_if_present():
    """The real offline copies, when CI points IMPLICIT_DATA at them: the paper's sampling on MNIST."""
    directory = data.data_directory()
    if not (directory / "mnist-01.npz").exists():
        pytest.skip(f"no mnist-01.npz in {directory}")
    b = data.load_binary("mnist")
    assert b.X_train.shape == (1000, 784) and b.X_test.shape == (1000, 784)
    assert float(b.y_train.sum()) == 0.0
