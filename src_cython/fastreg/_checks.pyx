"""One-pass input checks of the validation layer, compiled and on OpenMP threads.

scikit-learn's finiteness test sums all of ``X`` on one thread, and scipy's
index checks take several passes with temporaries; on large inputs these
cost a noticeable part of a fast fit. The kernels here read each array once,
allocate nothing of the input's size and split the work over OpenMP threads
(``omp_get_max_threads()``, which threadpoolctl limits) from
:data:`PARALLEL_MIN` entries.
"""
from cython cimport floating
from cython.parallel cimport prange
cimport openmp

ctypedef fused index_t:
    int
    long long

#: Smallest input (entries) checked on several threads. High on purpose: when another
#: process keeps one of the cores busy, an OpenMP region waits for its descheduled
#: thread, and the check of a 2e6-entry matrix took 3-4x longer on 2 threads than on 1.
#: Only inputs that take tens of milliseconds on one thread are split.
PARALLEL_MIN = 1 << 25


cdef inline int _threads(Py_ssize_t size, Py_ssize_t parallel_min) noexcept nogil:
    return openmp.omp_get_max_threads() if size >= parallel_min else 1


cdef Py_ssize_t _BLOCK = 1 << 14


cdef inline double _zero_products(const floating* v, Py_ssize_t n) noexcept nogil:
    """``sum_i v_i * 0`` with eight independent sums (the compiler cannot reorder one)."""
    cdef double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0, a4 = 0.0, a5 = 0.0, a6 = 0.0, a7 = 0.0
    cdef Py_ssize_t i = 0
    while i + 8 <= n:
        a0 += v[i] * 0.0
        a1 += v[i + 1] * 0.0
        a2 += v[i + 2] * 0.0
        a3 += v[i + 3] * 0.0
        a4 += v[i + 4] * 0.0
        a5 += v[i + 5] * 0.0
        a6 += v[i + 6] * 0.0
        a7 += v[i + 7] * 0.0
        i += 8
    while i < n:
        a0 += v[i] * 0.0
        i += 1
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))


def all_finite(const floating[::1] values, Py_ssize_t parallel_min=PARALLEL_MIN):
    """Whether every entry of ``values`` is finite (no NaN, no +-inf).

    Threads from ``parallel_min`` entries.

    ``x * 0`` is 0 for finite ``x`` and NaN otherwise, so the sum of these
    products is 0 exactly when all entries are finite (no overflow possible).
    """
    cdef Py_ssize_t b, start, n = values.shape[0]
    cdef Py_ssize_t n_blocks = (n + _BLOCK - 1) // _BLOCK
    cdef double acc = 0.0
    if n == 0:
        return True
    with nogil:
        for b in prange(n_blocks, num_threads=_threads(n, parallel_min), schedule="static"):
            start = b * _BLOCK
            acc += _zero_products(&values[start], min(_BLOCK, n - start))
    return acc == 0.0


def compressed_indices(const index_t[::1] indptr, const index_t[::1] indices, long long n_minor,
                       Py_ssize_t parallel_min=PARALLEL_MIN):
    """Check the index arrays of a CSR/CSC matrix in one pass.

    Parameters
    ----------
    indptr : int32 or int64 array (n_major + 1,)
    indices : int32 or int64 array (at least ``indptr[-1]`` entries; same dtype as indptr)
    n_minor : int, the length of each slice (rows of a CSC matrix, columns of a CSR one)
    parallel_min : int, threads from this many stored entries

    Returns
    -------
    status : int
        ``-2``: ``indptr[0] != 0`` or ``indptr`` decreases somewhere or ends beyond
        ``indices``; ``-1``: an index outside ``[0, n_minor)``; ``0``: valid and
        canonical (strictly increasing indices in every slice: sorted, no
        duplicates); ``1``: valid but not canonical.
    """
    cdef Py_ssize_t j, k, n_major = indptr.shape[0] - 1
    cdef Py_ssize_t nnz
    cdef long long idx, prev
    cdef int out_of_range = 0, unordered = 0, decreasing = 0
    if n_major < 0 or indptr[0] != 0:
        return -2
    with nogil:
        for j in range(n_major):
            if indptr[j + 1] < indptr[j]:
                decreasing = 1
                break
    nnz = indptr[n_major]
    if decreasing or nnz > indices.shape[0]:
        return -2
    with nogil:
        for j in prange(n_major, num_threads=_threads(nnz, parallel_min), schedule="guided"):
            prev = -1
            for k in range(indptr[j], indptr[j + 1]):
                idx = indices[k]
                if idx < 0 or idx >= n_minor:
                    out_of_range += 1
                elif idx <= prev:
                    unordered += 1
                prev = idx
    if out_of_range:
        return -1
    return 1 if unordered else 0
