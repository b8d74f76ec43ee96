"""fastreg on Dask (floor 5): distributed Lasso, ElasticNet and binary LogisticRegression.

Install with ``pip install 'fastreg[dask]'``. The estimators take dask arrays
chunked by rows (chunks dense numpy or scipy.sparse) or numpy/scipy input, run
on the current ``distributed`` client (else a local one), and minimize the
same objectives as :class:`fastreg.Lasso`, :class:`fastreg.ElasticNet` and
:class:`fastreg.LogisticRegression`, certified by the same duality gaps.

Design: the row blocks are validated and persisted on the workers; a driver
solver (:mod:`fastreg.dask._newton`, :mod:`fastreg.dask._lbfgs`,
:mod:`fastreg.dask._fista`, :mod:`fastreg.dask._admm`; chosen in
:mod:`fastreg.dask._solve`) maps compiled
per-block kernels (:mod:`fastreg._blocks`) over them through an engine-neutral
interface (:mod:`fastreg.dask._engine`) and sums the ``n_features``-sized
results in a tree.
"""
try:
    import dask.array  # noqa: F401
    import distributed  # noqa: F401
except ImportError as exc:          # pragma: no cover - depends on the environment
    raise ImportError("fastreg.dask needs dask and distributed: "
                      "pip install 'fastreg[dask]'") from exc

from ._estimators import ElasticNet, Lasso, LogisticRegression

__all__ = ["Lasso", "ElasticNet", "LogisticRegression"]
