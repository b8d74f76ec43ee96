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


@pytest.fixture(autouse=True, scope="session")
def _run_outside_the_source_tree(tmp_path_factory):
    """Run every test (and the subprocesses tests start) from a scratch directory.

    ``python -c`` and ``python -m`` put the current directory first on
    ``sys.path``: started from a source checkout they would import the
    uncompiled ``fastreg/`` folder instead of the installed package. The
    folder holding the ``fastreg`` imported here (site-packages, or a checkout
    with an in-place build) goes first on the subprocesses' ``PYTHONPATH``.
    """
    import os

    import fastreg

    old_cwd, old_path = os.getcwd(), os.environ.get("PYTHONPATH")
    home = os.path.dirname(os.path.dirname(os.path.abspath(fastreg.__file__)))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (home, old_path) if p)
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(old_cwd)
    if old_path is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old_path
