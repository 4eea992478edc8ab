"""Hardened data readers: no code from data files, validated counts and arrays, corrupt files named in the error."""
from __future__ import annotations

import os
import pickle
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from implicit import data, rawformats

PER_CLASS = 6  # images per class and split in the tiny synthetic offline file


# -- helpers ----------------------------------------------------------------------------------------------------------

def tiny_arrays(per_class: int = PER_CLASS, shape: tuple[int, ...] = (28, 28), seed: int = 0) -> dict[str, np.ndarray]:
    """A valid offline layout: ``per_class`` images of classes 0 and 1 in both splits, sorted by split, label, index."""
    g = np.random.default_rng(seed)
    n = 4 * per_class
    split = np.repeat(np.array([0, 1], dtype=np.uint8), 2 * per_class)
    labels = np.tile(np.repeat(np.array([0, 1], dtype=np.uint8), per_class), 2)
    index = np.tile(np.arange(2 * per_class, dtype=np.int32), 2)
    images = g.integers(1, 256, (n, *shape), dtype=np.uint8)  # no all-black image
    return {"images": images, "labels": labels, "split": split, "index": index}


def write_npz(directory: Path, arrays: dict, name: str = "mnist", compressed: bool = True) -> Path:
    path = Path(directory) / f"{name}-01.npz"
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def member_span(path: Path, member: str) -> tuple[int, int]:
    """Byte offsets ``[start, end)`` of ``member``'s (compressed) data inside the zip archive ``path``."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    raw = path.read_bytes()
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    return start, start + info.compress_size


def load(tmp_path, n_train=2, n_test=2, **kw):
    return data.load_binary("mnist", n_train, n_test, data_dir=tmp_path, **kw)


# -- 1. no code from data files ---------------------------------------------------------------------------------------

class _RunsSystem:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _RunsEval:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return eval, (f"open({str(self.marker)!r}, 'w').close()",)


class _TouchesPath:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return Path(self.marker).touch, ()  # pickled as builtins.getattr(PosixPath(...), 'touch')


def genuine_batch(n: int = 8, seed: int = 0, numpy_labels: bool = False) -> dict:
    """A batch shaped like the real CIFAR-10 python files (the keys and types ``cPickle`` wrote in 2009)."""
    g = np.random.default_rng(seed)
    labels = [int(v) for v in g.integers(0, 10, n)]
    labels[:4] = [0, 1, 0, 1]
    return {b"batch_label": b"training batch 1 of 5",
            b"labels": [np.int64(v) for v in labels] if numpy_labels else labels,
            b"data": g.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"img_{i:04d}.png".encode() for i in range(n)]}


def write_cifar(folder: Path, batches: dict[str, object], protocol: int = 2) -> Path:
    folder = Path(folder) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name, obj in batches.items():
        with open(folder / name, "wb") as f:
            pickle.dump(obj, f, protocol=protocol)
    return folder


@pytest.mark.parametrize("payload,refused", [(_RunsSystem, r"(posix|nt|os)\.system"),
                                             (_RunsEval, r"(builtins|__builtin__)\.eval"),
                                             (_TouchesPath, r"(builtins|__builtin__)\.getattr")])
@pytest.mark.parametrize("protocol", [2, 4])
def test_crafted_cifar_batch_is_refused_and_runs_nothing(tmp_path, payload, refused, protocol):
    """A crafted batch whose unpickling would create a file raises UnpicklingError naming the file and the global; the
    file is not created (today ``pickle.load`` runs the payload)."""
    marker = tmp_path / "pwned"
    evil = genuine_batch()
    evil[b"labels"] = payload(marker)
    write_cifar(tmp_path, {"data_batch_1": evil, "test_batch": genuine_batch(seed=1)}, protocol=protocol)
    with pytest.raises(pickle.UnpicklingError, match=rf"data_batch_1.*refus\w* .*{refused}"):
        rawformats.read_raw("cifar10", tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("numpy_labels", [False, True])
def test_genuine_cifar_batches_still_read(tmp_path, protocol, numpy_labels):
    """Batches of the real layout (protocol 2 as the originals, and newer protocols) read exactly."""
    train = [genuine_batch(seed=i, numpy_labels=numpy_labels) for i in range(1, 6)]
    test = genuine_batch(n=5, seed=9, numpy_labels=numpy_labels)
    batches = {f"data_batch_{i}": b for i, b in enumerate(train, start=1)} | {"test_batch": test}
    write_cifar(tmp_path, batches, protocol=protocol)
    splits = rawformats.read_raw("cifar10", tmp_path)
    expected = np.concatenate([b[b"data"] for b in train]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(splits[0][0], expected)
    np.testing.assert_array_equal(splits[0][1], np.concatenate([np.asarray(b[b"labels"]) for b in train]))
    np.testing.assert_array_equal(splits[1][0], test[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    assert splits[0][0].dtype == np.uint8


@pytest.mark.parametrize("codec", ["rot13", "base64"])
def test_cifar_codecs_other_than_latin1_are_refused(tmp_path, codec):
    """Protocol-2 pickles rebuild bytes with ``_codecs.encode(text, 'latin1')``; any other codec is refused."""
    import codecs

    class OtherCodec:
        def __reduce__(self):
            return codecs.encode, ("abc", codec)

    write_cifar(tmp_path, {"data_batch_1": {b"data": OtherCodec()}, "test_batch": genuine_batch()})
    with pytest.raises(pickle.UnpicklingError, match=rf"data_batch_1.*{codec}"):
        rawformats.read_raw("cifar10", tmp_path)


@pytest.mark.parametrize("batch,match", [
    ([1, 2, 3], r"dict"),
    ({b"data": np.zeros((2, 3072), np.uint8)}, r"labels"),
    ({b"data": np.zeros((2, 1000), np.uint8), b"labels": [0, 1]}, r"\(N, 3072\)"),
    ({b"data": np.zeros((2, 3072), np.float64), b"labels": [0, 1]}, r"uint8"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1, 1]}, r"3 labels .* 2 images"),
])
def test_cifar_batch_of_the_wrong_shape_names_the_file(tmp_path, batch, match):
    write_cifar(tmp_path, {"data_batch_1": batch, "test_batch": genuine_batch()})
    with pytest.raises(ValueError, match=rf"data_batch_1.*{match}"):
        rawformats.read_raw("cifar10", tmp_path)


def test_truncated_cifar_batch_names_the_file(tmp_path):
    folder = write_cifar(tmp_path, {"data_batch_1": genuine_batch(), "test_batch": genuine_batch()})
    raw = (folder / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(raw[:len(raw) // 2])
    with pytest.raises(pickle.UnpicklingError, match=r"test_batch.*truncated or corrupted"):
        rawformats.read_raw("cifar10", tmp_path)


def test_offline_file_is_opened_without_pickle(tmp_path, monkeypatch):
    """``np.load`` gets ``allow_pickle=False`` explicitly, and an object array is an error naming file and key."""
    write_npz(tmp_path, tiny_arrays())
    seen = []
    real_load = np.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("allow_pickle", "missing"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    load(tmp_path)
    assert seen == [False]
    monkeypatch.undo()
    arrays = tiny_arrays()
    arrays["labels"] = np.array(list(arrays["labels"]), dtype=object)
    path = write_npz(tmp_path, arrays)
    with pytest.raises(data.DataFileError, match=rf"{re.escape(str(path))}.*'labels'"):
        load(tmp_path)


def test_idx_truncated_or_padded_names_the_file(tmp_path):
    header = struct.pack(">HBB", 0, 0x08, 3) + struct.pack(">III", 2, 28, 28)
    short, long, tiny = tmp_path / "short", tmp_path / "long", tmp_path / "tiny"
    short.write_bytes(header + b"\1" * 1000)
    long.write_bytes(header + b"\1" * (2 * 784 + 3))
    tiny.write_bytes(b"\0\0")
    for path in (short, long):
        with pytest.raises(ValueError, match=rf"{re.escape(str(path))}.*\(2, 28, 28\).*1568 bytes"):
            rawformats.read_idx(path)
    with pytest.raises(ValueError, match=rf"{re.escape(str(tiny))}.*too short"):
        rawformats.read_idx(tiny)


# -- 2. counts and sizes ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argument", ["n_train_per_class", "n_test_per_class"])
@pytest.mark.parametrize("value", [0, -1, -1000, 2.5, 3.0, True, False, "3", None])
def test_bad_counts_are_value_errors_naming_the_argument(tmp_path, argument, value):
    """Today -1 returns 2 * (pool - 1) rows, 0 a reshape error, 2.5 a TypeError."""
    write_npz(tmp_path, tiny_arrays())
    counts = {"n_train_per_class": 2, "n_test_per_class": 2} | {argument: value}
    with pytest.raises(ValueError, match=rf"{argument} must be a positive int.*{re.escape(repr(value))}") as info:
        data.load_binary("mnist", data_dir=tmp_path, **counts)
    assert type(info.value) is ValueError  # not a TypeError subclass


def test_numpy_integer_counts_still_work(tmp_path):
    write_npz(tmp_path, tiny_arrays())
    b = data.load_binary("mnist", np.int64(3), np.int32(2), data_dir=tmp_path)
    assert b.X_train.shape == (6, 784) and b.X_test.shape == (4, 784)
    assert type(b.info["n_train_per_class"]) is int  # JSON-serialisable provenance


@pytest.mark.parametrize("value,bad", [(2, r"\[2\]"), (255, r"\[255\]")])
def test_labels_outside_0_1_name_the_file(tmp_path, value, bad):
    arrays = tiny_arrays()
    arrays["labels"][[3, 14]] = value
    path = write_npz(tmp_path, arrays)
    with pytest.raises(data.DataFileError, match=rf"{re.escape(str(path))}.*'labels'.*{bad}.*rows \[3, 14\]"):
        load(tmp_path)


def test_split_outside_0_1_names_the_file(tmp_path):
    arrays = tiny_arrays()
    arrays["split"][5] = 7
    path = write_npz(tmp_path, arrays)
    with pytest.raises(data.DataFileError, match=rf"{re.escape(str(path))}.*'split'.*\[7\].*rows \[5\]"):
        load(tmp_path)


@pytest.mark.parametrize("key", ["labels", "split", "index"])
@pytest.mark.parametrize("delta", [-1, 2])
def test_length_mismatch_names_the_file_and_array(tmp_path, key, delta):
    arrays = tiny_arrays()
    n = len(arrays["images"])
    arrays[key] = np.resize(arrays[key], n + delta)
    path = write_npz(tmp_path, arrays)
    expected = rf"{re.escape(str(path))}.*'{key}' has {n + delta} entries.*{n} images"
    with pytest.raises(data.DataFileError, match=expected):
        load(tmp_path)


@pytest.mark.parametrize("n,kind", [(2.5, "float"), (True, "bool"), ("5", "str")])
def test_digits_bad_n_type(n, kind):
    with pytest.raises(ValueError, match=rf"n must be an integer between 1 and 360 for classes \(0, 1\), got {kind}"):
        data.digits(n)


def test_digits_numpy_n():
    X, y = data.digits(np.int64(7), seed=1)
    X2, y2 = data.digits(7, seed=1)
    assert torch.equal(X, X2) and torch.equal(y, y2)


# -- 3. data files ----------------------------------------------------------------------------------------------------

def test_unit_rows_rejects_non_finite_rows():
    X = torch.tensor([[1.0, 0.0], [float("nan"), 1.0], [2.0, 2.0], [float("inf"), 0.0], [0.0, -float("inf")]])
    with pytest.raises(ValueError, match=r"rows \[1, 3, 4\] contain NaN or inf"):
        data.unit_rows(X)
    with pytest.raises(ValueError, match=r"rows \[1, 3, 4\] contain NaN or inf"):
        data.ensure_not_parallel(X.double())


def test_unit_rows_rejects_overflowing_norms():
    X = torch.tensor([[1e30, 1e30], [1.0, 2.0]], dtype=torch.float32)
    with pytest.raises(ValueError, match=r"rows \[0\] .*overflow.*float32"):
        data.unit_rows(X)
    torch.testing.assert_close(data.unit_rows(X.double())[0], torch.full((2,), 2 ** -0.5, dtype=torch.float64))


def test_nan_image_rows_name_the_file(tmp_path):
    arrays = tiny_arrays()
    images = arrays["images"].astype(np.float64)
    images[2, 5, 5] = np.nan
    images[9, 0, 0] = np.inf
    path = write_npz(tmp_path, arrays | {"images": images})
    with pytest.raises(data.DataFileError, match=rf"{re.escape(str(path))}.*uint8.*float64"):
        load(tmp_path)


def test_blank_image_names_the_file_and_row(tmp_path):
    """An all-black image has no direction; today the error names neither the file nor the file's row."""
    arrays = tiny_arrays(per_class=2)
    arrays["images"][1] = 0
    path = write_npz(tmp_path, arrays)
    with pytest.raises(data.DataFileError, match=rf"{re.escape(str(path))}.*rows \[1\].*black"):
        load(tmp_path)


