"""Discovery of fastreg's public estimators and functions, and the hostile inputs fed to them.

Shared by ``test_hostile.py``, ``test_persistence.py`` and ``test_threads.py``
(and by the subprocess that feeds malformed sparse matrices). Everything is
discovered from ``fastreg.__all__`` and the ``__all__`` of optional public
subpackages (``fastreg.dask``): estimators (``sklearn.base.is_regressor`` /
``is_classifier``), ``*_path`` functions, ``fastreg.prox.__all__`` callables, so
that a new public estimator is covered automatically; a public name of any
other kind raises :class:`UnknownPublicName` (the suite fails loudly instead of
skipping it). Small, fast hyperparameters are set through ``FAST_PARAMS``
(by parameter name, applied only when the estimator has the parameter).
"""
import hashlib
import inspect

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier, is_regressor

import fastreg
import fastreg.prox

# ---------------------------------------------------------------------------
# discovery
# ---------------------------------------------------------------------------
#: Hyperparameters making every fit small and fast, applied when the estimator has them.
FAST_PARAMS = {
    "max_iter": 50, "tol": 1e-5, "random_state": 0, "cv": 3, "alphas": 4, "n_alphas": None,
    "n_jobs": 1, "alpha": 0.05, "C": 1.0,
}
#: Per-class overrides (by class name) on top of FAST_PARAMS.
CLASS_PARAMS = {
    "SGDRegressor": {"max_iter": 5, "tol": None, "alpha": 1e-3, "learning_rate": "constant",
                     "eta0": 0.01},
    "SGDClassifier": {"max_iter": 5, "tol": None, "alpha": 1e-3},
    "LassoCV": {"max_iter": 100},
    "ElasticNetCV": {"max_iter": 100},
    "LogisticRegressionCV": {"Cs": 3, "tol": 1e-4},
}


#: Public names of ``fastreg.__all__`` that are not fitted here, and where they are covered.
#: A public name that is neither an estimator, a ``*_path`` function nor listed here makes
#: :func:`public_targets` raise: the suite fails loudly instead of skipping a new name.
NOT_TARGETS = {
    "__version__": "a string",
    "prox": "module: its __all__ is covered by the prox tests (prox_functions, PROX_ARGS)",
    "optim": "module: its __all__ is covered by the optimizer tests",
    "dask": "module: its estimators are public_targets(optional=True) ('dask.<Class>')",
}


class UnknownPublicName(TypeError):
    """A public fastreg name the hostile suite does not know how to exercise."""


def _optional_modules():
    """Public optional subpackages whose estimators are covered too (if importable)."""
    out = {}
    try:
        import fastreg.dask as fdask
    except ImportError:   # dask not installed: covered where it is
        return out
    out["dask"] = fdask
    return out


def _check_estimator_class(qualname, obj):
    try:
        inst = obj()
    except TypeError as exc:
        raise UnknownPublicName(f"fastreg.{qualname} cannot be built without arguments "
                                f"({exc}): tell tests/_hostile_cases.py how to build it") from exc
    if not (is_regressor(inst) or is_classifier(inst)):
        raise UnknownPublicName(f"fastreg.{qualname} is neither a regressor nor a classifier: "
                                "tell tests/_hostile_cases.py how to test it")


