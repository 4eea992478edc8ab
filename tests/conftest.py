"""Shared fixtures for the ``implicit`` test-suite: CPU, float64, seeded, and no leaked global state."""
from __future__ import annotations

import matplotlib
import pytest
import torch

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _restore_global_torch_state():
    """Restore torch's default dtype (``implicit.setup`` changes it) and the global RNG after every test."""
    dtype = torch.get_default_dtype()
    rng = torch.get_rng_state()
    yield
    torch.set_default_dtype(dtype)
    torch.set_rng_state(rng)


@pytest.fixture(autouse=True)
def _restore_rcparams():
    """``implicit.setup``/``use_style`` edit matplotlib's rcParams; undo that after each test."""
    with matplotlib.rc_context():
        yield


@pytest.fixture(autouse=True, scope="session")
def _threads():
    """One intra-op thread: every tensor here is tiny, and idle worker threads only spin (CPU time, contention)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
