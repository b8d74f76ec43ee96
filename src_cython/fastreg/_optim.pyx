"""Fused one-pass optimizer steps: SGD, momentum / Nesterov, Adam, AMSGrad (+ L1 prox).

Each ``*_step`` function updates the parameter vector ``w`` and the optimizer
state in place in ONE pass over memory: every element of ``w``, ``grad`` and
the state is read once and written once, with no temporary array. Per-step
scalars (bias corrections, the decoupled-decay factor, the L1 threshold) are
computed once in Python, in double precision, and passed in.

Within an element the operations are, in this order (``g = grad[i]``):

1. coupled L2 regularization (``l2 > 0``): ``g <- g + l2 * w``;
2. decoupled weight decay: ``w <- shrink * w`` (``shrink = 1`` when there is none,
   which is exact);
3. the optimizer update of the state and of ``w`` (see each function);
4. the L1 prox (``l1_threshold > 0``): ``w <- sign(w) * max(|w| - l1_threshold, 0)``
   (for Adam, optionally with the threshold divided by the Adam denominator).

The per-element maths is written once, in ``_optim_inline.pxd`` (``*_update``
functions, also used by the epoch kernels of ``_sgd.pyx``); the loops of
``_optim_kernels.pxi`` call it. Options that would put a branch in the loop
(L2 on/off, L1 on/off, Nesterov) are resolved outside the loop: the loops are
``cdef inline`` functions taking compile-time-constant flags, and each call
site passes literal flags, so the C compiler emits one branch-free,
vectorizable loop per variant (4-wide float64 / 8-wide float32 with FMA in the
AVX2 build). Each loop runs from the first 32-byte-aligned element of ``w``
after a short scalar head.

Arithmetic is carried out in the dtype of the arrays (``floating``): float32
arrays are updated in float32 (the double scalars are rounded to float32 once
per call), as torch does for float32 tensors. ``sqrt`` and division are
correctly rounded IEEE operations in both precisions.

Non-finite values are not checked: NaN/inf in ``grad`` propagate through the
IEEE arithmetic to the same coordinate of ``w`` and of the state (the L1 prox
keeps NaN as NaN), and nothing else is touched.

References
----------
Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization", ICLR.
Reddi, Kale & Kumar (2018), "On the Convergence of Adam and Beyond", ICLR (AMSGrad).
Loshchilov & Hutter (2019), "Decoupled Weight Decay Regularization", ICLR (AdamW, SGDW).
Sutskever, Martens, Dahl & Hinton (2013), "On the importance of initialization and
momentum in deep learning", ICML (momentum and Nesterov's accelerated gradient).
"""

cdef extern from *:
    """
    static int fastreg_cpu_has_avx2_fma(void) {
    #if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    #else
        return 0;
    #endif
    }
    """
    int fastreg_cpu_has_avx2_fma() nogil


def cpu_has_avx2_fma():
    """True if this CPU (and OS) supports AVX2 and FMA (gcc builds on x86 only)."""
    return bool(fastreg_cpu_has_avx2_fma())


include "_optim_kernels.pxi"