def public_targets(optional=False):
    """``(estimators, paths)``: every public estimator class and ``*_path`` function.

    ``estimators`` maps a target name to its class: ``"Lasso"`` for
    ``fastreg.Lasso``; with ``optional=True`` also ``"dask.Lasso"`` for
    ``fastreg.dask.Lasso`` (optional subpackages in :func:`_optional_modules`,
    when installed; a fit there costs about a second, so only the persistence
    tests take them). ``paths`` maps a name to the function. Raises
    :class:`UnknownPublicName` for any other public name not in
    :data:`NOT_TARGETS`, and for a public class that cannot be fitted here.
    """
    estimators, paths = {}, {}
    spaces = [("", fastreg, fastreg.__all__)]
    if optional:
        spaces += [(f"{k}.", m, m.__all__) for k, m in _optional_modules().items()]
    for prefix, module, names in spaces:
        for name in names:
            obj = getattr(module, name)
            qual = prefix + name
            if not prefix and name in NOT_TARGETS:
                continue
            if inspect.isclass(obj) and hasattr(obj, "fit") and hasattr(obj, "get_params"):
                _check_estimator_class(qual, obj)
                estimators[qual] = obj
            elif callable(obj) and name.endswith("_path"):
                paths[qual] = obj
            else:
                raise UnknownPublicName(
                    f"fastreg.{qual} ({type(obj).__name__}) is public but the hostile suite does "
                    "not know it: add it as a target (tests/_hostile_cases.py) or to NOT_TARGETS "
                    "with the place where it is tested")
    return estimators, paths


def public_estimator_classes(optional=False):
    """Every public estimator class (see :func:`public_targets`), in discovery order."""
    return list(public_targets(optional)[0].values())


def target_name(cls):
    """The target name of an estimator class (``"Lasso"``, ``"dask.Lasso"``)."""
    for name, c in public_targets(optional=True)[0].items():
        if c is cls:
            return name
    raise KeyError(cls)


def make_estimator(cls):
    """An instance of ``cls`` with the small, fast settings that apply to it."""
    params = cls().get_params()
    chosen = {k: v for k, v in FAST_PARAMS.items() if k in params}
    chosen.update({k: v for k, v in CLASS_PARAMS.get(cls.__name__, {}).items() if k in params})
    return cls(**chosen)


def path_functions():
    """The public ``*_path`` functions (see :func:`public_targets`)."""
    return public_targets()[1]


#: Keyword arguments of a short path, applied when the function has them.
PATH_PARAMS = {"n_alphas": 3, "eps": 1e-2, "Cs": 3, "fit_intercept": True}


def path_is_classifier(func):
    """Classification paths (logistic) take labels."""
    return "logistic" in func.__name__


def call_path(func, X, y, sample_weight=None):
    """A short path (3 regularization values) of ``func``; returns its coefficients.

    The coefficients are the first array of the returned tuple with at least two
    dimensions (``lasso_path`` -> ``(alphas, coefs, gaps)``, a logistic path ->
    ``(coefs, Cs, ...)``); a function of unknown shape fails loudly.
    """
    params = inspect.signature(func).parameters
    if not any(k in params for k in ("n_alphas", "Cs")):
        raise UnknownPublicName(f"{func.__name__}: neither n_alphas nor Cs; tell "
                                "tests/_hostile_cases.py (PATH_PARAMS) how to call it")
    kw = {k: v for k, v in PATH_PARAMS.items() if k in params}
    if sample_weight is not None:
        kw["sample_weight"] = sample_weight
    out = func(X, y, **kw)
    for a in (out if isinstance(out, tuple) else (out,)):
        if isinstance(a, np.ndarray) and a.ndim >= 2:
            return a
    raise UnknownPublicName(f"{func.__name__} returned no 2-D coefficient array")


#: Extra positional arguments of each prox wrapper, as functions of n = len(x).
PROX_ARGS = {
    "soft_threshold": lambda n: (0.3,),
    "l2_shrink": lambda n: (0.5,),
    "elastic_net": lambda n: (0.3, 0.5),
    "box": lambda n: (-0.5, 0.7),
    "group_soft_threshold": lambda n: (1 if n == 0 else (2 if n % 2 == 0 else 1), 0.4),
}


