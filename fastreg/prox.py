"""Proximal operators of common penalties on 1-D float vectors (compiled kernels).

The proximal operator of a convex penalty ``h`` at ``x`` is

    prox_h(x) = argmin_z  0.5 * ||z - x||_2^2 + h(z).

Every function here validates its input once and calls a compiled kernel of
:mod:`fastreg._prox` (or of its AVX2 + FMA build ``fastreg._prox_avx2``, chosen
at import by :mod:`fastreg._builds`) that reads ``x`` and writes the result in
one pass. Common conventions:

- ``x`` is a 1-D float32 or float64 ndarray; the result has ``x``'s dtype.
  Integer, boolean, complex and object arrays raise ``TypeError`` (no silent cast).
- ``out=None`` allocates the result; ``out=x`` works in place; otherwise ``out``
  must be a writable array with ``x``'s shape and dtype. The result is returned
  (``out`` itself when given). ``x`` is never modified unless it is ``out``.
- Read-only ``x`` is accepted. A non-contiguous ``x`` is copied once into a
  contiguous buffer, and so is an ``x`` that partly overlaps ``out``; a
  non-contiguous ``out`` receives the result through one contiguous temporary.
- Hyperparameters are real scalars or 1-D arrays (one value per coordinate, or
  per group); they are rounded to ``x``'s dtype. NaN or negative thresholds and
  strengths raise ``ValueError``; ``inf`` is allowed.
- NaN entries of ``x`` propagate to the result as in :mod:`fastreg.reference.prox`
  (a NaN coordinate gives NaN; for groups, a NaN makes its whole group NaN);
  ``x = +-inf`` with an infinite threshold gives NaN (``inf - inf``), as the
  textbook formulas do.
- ``n_threads`` (keyword-only, default 1): with ``n_threads > 1`` and at least
  ``PARALLEL_MIN_SIZE`` (262144) coordinates, the elementwise kernels split the
  vector into ``n_threads`` contiguous chunks processed by OpenMP threads (serial
  when fastreg was built without OpenMP). The single-threaded kernels already
  run near memory bandwidth; threads help only where one core cannot saturate it.
- ``soft_threshold`` and ``l2_shrink`` with a scalar parameter, out of place,
  write with non-temporal stores on x86-64 (bypassing the cache; identical
  results) when ``x`` and the output together take more than
  ``STREAMING_MIN_BYTES`` (the size of the last-level cache): the output is then
  not read before it is written, which saves a third of the memory traffic.
  Smaller calls use normal stores, which leave the result in the cache.
- Per-coordinate parameter vectors are read once more by the validation (NaN and
  sign check, one ``min``) before the kernel's single pass.
"""
import glob
import os

import numpy as np

from . import _builds, _prox
from ._validation import check_float_vector, check_groups, check_out, check_param_vector, check_scalar

__all__ = ["soft_threshold", "l2_shrink", "elastic_net", "box", "group_soft_threshold",
           "PARALLEL_MIN_SIZE", "STREAMING_MIN_BYTES"]

#: The compiled kernels in use: ``fastreg._prox_avx2`` or the portable ``fastreg._prox``.
_kernels = _builds.select(_prox, "_prox_avx2")

#: Smallest vector length at which ``n_threads > 1`` starts threads.
PARALLEL_MIN_SIZE = _prox.PARALLEL_MIN_SIZE


def _last_level_cache_bytes(default=32 << 20):
    """Size of the largest CPU cache (Linux sysfs, else ``sysconf``, else ``default``)."""
    sizes = []
    for d in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*"):
        try:
            with open(os.path.join(d, "type")) as f:
                if f.read().strip() == "Instruction":
                    continue
            with open(os.path.join(d, "size")) as f:
                text = f.read().strip().upper()
        except OSError:
            continue
        unit = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        digits = text.rstrip("KMGB")
        if digits.isdigit():
            sizes.append(int(digits) * unit)
    if not sizes:
        for name in ("SC_LEVEL3_CACHE_SIZE", "SC_LEVEL2_CACHE_SIZE"):
            try:
                sizes.append(os.sysconf(name))
            except (ValueError, OSError, AttributeError):
                pass
    size = max(sizes, default=0)
    return size if size > 0 else default


#: Out-of-place ``soft_threshold`` / ``l2_shrink`` by a scalar use non-temporal stores
#: when ``x`` and the output together take more bytes than this (the last-level cache
#: size, measured at import; tests may change it).
STREAMING_MIN_BYTES = _last_level_cache_bytes()


def _stream(x):
    """Whether an out-of-place call on ``x`` should write with non-temporal stores."""
    return 2 * x.nbytes > STREAMING_MIN_BYTES


def _same_view(a, b):
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.strides == b.strides)


