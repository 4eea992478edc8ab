"""Data sets under Assumption 2: unit rows, pairwise non-parallel; the repair; the digits set."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from implicit import data


def _max_offdiag_abs_cos(X):
    X = np.asarray(X)
    C = np.abs(X @ X.T)
    np.fill_diagonal(C, 0)
    return C.max()


def test_sphere_unit_rows_reproducible_non_parallel():
    X = data.sphere(50, 4, seed=3)
    assert X.shape == (50, 4) and X.dtype == torch.float64
    assert np.allclose(np.linalg.norm(X.numpy(), axis=1), 1, rtol=0, atol=1e-15)
    assert torch.equal(X, data.sphere(50, 4, seed=3))
    assert not torch.equal(X, data.sphere(50, 4, seed=4))
    assert _max_offdiag_abs_cos(X.numpy()) < 1 - 1e-6


def test_sphere_dtype_and_roughly_uniform():
    X = data.sphere(1000, 3, seed=0, dtype=torch.float32)
    assert X.dtype == torch.float32
    assert np.all(np.abs(X.numpy().mean(0)) < 5 / np.sqrt(3 * 1000))     # mean of uniform on S^2 is 0


@pytest.mark.parametrize("n,d", [(0, 3), (3, 0), (-1, 2)])
def test_sphere_bad_sizes(n, d):
    with pytest.raises(ValueError, match=rf"need n >= 1 and d >= 1, got n={n}, d={d}"):
        data.sphere(n, d)


def test_ensure_not_parallel_fixes_duplicates_and_leaves_good_rows():
    g = np.random.default_rng(0)
    base = g.standard_normal((4, 5))
    X = np.vstack([base, base[1], -2.0 * base[2]])          # row 4 duplicates row 1, row 5 antiparallel to row 2
    out = data.ensure_not_parallel(torch.from_numpy(X), seed=1).numpy()
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert np.allclose(np.linalg.norm(out, axis=1), 1, rtol=0, atol=1e-14)
    # rows that already satisfy Assumption 2 are left alone (up to the renormalisation after each round: ~1 ulp)
    assert np.max(np.abs(out[:4] - unit[:4])) <= 1e-15
    assert _max_offdiag_abs_cos(out) < 1 - 1e-6
    for j in (4, 5):
        assert not np.array_equal(out[j], unit[j])
        assert np.linalg.norm(out[j] - unit[j]) < 0.05          # a small perturbation, not a new point
    assert np.array_equal(X[4], base[1])


def test_ensure_not_parallel_identity_on_good_data_and_input_untouched():
    X = torch.from_numpy(np.random.default_rng(2).standard_normal((10, 3)) * 3.0)
    before = X.clone()
    out = data.ensure_not_parallel(X)
    assert torch.equal(X, before)
    assert torch.equal(out, data.unit_rows(before))


def test_unit_rows():
    X = torch.tensor([[3.0, 4.0], [0.0, -2.0]], dtype=torch.float64)
    assert torch.equal(data.unit_rows(X), torch.tensor([[0.6, 0.8], [0.0, -1.0]], dtype=torch.float64))
    Z = torch.tensor([[1.0, 0.0], [0.0, 0.0], [2.0, 2.0], [0.0, 0.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"rows \[1, 3\] are zero and cannot be normalised to unit norm"):
        data.unit_rows(Z)
    with pytest.raises(ValueError, match=r"rows \[1, 3\] are zero"):
        data.ensure_not_parallel(Z)


# -- digits -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits_pm1():
    return data.digits()


def test_digits_shape_and_labels(digits_pm1):
    X, y = digits_pm1
    assert X.shape == (360, 64) and y.shape == (360,)
    assert X.dtype == y.dtype == torch.float64
    assert np.allclose(np.linalg.norm(X.numpy(), axis=1), 1, rtol=0, atol=1e-14)
    assert set(y.tolist()) == {-1.0, 1.0}
    assert int((y == -1).sum()) == 178 and int((y == 1).sum()) == 182     # sklearn: 178 zeros, 182 ones
    assert _max_offdiag_abs_cos(X.numpy()) < 1 - 1e-6
    assert np.all(X.numpy() >= -0.05)                                   # pixel intensities, barely perturbed


def test_digits_01_encoding(digits_pm1):
    X01, y01 = data.digits(encoding="01")
    X, y = digits_pm1
    assert set(y01.tolist()) == {0.0, 1.0}
    assert torch.equal(X01, X) and torch.equal(y01, (y + 1) / 2)


def test_digits_subsample():
    X, y = data.digits(50, seed=1)
    assert X.shape == (50, 64) and y.shape == (50,)
    X2, y2 = data.digits(50, seed=1)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    X3, _ = data.digits(50, seed=2)
    assert not torch.equal(X, X3)
    Xc, yc = data.digits(20, classes=(3, 8), dtype=torch.float32)
    assert Xc.shape == (20, 64) and Xc.dtype == yc.dtype == torch.float32 and set(yc.tolist()) <= {-1.0, 1.0}


@pytest.mark.parametrize("n", [0, -5, 361])
def test_digits_bad_n(n):
    with pytest.raises(ValueError, match=rf"n must be between 1 and 360 for classes \(0, 1\), got {n}"):
        data.digits(n)


def test_digits_bad_encoding():
    with pytest.raises(ValueError, match=r"encoding must be 'pm1' or '01', got 'onehot'"):
        data.digits(10, encoding="onehot")


def test_encode_labels():
    labels = torch.tensor([3, 8, 8, 3])
    assert data.encode_labels(labels, (3, 8), "pm1").tolist() == [-1.0, 1.0, 1.0, -1.0]
    assert data.encode_labels(labels, (3, 8), "01").tolist() == [0.0, 1.0, 1.0, 0.0]