@pytest.mark.parametrize("images", [
    np.ones((24, 784), np.uint8),              # flattened
    np.ones((24, 28, 28, 4), np.uint8),        # RGBA
    np.ones((24, 28, 28, 1), np.uint8),        # channel axis of 1
    np.ones((24, 0, 28), np.uint8),            # no pixels
    np.ones((24, 28, 28), np.int64),           # wrong dtype
])
def test_images_of_the_wrong_layout_name_the_file(tmp_path, images):
    path = write_npz(tmp_path, tiny_arrays() | {"images": images})
    with pytest.raises(data.DataFileError, match=rf"{re.escape(str(path))}.*'images'"):
        load(tmp_path)


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
@pytest.mark.parametrize("compressed", [True, False])
def test_truncated_npz_names_the_file(tmp_path, keep, compressed):
    path = write_npz(tmp_path, tiny_arrays(), compressed=compressed)
    raw = path.read_bytes()
    path.write_bytes(raw[:int(len(raw) * keep)])
    with pytest.raises(data.DataFileError, match=rf"{re.escape(str(path))}.*(truncated|corrupt)"):
        load(tmp_path)


@pytest.mark.parametrize("compressed", [True, False])
@pytest.mark.parametrize("member", ["images.npy", "labels.npy", "split.npy"])
@pytest.mark.parametrize("where", [0.3, 0.5, 0.9])
def test_bit_flip_in_npz_names_the_file_and_key(tmp_path, compressed, member, where):
    """A flipped byte inside an array's data: CRC error, deflate error or a bad .npy header, all one DataFileError."""
    path = write_npz(tmp_path, tiny_arrays(), compressed=compressed)
    start, end = member_span(path, member)
    raw = bytearray(path.read_bytes())
    raw[start + int((end - start) * where)] ^= 0x5A
    path.write_bytes(bytes(raw))
    key = member.removesuffix(".npy")
    with pytest.raises(data.DataFileError, match=rf"{re.escape(str(path))}.*'{key}'.*(truncated|corrupt)"):
        load(tmp_path)


