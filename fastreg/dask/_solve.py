"""Solver choice: FISTA or consensus ADMM (see :mod:`fastreg.dask` for the measurements)."""
from ._fista import fista


def solve(problem, solver, init, *, tol, max_iter, verbose=0):
    """Run the chosen solver (``'auto'``: FISTA) from ``init = (coef, intercept)``."""
    coef_init, intercept_init = init
    if solver == "admm":
        from ._admm import admm
        return admm(problem, coef_init, intercept_init, tol=tol, max_iter=max_iter,
                    verbose=verbose)
    return fista(problem, coef_init, intercept_init, tol=tol, max_iter=max_iter,
                 verbose=verbose)