def _buffers(x, out):
    """Validate ``x`` and ``out``; return ``(x_c, work, out)`` for the kernel.

    ``x_c`` is ``x`` or a contiguous copy of it (non-contiguous ``x``, or ``x``
    overlapping ``out`` other than exactly); ``work`` is the contiguous buffer
    the kernel writes (``out`` itself unless ``out`` is non-contiguous).
    """
    x = check_float_vector(x, "x")
    if out is None:
        out = np.empty(x.shape, dtype=x.dtype)
        return np.ascontiguousarray(x), out, out
    check_out(out, x)
    x_c = np.ascontiguousarray(x)
    if x_c is x and np.may_share_memory(x, out) and not _same_view(x, out):
        x_c = x.copy()
    work = out if out.flags.c_contiguous else np.empty(x.shape, dtype=x.dtype)
    return x_c, work, out


#: Native float dtypes of the fast path (builtin dtypes are singletons: ``is`` is exact).
_FAST_DTYPES = {np.dtype(np.float32): float(np.finfo(np.float32).max),
                np.dtype(np.float64): float(np.finfo(np.float64).max)}
_FAST_SCALARS = (float, int, np.float64, np.float32)


def _fast_call(x, out, value):
    """Kernel arguments ``(x, out, t)`` of the common call, or ``None``.

    The common call: ``x`` a 1-D C-contiguous native float32/float64 ndarray;
    ``out`` None, ``x`` itself, or a writable C-contiguous ndarray of ``x``'s
    shape and dtype that does not overlap ``x``; ``value`` a real scalar in
    ``[0, max of x's dtype]`` or ``+inf``. These pass the general validation
    unchanged, which is skipped: it costs ~15 us per call, more than the kernel
    on in-cache vectors (and it holds the GIL). Anything else returns ``None``
    and goes through the general path, which accepts or rejects it.
    """
    if type(x) is not np.ndarray or type(value) not in _FAST_SCALARS:
        return None
    big = _FAST_DTYPES.get(x.dtype)
    if big is None or x.ndim != 1 or not x.flags.c_contiguous:
        return None
    value = float(value)
    if not (0.0 <= value <= big or value == np.inf):  # NaN fails both
        return None
    if out is None:
        out = np.empty_like(x)
    elif out is not x and not (type(out) is np.ndarray and out.dtype is x.dtype
                               and out.shape == x.shape and out.flags.c_contiguous
                               and out.flags.writeable and not np.may_share_memory(x, out)):
        return None
    return x, out, np.array((value,), dtype=x.dtype)


#: dtype -> name of the fused-type specialization of the compiled kernels.
_SPECIALIZATION = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}


def _specialized(kernel, dtype):
    """``kernel``'s compiled specialization for ``dtype`` (skips the fused-type dispatch)."""
    return kernel.__signatures__[_SPECIALIZATION[dtype]]


def _finish(work, out):
    if work is not out:
        out[...] = work
    return out


def _n_threads(n_threads):
    if type(n_threads) is int and n_threads >= 1:
        return n_threads
    return check_scalar(n_threads, "n_threads", low=1, integer=True)


def soft_threshold(x, threshold, out=None, positive=False, *, n_threads=1):
    """Soft-thresholding: the prox of ``threshold * ||.||_1`` (weighted L1 for a vector).

    ``out[i] = sign(x[i]) * max(|x[i]| - t[i], 0)``: exactly 0 where
    ``|x[i]| <= t[i]``; ``t = 0`` is the identity and ``t = inf`` gives zeros.
    With ``positive=True`` this is the prox of ``t * ||.||_1 + indicator(w >= 0)``:
    ``out[i] = max(x[i] - t[i], 0)``.

    Parameters
    ----------
    x : ndarray of shape (n,), float32 or float64
    threshold : float >= 0 or array of shape (n,) with entries >= 0 (inf allowed)
    out : ndarray of shape (n,) and x's dtype, optional
        Where to write the result (``out=x``: in place).
    positive : bool, default False
    n_threads : int, default 1 (keyword-only)

    Returns
    -------
    out : ndarray of shape (n,), x's dtype

    References
    ----------
    Donoho, D. L. (1995). De-noising by soft-thresholding. IEEE Trans. Inf. Theory 41(3).
    Parikh, N. and Boyd, S. (2014). Proximal algorithms. Found. Trends Optim. 1(3), section 6.5.2.
    """
    fast = _fast_call(x, out, threshold)
    if fast is not None:
        x, out, t = fast
        kernel = _specialized(_kernels.soft_threshold, x.dtype)
        kernel(x, out, t, bool(positive), _n_threads(n_threads), _stream(x))
        return out
    x, work, out = _buffers(x, out)
    t = check_param_vector(threshold, "threshold", x.shape[0], x.dtype, low=0.0)
    _kernels.soft_threshold(x, work, t, bool(positive), _n_threads(n_threads), _stream(x))
    return _finish(work, out)