def test_every_flip_in_the_zip_and_npy_headers_is_caught_or_harmless(tmp_path):
    """Single-byte flips over the first member's zip and .npy headers and over the central directory: each gives a
    DataFileError or, where the byte is inert (a timestamp, an attribute), the very same tensors; never another error
    (a garbled .npy header raised tokenize.TokenError, a garbled end record OSError, before they were caught)."""
    path = write_npz(tmp_path, tiny_arrays(per_class=2), compressed=False)
    good = path.read_bytes()
    ref = load(tmp_path)
    start, _ = member_span(path, "images.npy")
    with zipfile.ZipFile(path) as z:
        directory = min(info.header_offset for info in z.infolist()) + sum(  # central directory start
            30 + len(i.filename.encode()) + len(i.extra) + i.compress_size for i in z.infolist())
    caught = harmless = 0
    for i in [*range(0, start + 128), *range(directory, len(good))]:
        raw = bytearray(good)
        raw[i] ^= 0xFF
        path.write_bytes(bytes(raw))
        try:
            b = load(tmp_path)
        except data.DataFileError as err:
            assert str(path) in str(err)
            caught += 1
            continue
        assert all(torch.equal(getattr(b, f), getattr(ref, f)) for f in ("X_train", "y_train", "X_test", "y_test")), i
        harmless += 1
    assert caught > harmless > 0


