"""Proximal operators in plain numpy, written from the textbook formulas.

These are the references :mod:`fastreg.prox` is tested against; they favour
clarity over speed (temporaries, float64 arithmetic). Each returns a new array
with ``x``'s dtype. Hyperparameters are first rounded to ``x``'s dtype (as
fastreg does), then everything is computed in float64 and rounded once at the
end. NaN and infinities follow IEEE arithmetic (no warnings are emitted).

The proximal operator of a convex ``h`` is ``prox_h(x) = argmin_z 0.5 ||z - x||^2 + h(z)``.

References
----------
Parikh, N. and Boyd, S. (2014). Proximal algorithms. Found. Trends Optim. 1(3), section 6.
"""
import numpy as np

__all__ = ["soft_threshold", "l2_shrink", "elastic_net", "box", "group_soft_threshold",
           "group_index_lists"]


def _params(x, *values):
    """``x`` and each hyperparameter rounded to ``x``'s dtype, then as float64."""
    x = np.asarray(x)
    with np.errstate(over="ignore"):
        out = [np.asarray(v, dtype=x.dtype).astype(np.float64) for v in values]
    return [x.astype(np.float64)] + out


def soft_threshold(x, threshold, positive=False):
    """Prox of ``t * ||.||_1``: ``sign(x) * max(|x| - t, 0)``.

    With ``positive``, prox of ``t * ||.||_1 + indicator(z >= 0)``: ``max(x - t, 0)``.
    """
    x64, t = _params(x, threshold)
    with np.errstate(all="ignore"):
        if positive:
            z = np.maximum(x64 - t, 0.0)
        else:
            z = np.sign(x64) * np.maximum(np.abs(x64) - t, 0.0)
    return z.astype(np.asarray(x).dtype)


def l2_shrink(x, strength):
    """Prox of ``(s / 2) * ||.||_2^2``: setting the gradient ``z - x + s z`` to 0 gives ``x / (1 + s)``."""
    x64, s = _params(x, strength)
    with np.errstate(all="ignore"):
        z = x64 / (1.0 + s)
    return z.astype(np.asarray(x).dtype)


def elastic_net(x, l1, l2):
    """Prox of ``l1 * ||.||_1 + (l2 / 2) * ||.||_2^2``: ``sign(x) * max(|x| - l1, 0) / (1 + l2)``."""
    x64, a, b = _params(x, l1, l2)
    with np.errstate(all="ignore"):
        z = np.sign(x64) * np.maximum(np.abs(x64) - a, 0.0) / (1.0 + b)
    return z.astype(np.asarray(x).dtype)


def box(x, lower, upper):
    """Projection onto ``[lower, upper]`` (prox of its indicator): ``min(max(x, lower), upper)``."""
    x64, lo, up = _params(x, lower, upper)
    z = np.minimum(np.maximum(x64, lo), up)
    return z.astype(np.asarray(x).dtype)


def group_index_lists(groups, n):
    """The coordinates of each group, for the ``groups`` formats of :func:`fastreg.prox.group_soft_threshold`.

    An int ``s`` means contiguous groups of size ``s``; a sequence of ints means
    contiguous groups of these sizes; otherwise ``groups`` lists index sequences.
    No validation is done here.
    """
    if np.isscalar(groups):
        return [np.arange(start, start + groups) for start in range(0, n, groups)]
    groups = list(groups)
    if all(np.isscalar(g) for g in groups):
        bounds = np.cumsum([0] + [int(g) for g in groups])
        return [np.arange(bounds[g], bounds[g + 1]) for g in range(len(groups))]
    return [np.asarray(g, dtype=np.intp) for g in groups]


def _norm2(v):
    """Euclidean norm ``m * sqrt(sum((v / m)^2))`` with ``m = max |v|`` (no overflow or underflow)."""
    m = np.max(np.abs(v))
    if not 0.0 < m < np.inf:  # 0, inf or NaN
        return m if not np.isnan(v).any() else np.nan
    return m * np.sqrt(np.sum((v / m) ** 2))


def group_soft_threshold(x, groups, threshold):
    """Prox of ``sum_g t_g ||x_g||_2``: ``x_g * max(1 - t_g / ||x_g||_2, 0)``, i.e. 0 if ``||x_g|| <= t_g``."""
    x = np.asarray(x)
    lists = group_index_lists(groups, x.shape[0])
    x64, t = _params(x, threshold)
    t = np.broadcast_to(t, (len(lists),))
    z = np.empty_like(x64)
    with np.errstate(all="ignore"):
        for g, idx in enumerate(lists):
            nrm = _norm2(x64[idx])
            if nrm <= t[g]:
                z[idx] = 0.0
            else:
                z[idx] = (1.0 - t[g] / nrm) * x64[idx]
    return z.astype(x.dtype)