def prox_functions():
    """The callables of ``fastreg.prox.__all__`` (the public prox wrappers)."""
    return {name: getattr(fastreg.prox, name) for name in fastreg.prox.__all__
            if callable(getattr(fastreg.prox, name))}


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
def problem(cls_or_classifier, n=40, p=6, seed=0, dtype=np.float64):
    """A small well-posed problem: ``(X, y)`` with X Fortran-ordered, y labels or reals."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[:3] = [1.5, -2.0, 1.0][:p]
    t = X @ w + 0.1 * rng.standard_normal(n)
    classifier = cls_or_classifier if isinstance(cls_or_classifier, bool) else \
        is_classifier(cls_or_classifier())
    y = (t > 0).astype(np.float64) if classifier else t
    return np.asfortranarray(X, dtype=dtype), y.astype(dtype if not classifier else np.float64)


def fingerprint(obj):
    """A hash of an array / sparse matrix / None (bytes, dtype, shape, sparse arrays)."""
    h = hashlib.sha256()
    if obj is None:
        return None
    if sp.issparse(obj):
        for name in ("data", "indices", "indptr", "row", "col"):
            a = getattr(obj, name, None)
            if a is not None:
                h.update(np.ascontiguousarray(a).tobytes())
        h.update(str(obj.shape).encode())
        return h.hexdigest()
    a = np.asarray(obj)
    if a.dtype == object:
        h.update(repr(a.tolist()).encode())
    else:
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(str((a.shape, a.dtype.str)).encode())
    return h.hexdigest()


def fitted_output(est, X_pred):
    """What a fit is judged by: predictions and (for classifiers) decision values."""
    out = [np.asarray(est.predict(X_pred), dtype=np.float64)]
    if hasattr(est, "decision_function"):
        out.append(np.asarray(est.decision_function(X_pred), dtype=np.float64))
    out.append(np.asarray(est.coef_, dtype=np.float64).ravel())
    return out


# ---------------------------------------------------------------------------
# malformed sparse matrices (fed to a subprocess)
# ---------------------------------------------------------------------------
def _valid(fmt, n=12, p=5, container="matrix"):
    rng = np.random.default_rng(3)
    dense = rng.standard_normal((n, p)) * (rng.random((n, p)) < 0.5)
    dense[0, :] = 1.0  # every column non-empty
    dense[:, 0] = 1.0  # every row non-empty
    make = {"matrix": {"csc": sp.csc_matrix, "csr": sp.csr_matrix},
            "array": {"csc": sp.csc_array, "csr": sp.csr_array}}[container][fmt]
    return make(dense)


def malformed_sparse(kind, fmt="csc", container="matrix", n=12, p=5):
    """A sparse matrix of shape (n, p) with one structural defect ``kind``.

    The defect is planted after construction (scipy's constructors check part
    of the structure): nothing of scipy may touch the matrix afterwards without
    risking an out-of-bounds read.
    """
    X = _valid(fmt, n, p, container)
    n_minor = n if fmt == "csc" else p
    if kind == "index_out_of_range":
        X.indices[3] = n_minor + 7
    elif kind == "index_huge":
        X.indices[3] = np.iinfo(X.indices.dtype).max
    elif kind == "negative_index":
        X.indices[2] = -3
    elif kind == "non_monotone_indptr":
        X.indptr[2], X.indptr[3] = X.indptr[3], X.indptr[2]
    elif kind == "short_indptr":
        X.indptr = X.indptr[:-2].copy()
    elif kind == "indptr_beyond_nnz":
        X.indptr[-1] += 10
    elif kind == "indptr_not_zero_start":
        X.indptr[0] = 2
    elif kind == "data_indices_mismatch":
        X.data = X.data[:-3].copy()
    elif kind == "indices_shorter":
        X.indices = X.indices[:-3].copy()
    elif kind == "coo_out_of_range":
        X = X.tocoo()
        X.row[1] = n + 4
    elif kind == "coo_negative":
        X = X.tocoo()
        X.col[1] = -1
    else:
        raise ValueError(kind)
    return X


MALFORMED_KINDS = ["index_out_of_range", "index_huge", "negative_index", "non_monotone_indptr",
                   "short_indptr", "indptr_beyond_nnz", "indptr_not_zero_start",
                   "data_indices_mismatch", "indices_shorter", "coo_out_of_range",
                   "coo_negative"]
