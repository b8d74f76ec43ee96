"""Solver choice (``solver='auto'``), measured in ``bench/dask.py`` (see bench/results/dask.md).

* ``n_features (+1) <= HESSIAN_MAX_FEATURES``: (proximal) Newton with exact block
  Hessians (:mod:`fastreg.dask._newton`): about ten rounds for logistic, one to
  three for least squares (constant Hessian);
* more features, smooth penalty (``l1 = 0``): L-BFGS (:mod:`fastreg.dask._lbfgs`);
* more features and ``l1 > 0``: FISTA with restart (:mod:`fastreg.dask._fista`).

``'admm'`` (consensus ADMM, :mod:`fastreg.dask._admm`) is offered for least
squares only; see its docstring for the measurement.

The driver's own arithmetic (vectors of ``n_features``, a ``q x q`` Newton
system) runs with one BLAS thread: threaded BLAS calls gain nothing at these
sizes, and OpenBLAS's idle threads spin for a while after each call, taking a
core from workers on the same machine. Measured on 2 cores, 2 worker processes,
sparse logistic L-BFGS at 10,001 variables, 15 iterations: the driver's main
thread and a non-Python thread (OpenBLAS's) used 1.3-1.6 s of CPU per fit, the
main thread 0.05 s with one BLAS thread (driver process 2.1 -> 0.7-0.8 s, the
rest its event loop).
"""
import numpy as np

from ..solvers.design import blas_controller
from ._fista import fista
from ._newton import HESSIAN_MAX_FEATURES, newton


def choose(problem):
    """The solver ``'auto'`` picks for ``problem``."""
    q = problem.m.shape[0] + (1 if problem.fit_intercept else 0)
    if q <= HESSIAN_MAX_FEATURES:
        return "newton"
    return "lbfgs" if problem.l1 == 0.0 else "fista"


def gram_max_features(solver, fit_intercept):
    """Largest ``n_features`` for which the build round also computes the Gram matrix (the
    first Newton step's Hessian, :func:`fastreg.dask._data.build_engine`): the features for
    which ``solver`` is (or, for 'auto', is chosen as) Newton; else 0."""
    if solver not in ("auto", "newton"):
        return 0
    return HESSIAN_MAX_FEATURES - (1 if fit_intercept else 0) if solver == "auto" \
        else np.iinfo(np.int64).max


def solve(problem, solver, init, *, tol, max_iter, verbose=0):
    """Run ``solver`` (``'auto'``: :func:`choose`) from ``init = (coef, intercept)``."""
    coef_init, intercept_init = init
    if solver == "auto":
        solver = choose(problem)
    kw = dict(tol=tol, max_iter=max_iter, verbose=verbose)
    with blas_controller().limit(limits=1, user_api="blas"):
        return _run(solver, problem, coef_init, intercept_init, kw)


def _run(solver, problem, coef_init, intercept_init, kw):
    if solver == "admm":
        from ._admm import admm
        return admm(problem, coef_init, intercept_init, **kw)
    if solver == "lbfgs":
        from ._lbfgs import lbfgs
        return lbfgs(problem, coef_init, intercept_init, **kw)
    if solver == "newton":
        return newton(problem, coef_init, intercept_init, **kw)
    return fista(problem, coef_init, intercept_init, **kw)
