"""The kernels of :mod:`fastreg._sgd` compiled for AVX2 + FMA (x86-64, gcc).

Same source (``_sgd_kernels.pxi``), compiled with ``#pragma GCC target("avx2,fma")``
so that the vectorized loops (the dense Adam pass, the gathers, the axpy-like
updates) use 256-bit vectors. The whole module may contain AVX2 instructions:
import it only when ``fastreg._optim.cpu_has_avx2_fma()`` is True
(:mod:`fastreg._builds` does). With another compiler or architecture the pragma
is skipped, the module is a copy of the baseline and ``COMPILED_FOR_AVX2`` is
False. FMA contraction may change the rounding of ``a * b + c`` (by at most one
rounding per operation pair).
"""
cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
    #pragma GCC target("avx2,fma")
    #define FASTREG_SGD_AVX2 1
    #else
    #define FASTREG_SGD_AVX2 0
    #endif
    """
    int FASTREG_SGD_AVX2

#: True when this module was compiled for AVX2 + FMA.
COMPILED_FOR_AVX2 = bool(FASTREG_SGD_AVX2)

include "_sgd_kernels.pxi"
