"""The kernels of :mod:`fastreg._optim` compiled for AVX2 + FMA (x86-64, gcc).

Same source (``_optim_kernels.pxi``), compiled with ``#pragma GCC target("avx2,fma")``
so that the loops use 256-bit vectors: twice the sqrt/division throughput of
the baseline SSE2 build, which matters for Adam in float64. The whole module
may contain AVX2 instructions: import it only when
``fastreg._optim.cpu_has_avx2_fma()`` is True (``fastreg.optim`` does). With
another compiler or architecture the pragma is skipped, the module is a copy of
the baseline and ``COMPILED_FOR_AVX2`` is False. FMA contraction changes the
rounding of ``a * b + c`` (by at most one rounding per operation pair).
"""

cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
    #pragma GCC target("avx2,fma")
    #define FASTREG_OPTIM_AVX2 1
    #else
    #define FASTREG_OPTIM_AVX2 0
    #endif
    """
    int FASTREG_OPTIM_AVX2

COMPILED_FOR_AVX2 = bool(FASTREG_OPTIM_AVX2)

include "_optim_kernels.pxi"
