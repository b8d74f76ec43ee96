"""Proximal operators on vectors (placeholder to be completed)."""
from cython cimport floating
from fastreg._utils cimport soft_threshold_scalar


def soft_threshold_scalar_kernel(const floating[::1] x, floating[::1] out, double t):
    cdef Py_ssize_t i
    with nogil:
        for i in range(x.shape[0]):
            out[i] = soft_threshold_scalar(x[i], t)
