"""The one place that chooses which compiled build of the kernels runs.

Two kernel modules exist twice, compiled from one shared source (a ``.pxi``):
``fastreg._prox`` / ``fastreg._optim`` for the baseline instruction set (SSE2 on
x86-64), and ``fastreg._prox_avx2`` / ``fastreg._optim_avx2`` for AVX2 + FMA
(256-bit vectors; FMA contraction may change a rounding in ``a * b + c``). The
AVX2 build is used when the CPU supports AVX2 and FMA and the module was
compiled for them (gcc on x86); otherwise the portable one.

Set ``FASTREG_KERNELS=baseline`` in the environment before importing fastreg to
force the portable builds (``auto``, the default, chooses as above). Tests run
both builds by swapping the ``_kernels`` attribute of :mod:`fastreg.prox` and
:mod:`fastreg.optim`.

The stochastic epochs follow the same pattern: ``fastreg._sgd`` /
``fastreg._sgd_avx2`` (one source, ``_sgd_kernels.pxi``), chosen by
:func:`select` into ``fastreg.solvers.stochastic._sgd`` (its tests swap that
attribute).
"""
import importlib
import os

from . import _optim

__all__ = ["ENV_VAR", "use_avx2", "select"]

#: Environment variable read at import: "auto" (default) or "baseline".
ENV_VAR = "FASTREG_KERNELS"
_CHOICES = ("auto", "baseline")


def use_avx2():
    """True if the AVX2 + FMA builds should be used (CPU support, not forced off)."""
    choice = os.environ.get(ENV_VAR, "auto") or "auto"
    if choice not in _CHOICES:
        raise ValueError(f"{ENV_VAR} must be one of {_CHOICES}, got {choice!r}")
    return choice == "auto" and _optim.cpu_has_avx2_fma()


def select(portable, avx2_name):
    """Return the module ``fastreg.<avx2_name>`` if :func:`use_avx2` and it was
    compiled for AVX2, else ``portable`` (also when it is missing from the build)."""
    if not use_avx2():
        return portable
    try:
        module = importlib.import_module(f"{__package__}.{avx2_name}")
    except ImportError:      # pragma: no cover - a build without the AVX2 module
        return portable
    return module if module.COMPILED_FOR_AVX2 else portable