@pytest.mark.parametrize("content", [b"", b"not a zip file at all", b"PK\x03\x04" + b"\0" * 40])
def test_garbage_file_names_the_file(tmp_path, content):
    path = tmp_path / "mnist-01.npz"
    path.write_bytes(content)
    with pytest.raises(data.DataFileError, match=re.escape(str(path))):
        load(tmp_path)


def test_bare_npy_named_npz_is_an_error(tmp_path):
    path = tmp_path / "mnist-01.npz"
    with open(path, "wb") as f:
        np.save(f, tiny_arrays()["images"])
    with pytest.raises(data.DataFileError, match=rf"{re.escape(str(path))}.*single array"):
        load(tmp_path)


@pytest.mark.parametrize("key", ["images", "labels", "split"])
def test_missing_array_names_the_file_and_key(tmp_path, key):
    arrays = tiny_arrays()
    del arrays[key]
    path = write_npz(tmp_path, arrays)
    with pytest.raises(data.DataFileError, match=rf"{re.escape(str(path))}.*lacks.*'{key}'"):
        load(tmp_path)


def test_index_is_optional(tmp_path):
    """``index`` is provenance only: a file without it gives exactly the same tensors."""
    arrays = tiny_arrays()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_npz(tmp_path / "a", arrays)
    write_npz(tmp_path / "b", {k: v for k, v in arrays.items() if k != "index"})
    a, b = load(tmp_path / "a", 4, 3, seed=2), load(tmp_path / "b", 4, 3, seed=2)
    for field in ("X_train", "y_train", "X_test", "y_test"):
        assert torch.equal(getattr(a, field), getattr(b, field))


def test_data_file_error_is_a_value_error():
    assert issubclass(data.DataFileError, ValueError)


def test_valid_rgb_file_of_other_size_loads(tmp_path):
    write_npz(tmp_path, tiny_arrays(shape=(32, 32, 3)), name="cifar10")
    b = data.load_binary("cifar10", 3, 2, data_dir=tmp_path)
    assert b.X_train.shape == (6, 784) and b.X_test.shape == (4, 784)
