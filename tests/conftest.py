"""Shared pytest fixtures: the float dtypes every kernel supports and a seeded generator."""
import numpy as np
import pytest


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"], scope="session")
def dtype(request):
    """float32 and float64 (session-scoped, so hypothesis tests may use it)."""
    return np.dtype(request.param)


@pytest.fixture
def rng():
    """A fresh, seeded numpy Generator for each test."""
    return np.random.default_rng(0)
