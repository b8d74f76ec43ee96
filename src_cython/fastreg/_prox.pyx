"""Proximal operators on vectors: one pass over memory, float32 or float64.

Each kernel reads ``x`` once and writes ``x_out`` once (``x_out`` may be ``x``
itself: in place). Per-coordinate parameters (thresholds, strengths, bounds)
are contiguous vectors of length 1 (one value broadcast to every coordinate)
or of length ``n = x.shape[0]``; the Python wrappers in :mod:`fastreg.prox`
validate everything (lengths, signs, NaN, exact aliasing) before calling here.

The loops are branch-free: a comparison-select ``b if b > a else a`` compiles
to ``maxpd``/``minpd`` (the IEEE form that returns ``a`` when ``a`` is NaN),
so gcc -O3 vectorizes them, and NaN in ``x`` propagates to ``x_out`` like the
numpy references in :mod:`fastreg.reference.prox`.

Above ``PARALLEL_MIN_SIZE`` coordinates and with ``n_threads > 1`` the vector
is cut into ``n_threads`` contiguous chunks processed by an OpenMP ``prange``
(serial when the module was built without OpenMP).

Out-of-place soft-thresholding and L2 shrinkage by a scalar can write with
non-temporal stores on x86-64 (``stream=True``; a small C block in the source):
the destination is then written without being read first, which saves a third
of the memory traffic once the data no longer fits in the cache (gcc does not
emit streaming stores from plain loops). The caller decides when
(:mod:`fastreg.prox` streams when input and output exceed the last-level cache).

This module is the portable build (SSE2 on x86-64). ``fastreg._prox_avx2``
compiles the same source, ``_prox_kernels.pxi``, for AVX2 + FMA;
:mod:`fastreg._builds` chooses between them at run time.
"""
# prange is used in _prox_kernels.pxi; setup.py gives OpenMP flags to the
# modules whose .pyx source uses it.
from cython.parallel cimport prange

#: This build uses the baseline instruction set.
COMPILED_FOR_AVX2 = False

include "_prox_kernels.pxi"