def l2_shrink(x, strength, out=None, *, n_threads=1):
    """Prox of ``(strength / 2) * ||.||_2^2``: ``out = x / (1 + strength)``.

    Never zeroes a non-zero finite entry for finite ``strength`` (up to floating
    point underflow); ``strength = inf`` gives zeros. For a scalar strength the
    kernel multiplies by ``1 / (1 + strength)`` (within one rounding of the division).

    Parameters
    ----------
    x : ndarray of shape (n,), float32 or float64
    strength : float >= 0 or array of shape (n,) with entries >= 0 (inf allowed)
    out : ndarray of shape (n,) and x's dtype, optional
    n_threads : int, default 1 (keyword-only)

    Returns
    -------
    out : ndarray of shape (n,), x's dtype
    """
    fast = _fast_call(x, out, strength)
    if fast is not None:
        x, out, s = fast
        kernel = _specialized(_kernels.l2_shrink, x.dtype)
        kernel(x, out, s, _n_threads(n_threads), _stream(x))
        return out
    x, work, out = _buffers(x, out)
    s = check_param_vector(strength, "strength", x.shape[0], x.dtype, low=0.0)
    _kernels.l2_shrink(x, work, s, _n_threads(n_threads), _stream(x))
    return _finish(work, out)


def elastic_net(x, l1, l2, out=None, *, n_threads=1):
    """Prox of ``l1 * ||.||_1 + (l2 / 2) * ||.||_2^2``.

    ``out[i] = sign(x[i]) * max(|x[i]| - l1[i], 0) / (1 + l2[i])``: soft-thresholding
    followed by L2 shrinkage; zero exactly where ``|x[i]| <= l1[i]``, whatever ``l2``.

    Parameters
    ----------
    x : ndarray of shape (n,), float32 or float64
    l1, l2 : float >= 0 or array of shape (n,) with entries >= 0 (inf allowed)
    out : ndarray of shape (n,) and x's dtype, optional
    n_threads : int, default 1 (keyword-only)

    Returns
    -------
    out : ndarray of shape (n,), x's dtype

    References
    ----------
    Zou, H. and Hastie, T. (2005). Regularization and variable selection via the
    elastic net. JRSS B 67(2).
    """
    x, work, out = _buffers(x, out)
    a = check_param_vector(l1, "l1", x.shape[0], x.dtype, low=0.0)
    b = check_param_vector(l2, "l2", x.shape[0], x.dtype, low=0.0)
    _kernels.elastic_net(x, work, a, b, _n_threads(n_threads))
    return _finish(work, out)


def box(x, lower, upper, out=None, *, n_threads=1):
    """Euclidean projection onto ``{z : lower <= z <= upper}`` (prox of its indicator).

    ``out[i] = min(max(x[i], lower[i]), upper[i])``.

    Parameters
    ----------
    x : ndarray of shape (n,), float32 or float64
    lower, upper : float or array of shape (n,); -inf / inf allowed, NaN not;
        ``lower <= upper`` everywhere, else ``ValueError``.
    out : ndarray of shape (n,) and x's dtype, optional
    n_threads : int, default 1 (keyword-only)

    Returns
    -------
    out : ndarray of shape (n,), x's dtype
    """
    x, work, out = _buffers(x, out)
    lo = check_param_vector(lower, "lower", x.shape[0], x.dtype)
    up = check_param_vector(upper, "upper", x.shape[0], x.dtype)
    bad = lo > up
    if bad.any():
        i = int(np.argmax(np.broadcast_to(bad, (max(lo.size, up.size),))))
        raise ValueError(f"lower must be <= upper: lower={lo[min(i, lo.size - 1)]} > "
                         f"upper={up[min(i, up.size - 1)]} at coordinate {i}")
    _kernels.box(x, work, lo, up, _n_threads(n_threads))
    return _finish(work, out)


def group_soft_threshold(x, groups, threshold, out=None):
    """Block soft-thresholding: the prox of ``sum_g t_g * ||x_g||_2`` (group lasso).

    For each group ``g``: ``out_g = max(1 - t_g / ||x_g||_2, 0) * x_g``, i.e. 0 when
    ``||x_g||_2 <= t_g`` (also for ``x_g = 0``) and ``(1 - t_g / ||x_g||_2) * x_g``
    otherwise. Norms are computed in float64 without overflow or underflow.

    Parameters
    ----------
    x : ndarray of shape (n,), float32 or float64
    groups : int, sequence of ints, or sequence of index sequences
        The convention of celer's and skglm's ``GroupLasso``:

        - int ``s``: contiguous groups of size ``s`` (``s`` must divide ``n``);
        - sequence of ints: contiguous groups of these sizes, summing to ``n``;
        - sequence of integer index sequences: ``groups[g]`` lists the
          coordinates of group ``g``; the groups must partition ``range(n)``
          (non-empty, indices in ``[0, n)``, no overlap, every coordinate covered).
    threshold : float >= 0 or array of shape (n_groups,) with entries >= 0 (inf allowed)
        Common choice: ``alpha * sqrt(group size)``.
    out : ndarray of shape (n,) and x's dtype, optional

    Returns
    -------
    out : ndarray of shape (n,), x's dtype

    References
    ----------
    Yuan, M. and Lin, Y. (2006). Model selection and estimation in regression with
    grouped variables. JRSS B 68(1).
    """
    x, work, out = _buffers(x, out)
    grp_ptr, grp_indices = check_groups(groups, x.shape[0])
    t = check_param_vector(threshold, "threshold", grp_ptr.shape[0] - 1, x.dtype, low=0.0,
                           what="group")
    _kernels.group_soft_threshold(x, work, grp_ptr, grp_indices, t)
    return _finish(work, out)
