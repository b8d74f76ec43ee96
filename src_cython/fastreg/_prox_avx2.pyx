"""The kernels of :mod:`fastreg._prox` compiled for AVX2 + FMA (x86-64, gcc).

Same source (``_prox_kernels.pxi``), compiled with ``#pragma GCC target("avx2,fma")``
so that the loops use 256-bit vectors (and the streaming stores 256-bit
``vmovntpd``/``vmovntps``). The whole module may contain AVX2 instructions:
import it only when ``fastreg._optim.cpu_has_avx2_fma()`` is True
(:mod:`fastreg._builds` does). With another compiler or architecture the pragma
is skipped, the module is a copy of the baseline and ``COMPILED_FOR_AVX2`` is
False. FMA contraction may change the rounding of ``a * b + c`` (the group norms).
"""
cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
    #pragma GCC target("avx2,fma")
    #define FASTREG_PROX_AVX2 1
    #else
    #define FASTREG_PROX_AVX2 0
    #endif
    """
    int FASTREG_PROX_AVX2

#: True when this module was compiled for AVX2 + FMA.
COMPILED_FOR_AVX2 = bool(FASTREG_PROX_AVX2)

# prange is used in _prox_kernels.pxi; setup.py gives OpenMP flags to the
# modules whose .pyx source uses it.
from cython.parallel cimport prange

include "_prox_kernels.pxi"
