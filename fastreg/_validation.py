"""Input validation: the one place that fixes dtype, memory order, index dtype and sparse structure.

Everything the compiled kernels receive passes through here first, so that the
kernels can run with bounds checks off. Malformed sparse matrices are rejected
*before* any scipy conversion touches them (a conversion of a matrix whose
indices are out of range can read out of bounds).
"""
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils.validation import assert_all_finite, check_array, validate_data

from . import _checks

FLOAT_DTYPES = (np.float64, np.float32)
_INT32_MAX = np.iinfo(np.int32).max


# ---------------------------------------------------------------------------
# scalars
# ---------------------------------------------------------------------------
def check_scalar(value, name, *, low=None, high=None, low_inclusive=True,
                 high_inclusive=True, allow_inf=False, integer=False):
    """Return ``value`` as a Python float (or int) after checking its type and range.

    Raises
    ------
    TypeError
        If ``value`` is not a real number (booleans and complex numbers included).
    ValueError
        If ``value`` is NaN, infinite (unless ``allow_inf``) or out of range.
    """
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
        what = "an integer" if integer else "a real number"
        raise TypeError(f"{name} must be {what}, got {value!r} of type {type(value).__name__}")
    value = int(value) if integer else float(value)
    if not integer:
        if np.isnan(value):
            raise ValueError(f"{name} must not be NaN")
        if np.isinf(value) and not allow_inf:
            raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {op} {low}, got {value}")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        op = "<=" if high_inclusive else "<"
        raise ValueError(f"{name} must be {op} {high}, got {value}")
    return value


