"""Per-sample losses and their derivatives for the stochastic solvers (inline, nogil).

Every function takes the target ``y`` and the prediction ``p = x^T w + b`` as
doubles, returns the derivative ``dL/dp`` and writes the loss value to
``*loss``. Classification losses take ``y`` in {-1, +1} and are written in the
margin ``z = y * p``. Conventions (scikit-learn's ``_sgd_fast``):

==============================  ===================================  ==========================
loss                            L(y, p)                              dL/dp
==============================  ===================================  ==========================
squared_error                   (p - y)^2 / 2                        p - y
huber (epsilon e)               r^2/2 if |r| <= e else e|r| - e^2/2   clip(r, -e, e), r = p - y
epsilon_insensitive             max(0, |p - y| - e)                  sign(p - y) if |p-y| > e
squared_epsilon_insensitive     max(0, |p - y| - e)^2                2 sign(p-y) (|p-y| - e)+
log_loss                        log(1 + exp(-z))                     -y / (1 + exp(z))
hinge                           max(0, 1 - z)                        -y if z <= 1 else 0
squared_hinge                   max(0, 1 - z)^2                      -2 y (1 - z)+
modified_huber                  (1-z)+^2 if z >= -1 else -4 z        -2y(1-z)+ / -4y
perceptron                      max(0, -z)                           -y if z <= 0 else 0
==============================  ===================================  ==========================

``log_loss`` is evaluated without overflow for any finite ``z`` (``exp`` of a
non-positive number only). The multinomial (softmax) loss over ``K`` scores is
:func:`softmax_dloss`.
"""
from libc.math cimport exp, log1p, fabs

cdef enum LossCode:
    LOSS_SQUARED_ERROR = 0
    LOSS_HUBER = 1
    LOSS_EPSILON_INSENSITIVE = 2
    LOSS_SQUARED_EPSILON_INSENSITIVE = 3
    LOSS_LOG = 4
    LOSS_HINGE = 5
    LOSS_SQUARED_HINGE = 6
    LOSS_MODIFIED_HUBER = 7
    LOSS_PERCEPTRON = 8


cdef inline double squared_error_dloss(double y, double p, double* loss) noexcept nogil:
    cdef double r = p - y
    loss[0] = 0.5 * r * r
    return r


cdef inline double huber_dloss(double y, double p, double epsilon, double* loss) noexcept nogil:
    cdef double r = p - y
    cdef double a = fabs(r)
    if a <= epsilon:
        loss[0] = 0.5 * r * r
        return r
    loss[0] = epsilon * a - 0.5 * epsilon * epsilon
    return epsilon if r > 0.0 else -epsilon


cdef inline double epsilon_insensitive_dloss(double y, double p, double epsilon,
                                             double* loss) noexcept nogil:
    cdef double r = p - y
    cdef double a = fabs(r) - epsilon
    if a > 0.0:
        loss[0] = a
        return 1.0 if r > 0.0 else -1.0
    loss[0] = 0.0
    return 0.0


cdef inline double squared_epsilon_insensitive_dloss(double y, double p, double epsilon,
                                                     double* loss) noexcept nogil:
    cdef double r = p - y
    cdef double a = fabs(r) - epsilon
    if a > 0.0:
        loss[0] = a * a
        return 2.0 * a if r > 0.0 else -2.0 * a
    loss[0] = 0.0
    return 0.0


cdef inline double log_dloss(double y, double p, double* loss) noexcept nogil:
    """Logistic loss ``log(1 + exp(-y p))``, safe for any finite margin."""
    cdef double z = y * p
    cdef double e
    if z >= 0.0:
        e = exp(-z)
        loss[0] = log1p(e)
        return -y * e / (1.0 + e)
    e = exp(z)
    loss[0] = -z + log1p(e)
    return -y / (1.0 + e)


cdef inline double hinge_dloss(double y, double p, double* loss) noexcept nogil:
    cdef double z = y * p
    if z <= 1.0:
        loss[0] = 1.0 - z
        return -y
    loss[0] = 0.0
    return 0.0


cdef inline double squared_hinge_dloss(double y, double p, double* loss) noexcept nogil:
    cdef double z = 1.0 - y * p
    if z > 0.0:
        loss[0] = z * z
        return -2.0 * y * z
    loss[0] = 0.0
    return 0.0


cdef inline double modified_huber_dloss(double y, double p, double* loss) noexcept nogil:
    cdef double z = y * p
    if z >= 1.0:
        loss[0] = 0.0
        return 0.0
    if z >= -1.0:
        loss[0] = (1.0 - z) * (1.0 - z)
        return -2.0 * y * (1.0 - z)
    loss[0] = -4.0 * z
    return -4.0 * y


cdef inline double perceptron_dloss(double y, double p, double* loss) noexcept nogil:
    cdef double z = y * p
    if z <= 0.0:
        loss[0] = -z
        return -y
    loss[0] = 0.0
    return 0.0


cdef inline double dloss(int code, double y, double p, double epsilon,
                         double* loss) noexcept nogil:
    """Dispatch on the loss code: returns ``dL/dp``, writes ``L`` to ``*loss``."""
    if code == LOSS_SQUARED_ERROR:
        return squared_error_dloss(y, p, loss)
    if code == LOSS_HUBER:
        return huber_dloss(y, p, epsilon, loss)
    if code == LOSS_EPSILON_INSENSITIVE:
        return epsilon_insensitive_dloss(y, p, epsilon, loss)
    if code == LOSS_SQUARED_EPSILON_INSENSITIVE:
        return squared_epsilon_insensitive_dloss(y, p, epsilon, loss)
    if code == LOSS_LOG:
        return log_dloss(y, p, loss)
    if code == LOSS_HINGE:
        return hinge_dloss(y, p, loss)
    if code == LOSS_SQUARED_HINGE:
        return squared_hinge_dloss(y, p, loss)
    if code == LOSS_MODIFIED_HUBER:
        return modified_huber_dloss(y, p, loss)
    return perceptron_dloss(y, p, loss)


cdef inline double softmax_dloss(const double* scores, Py_ssize_t n_classes, Py_ssize_t label,
                                 double* dloss_out) noexcept nogil:
    """Multinomial loss ``logsumexp(s) - s[label]``; ``dloss_out[k] = softmax(s)_k - [k == label]``.

    Shifted by ``max(s)`` before ``exp``: no overflow for finite scores.
    """
    cdef Py_ssize_t k
    cdef double smax = scores[0], total = 0.0, e
    for k in range(1, n_classes):
        if scores[k] > smax:
            smax = scores[k]
    for k in range(n_classes):
        e = exp(scores[k] - smax)
        dloss_out[k] = e
        total += e
    for k in range(n_classes):
        dloss_out[k] = dloss_out[k] / total
    dloss_out[label] -= 1.0
    return log1p(total - 1.0) + smax - scores[label]