# ---------------------------------------------------------------------------
# 1-D float vectors (kernel wrappers)
# ---------------------------------------------------------------------------
def check_float_vector(x, name, *, dtype=None, allow_nonfinite=True, ndim=1):
    """Check that ``x`` is a real floating ndarray (float32 or float64) with ``ndim`` dims.

    Integer, boolean, complex and object arrays raise ``TypeError``: kernels work
    in place, so silently casting would hide a bug. Read-only and non-contiguous
    arrays are returned as they are (no copy).

    Parameters
    ----------
    x : ndarray
    name : str
        Name used in error messages.
    dtype : numpy dtype, optional
        If given, ``x`` must have exactly this dtype.
    allow_nonfinite : bool
        If False, NaN or infinite entries raise ``ValueError``.
    ndim : int or None
        Required number of dimensions (None: any).
    """
    if sp.issparse(x):
        raise TypeError(f"{name} must be a dense numpy array, got a sparse matrix")
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray, got {type(x).__name__}")
    if x.dtype.kind == "f" and not x.dtype.isnative and x.dtype.newbyteorder("=") in FLOAT_DTYPES:
        raise TypeError(f"{name} must be in native byte order, got the non-native dtype "
                        f"{x.dtype.str!r} (convert with x.astype(x.dtype.newbyteorder('=')))")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)} (like the parameters), got {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {x.shape}")
    if not x.dtype.isnative:
        raise TypeError(f"{name} must be in native byte order")
    if not allow_nonfinite and not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinity")
    return x


def check_out(out, like, name="out"):
    """Check an ``out=`` buffer: writable, same shape and dtype as ``like``."""
    check_float_vector(out, name, dtype=like.dtype, ndim=like.ndim)
    if out.shape != like.shape:
        raise ValueError(f"{name} must have shape {like.shape}, got {out.shape}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    return out


# ---------------------------------------------------------------------------
# sparse structure
# ---------------------------------------------------------------------------
def check_sparse_structure(X, name="X"):
    """Validate the raw arrays of a sparse matrix without trusting any of them.

    Checks CSR/CSC/BSR ``indptr`` (length, start at 0, monotone, end at nnz),
    ``indices`` (in range, non-negative), ``data`` length, and COO row/col
    ranges. Raises ``ValueError`` naming the defect.
    """
    _sparse_structure(X, name)
    return X


def _sparse_structure(X, name):
    """:func:`check_sparse_structure`; returns whether CSR/CSC indices are known canonical.

    CSR/CSC matrices with int32 or int64 index arrays are checked in one
    compiled pass (:func:`fastreg._checks.compressed_indices`), which also
    tells whether every slice is strictly increasing (sorted, no duplicates).
    """
    fmt = X.format
    n_rows, n_cols = X.shape
    if n_rows < 0 or n_cols < 0:
        raise ValueError(f"{name} has a negative dimension {X.shape}")
    if fmt in ("csr", "csc", "bsr"):
        indptr = np.asarray(X.indptr)
        indices = np.asarray(X.indices)
        data = np.asarray(X.data)
        if fmt == "bsr":
            r, c = X.blocksize
            n_major, n_minor = n_rows // r, n_cols // c
        elif fmt == "csr":
            n_major, n_minor = n_rows, n_cols
        else:
            n_major, n_minor = n_cols, n_rows
        if indptr.ndim != 1 or indices.ndim != 1:
            raise ValueError(f"sparse {name}: indptr and indices must be 1-D")
        if indptr.dtype.kind not in "iu" or indices.dtype.kind not in "iu":
            raise ValueError(f"sparse {name}: indptr and indices must be integer arrays")
        if indptr.shape[0] != n_major + 1:
            raise ValueError(f"sparse {name}: indptr has length {indptr.shape[0]}, "
                             f"expected {n_major + 1}")
        if indptr[0] != 0:
            raise ValueError(f"sparse {name}: indptr[0] must be 0, got {indptr[0]}")
        if indices.shape[0] != data.shape[0]:
            raise ValueError(f"sparse {name}: data and indices have different lengths "
                             f"({data.shape[0]} and {indices.shape[0]})")
        status = None
        if fmt != "bsr" and indptr.dtype == indices.dtype and indptr.dtype in (np.int32, np.int64):
            status = _checks.compressed_indices(indptr, indices, n_minor)
        if status in (None, -2) and np.any(np.diff(indptr) < 0):
            raise ValueError(f"sparse {name}: indptr is not non-decreasing (non-monotone indptr)")
        nnz = int(indptr[-1])
        if indices.shape[0] < nnz:
            raise ValueError(f"sparse {name}: indptr[-1] = {nnz} but indices has "
                             f"{indices.shape[0]} and data {data.shape[0]} entries")
        if status == -1 or (status is None and nnz and (indices[:nnz].min() < 0
                                                         or indices[:nnz].max() >= n_minor)):
            raise ValueError(f"sparse {name}: indices out of range [0, {n_minor})")
        return status == 0
    if fmt == "coo":
        coords = [np.asarray(c) for c in X.coords] if hasattr(X, "coords") else [X.row, X.col]
        data = np.asarray(X.data)
        for axis, (c, size) in enumerate(zip(coords, X.shape)):
            if c.shape[0] != data.shape[0]:
                raise ValueError(f"sparse {name}: coordinate and data lengths differ")
            if c.size and (c.min() < 0 or c.max() >= size):
                raise ValueError(f"sparse {name}: indices along axis {axis} out of range [0, {size})")
    return False


def _check_finite(X, name, estimator):
    """Raise scikit-learn's error if the float array or sparse matrix ``X`` has NaN or inf.

    One compiled pass on OpenMP threads (:func:`fastreg._checks.all_finite`)
    instead of scikit-learn's one-thread sum; skipped under
    ``sklearn.set_config(assume_finite=True)`` as scikit-learn does.
    """
    if get_config()["assume_finite"]:
        return
    values = X.data if _is_sparse(X) else X
    if values.flags.f_contiguous or values.flags.c_contiguous:
        flat = values.reshape(-1, order="F" if values.flags.f_contiguous else "C")
        if _checks.all_finite(flat):
            return
    assert_all_finite(values, input_name=name,
                      estimator_name=type(estimator).__name__ if estimator is not None else None)


def _to_int32_canonical(X, name="X", known_canonical=False):
    """Return a CSC/CSR matrix with int32, sorted, duplicate-free indices.

    A copy is made only when indices are int64, unsorted or duplicated; the
    input is never modified. ``known_canonical``: the indices were already
    found sorted and duplicate-free (scipy's own check is then skipped).
    """
    if X.nnz > _INT32_MAX or max(X.shape) > _INT32_MAX:
        raise ValueError(f"sparse {name} is too large for int32 indices "
                         f"(nnz={X.nnz}, shape={X.shape})")
    copied = False
    if X.indices.dtype != np.int32 or X.indptr.dtype != np.int32:
        X = X.copy()
        X.indices = X.indices.astype(np.int32)
        X.indptr = X.indptr.astype(np.int32)
        copied = True
    if not (known_canonical or X.has_canonical_format):
        if not copied:
            X = X.copy()
        X.sum_duplicates()  # also sorts indices
    return X


# ---------------------------------------------------------------------------
# design matrices and targets
# ---------------------------------------------------------------------------
def _is_sparse(X):
    return sp.issparse(X)


def _native_byte_order(X):
    """``X`` with its float data in native byte order (a copy only when it is not).

    scikit-learn's ``check_array`` compares dtypes with their byte order, so a
    big-endian float32 array would otherwise be promoted to float64.
    """
    dt = getattr(X, "dtype", None)
    if dt is None or dt.kind != "f" or dt.isnative:
        return X
    native = dt.newbyteorder("=")
    if _is_sparse(X):
        if X.format not in ("csr", "csc"):
            return X  # converted (to native order) by check_array
        return type(X)((X.data.astype(native), X.indices, X.indptr), shape=X.shape)
    return np.asarray(X).astype(native, order="K")


def check_X(X, *, estimator=None, reset=True, accept_sparse="csc", order="F",
            dtype=FLOAT_DTYPES, name="X", ensure_min_samples=1, ensure_min_features=1):
    """Validate a design matrix for the compiled solvers.

    Returns a float32/float64 array in ``order`` (Fortran by default: used
    without a copy when it already is; a C-ordered array is copied once), or a
    sparse matrix in ``accept_sparse`` format with int32, sorted and
    duplicate-free indices (CSR input is converted to CSC once when CSC is
    requested, and vice versa). float32 stays float32; other dtypes become
    float64. NaN/inf, complex, object, empty, or 1-D input raise ``ValueError``.

    If ``estimator`` is given, sklearn's ``validate_data`` is used so that
    ``n_features_in_``/``feature_names_in_`` are set (``reset=True``) or checked.
    """
    canonical = _is_sparse(X) and _sparse_structure(X, name)
    X = _native_byte_order(X)
    given = X
    kwargs = dict(accept_sparse=accept_sparse, order=order, dtype=list(dtype),
                  ensure_min_samples=ensure_min_samples, ensure_all_finite=False,
                  ensure_min_features=ensure_min_features, accept_large_sparse=True)
    if estimator is not None:
        X = validate_data(estimator, X, reset=reset, **kwargs)
    else:
        X = check_array(X, input_name=name, **kwargs)
    _check_finite(X, name, estimator)
    if _is_sparse(X):
        same_indices = (_is_sparse(given) and X.format == given.format
                        and X.indices is given.indices)
        X = _to_int32_canonical(X, name, known_canonical=canonical and same_indices)
    return X


def check_X_y(X, y, *, estimator=None, reset=True, accept_sparse="csc", order="F",
              dtype=FLOAT_DTYPES, y_numeric=True, multi_output=False):
    """Validate ``X`` as in :func:`check_X` and ``y`` as a finite vector of X's dtype.

    ``y`` is returned contiguous, with the same length as ``X`` has rows. With
    ``y_numeric=False`` (classification), ``y`` is returned as given (labels),
    only checked for length and missing values.
    """
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None")
    X = check_X(X, estimator=estimator, reset=reset, accept_sparse=accept_sparse,
                order=order, dtype=dtype)
    y = check_array(y, input_name="y", ensure_2d=False, dtype=X.dtype if y_numeric else None,
                    ensure_all_finite=True if y_numeric else "allow-nan",
                    ensure_min_samples=0)
    if y.ndim == 2 and y.shape[1] == 1 and not multi_output:
        y = y.ravel()
    if y.ndim != 1 and not multi_output:
        raise ValueError(f"y must be 1-dimensional, got shape {y.shape}")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X and y have inconsistent numbers of samples: "
                         f"{X.shape[0]} and {y.shape[0]}")
    if y_numeric:
        y = np.ascontiguousarray(y)
    return X, y


def check_sample_weight(sample_weight, n_samples, dtype, *, allow_all_zero=False):
    """Return sample weights as a contiguous ``dtype`` vector (ones when None).

    Negative, NaN or infinite weights, a wrong length, or (unless
    ``allow_all_zero``) all weights zero raise ``ValueError``.
    """
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    if np.isscalar(sample_weight):
        check_scalar(sample_weight, "sample_weight", low=0.0, low_inclusive=False)
        return np.full(n_samples, sample_weight, dtype=dtype)
    sw = check_array(sample_weight, input_name="sample_weight", ensure_2d=False,
                     dtype=dtype, order="C", ensure_min_samples=0)
    if sw.ndim != 1:
        raise ValueError(f"sample_weight must be 1-dimensional, got shape {sw.shape}")
    if sw.shape[0] != n_samples:
        raise ValueError(f"sample_weight has {sw.shape[0]} entries, expected {n_samples}")
    if np.any(sw < 0):
        raise ValueError("sample_weight must be non-negative")
    if not allow_all_zero and not np.any(sw > 0):
        raise ValueError("sample_weight must have at least one positive entry")
    return sw


# ---------------------------------------------------------------------------
# per-coordinate hyperparameters and group structures (prox wrappers)
# ---------------------------------------------------------------------------
def check_param_vector(value, name, size, dtype, *, low=None, allow_inf=True, what="coordinate"):
    """Return a scalar or per-``what`` hyperparameter as a contiguous ``dtype`` vector.

    A real scalar (or 0-d array) gives a vector of length 1, meant to be
    broadcast by the kernels; a 1-D real array must have length ``size`` (one
    value per ``what``) and is cast to ``dtype`` (a copy only when needed; float64
    values beyond the float32 range become +-inf). Integer arrays are accepted;
    bool, complex and object values raise ``TypeError``; NaN, values below
    ``low`` and (unless ``allow_inf``) infinities raise ``ValueError``.
    """
    arr = value if isinstance(value, np.ndarray) else None
    if arr is None and not isinstance(value, numbers.Number):
        try:
            arr = np.asarray(value)
        except Exception as exc:  # ragged nested sequences
            raise TypeError(f"{name} must be a real scalar or a 1-D array, got {type(value).__name__}") from exc
    if arr is not None and arr.ndim == 0:
        value, arr = arr.item(), None
    if arr is None:
        v = check_scalar(value, name, low=low, allow_inf=allow_inf)
        big = float(np.finfo(dtype).max)
        if abs(v) > big:  # beyond the dtype's range: +-inf (no overflow warning)
            v = v * np.inf
        return np.array([v], dtype=dtype)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real scalar or a real 1-D array, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {arr.shape}")
    if arr.shape[0] != size:
        raise ValueError(f"{name} has length {arr.shape[0]}, expected {size} (one per {what})")
    if arr.size:
        smallest = arr.min()  # one read of the vector: min is NaN iff a NaN is present
        if np.isnan(smallest):
            raise ValueError(f"{name} contains NaN")
        if low is not None and smallest < low:
            raise ValueError(f"{name} must be >= {low}, got a minimum of {smallest}")
        if not allow_inf and arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ValueError(f"{name} must be finite, got an infinite entry")
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(arr, dtype=dtype)


def check_groups(groups, n_features):
    """Normalize a group structure to ``(grp_ptr, grp_indices)`` (intp arrays).

    ``groups`` follows the convention of celer's and skglm's group lasso:

    - an int ``s``: contiguous groups of ``s`` coordinates (``s`` must divide ``n_features``);
    - a 1-D sequence of ints: contiguous groups of these sizes (each >= 1, summing to ``n_features``);
    - a sequence of integer index sequences: group ``g`` holds the coordinates
      ``groups[g]``; the groups must be non-empty and partition ``range(n_features)``
      (indices in bounds, no coordinate twice, every coordinate in one group).

    Group ``g`` is ``grp_indices[grp_ptr[g]:grp_ptr[g + 1]]``. ``grp_indices`` is
    empty when the groups are contiguous (``x[grp_ptr[g]:grp_ptr[g + 1]]``), which
    is also the case for index lists that list ``0, 1, ..., n_features - 1`` in order.
    Anything else raises ``TypeError`` (wrong kind) or ``ValueError`` naming the defect.
    """
    n = int(n_features)
    empty = np.empty(0, dtype=np.intp)
    if isinstance(groups, (numbers.Integral, np.integer)) and not isinstance(groups, (bool, np.bool_)):
        size = int(groups)
        if size < 1:
            raise ValueError(f"groups as an int is the group size and must be >= 1, got {size}")
        if n % size:
            raise ValueError(f"groups={size} (group size) does not divide len(x)={n}")
        return np.arange(0, n + 1, size, dtype=np.intp), empty
    if isinstance(groups, (str, bytes)) or not hasattr(groups, "__len__"):
        raise TypeError("groups must be an int, a sequence of group sizes or a sequence of "
                        f"index sequences, got {type(groups).__name__}")
    items = list(groups)
    if items and all(np.isscalar(g) for g in items) and not all(
            isinstance(g, numbers.Integral) and not isinstance(g, (bool, np.bool_)) for g in items):
        raise TypeError(f"groups: group sizes must be integers, got {items[:5]!r}")
    if all(isinstance(g, numbers.Integral) and not isinstance(g, (bool, np.bool_)) for g in items):
        sizes = np.asarray(items, dtype=np.intp).reshape(-1)
        if sizes.size and sizes.min() < 1:
            raise ValueError(f"groups: group sizes must be >= 1, got {sizes.min()} "
                             f"(group {int(np.argmin(sizes))})")
        if sizes.sum() != n:
            raise ValueError(f"groups: group sizes sum to {sizes.sum()}, expected len(x)={n}")
        return np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp), empty
    lists = []
    for g, item in enumerate(items):
        if np.isscalar(item) or (isinstance(item, np.ndarray) and item.ndim == 0):
            raise TypeError("groups mixes scalars and sequences: give either group sizes "
                            "or index sequences")
        idx = np.asarray(item)
        if idx.ndim != 1:
            raise ValueError(f"groups: group {g} must be a 1-D sequence of indices, got shape {idx.shape}")
        if idx.size == 0:
            raise ValueError(f"groups: group {g} is empty")
        if idx.dtype.kind not in "iu":
            raise TypeError(f"groups: group {g} must contain integer indices, got dtype {idx.dtype}")
        if idx.min() < 0 or idx.max() >= n:
            bad = idx[(idx < 0) | (idx >= n)][0]
            raise ValueError(f"groups: index {bad} in group {g} is out of bounds for len(x)={n}")
        lists.append(idx.astype(np.intp))
    indices = np.concatenate(lists) if lists else empty
    counts = np.bincount(indices, minlength=n)
    if (counts > 1).any():
        raise ValueError(f"groups overlap: coordinate {int(np.argmax(counts > 1))} is in more than "
                         "one group (groups must partition the coordinates)")
    if (counts == 0).any():
        missing = np.flatnonzero(counts == 0)
        raise ValueError(f"groups do not cover every coordinate: {missing[:10].tolist()} "
                         f"{'... ' if missing.size > 10 else ''}in no group")
    grp_ptr = np.concatenate([[0], np.cumsum([len(i) for i in lists])]).astype(np.intp)
    if np.array_equal(indices, np.arange(n)):
        indices = empty
    return grp_ptr, indices
