"""What the distributed solvers minimize, and its duality gap, from block sums only.

Least squares (``Lasso`` / ``ElasticNet``, scikit-learn's scaling)::

    P(w, b) = 1/(2S) sum_i s_i (y_i - x_i^T w - b)^2 + l1 ||w||_1 + l2/2 ||w||^2,   S = sum_i s_i

Logistic (``LogisticRegression``, binary, ``y_i`` in {-1, +1})::

    P(w, b) = C sum_i s_i log(1 + exp(-y_i (x_i^T w + b))) + l1 ||w||_1 + l2/2 ||w||^2

(``l1 = rho``, ``l2 = 1 - rho``). Both are ``F(w, b) + G(w)`` with a smooth
datafit ``F = scale * sum_i l_i`` (``scale = 1/S``, resp. ``C``) summed over
blocks, and the intercept is never penalized.

The duality gaps are those of :mod:`fastreg.reference.objectives`
(``enet_duality_gap``, ``logistic_duality_gap``) and of the single-machine
solvers: the intercept is first set to its optimum for ``w`` ("profiled"),
then the dual point is the rescaled residual (least squares) or the rescaled
sigmoid (logistic). Every term is a sum over blocks; see :meth:`Problem.gap`.
"""
import numpy as np

from ._block import (LEAST_SQUARES, block_gram, block_logistic_dual, block_logistic_entropy,
                     block_logistic_intercept, block_loss_grad, block_stats)
from ._engine import token


class Problem:
    """A penalized problem on an engine's blocks (constants computed in one pass).

    Parameters
    ----------
    engine : BlockEngine
    loss_code : {LEAST_SQUARES, LOGISTIC}
    l1, l2 : float
        Penalty strengths (``l1 + l2 > 0``).
    fit_intercept : bool
    C : float
        Logistic only: the loss multiplier.
    """

    def __init__(self, engine, loss_code, l1, l2, fit_intercept, C=1.0):
        self.engine = engine
        self.loss_code = loss_code
        self.l1, self.l2 = float(l1), float(l2)
        self.fit_intercept = bool(fit_intercept)
        self.C = float(C)
        stats = getattr(engine, "stats", None)
        n, S, Sy, Syy, m, Spos = (engine.map_sum(block_stats) if stats is None else stats)[:6]
        self.n_samples, self.S, self.m = n, S, m
        self.Sy, self.Syy = Sy, Syy
        if S <= 0:
            raise ValueError("the sample weights sum to 0")
        if loss_code == LEAST_SQUARES:
            self.scale = 1.0 / S
            ybar = Sy / S if fit_intercept else 0.0
            self.p0 = 0.5 * (Syy - 2 * ybar * Sy + ybar * ybar * S) / S
            self.tol_floor = 32 * np.finfo(np.float64).eps * 0.5 * Syy / S
        else:
            self.scale = self.C
            Sneg = S - Spos
            if fit_intercept:
                if Spos <= 0 or Sneg <= 0:
                    raise ValueError("both classes need a positive total sample weight")
                self.p0 = self.C * (Spos * np.log(S / Spos) + Sneg * np.log(S / Sneg))
            else:
                self.p0 = self.C * S * np.log(2.0)
            self.tol_floor = 32 * np.finfo(np.float64).eps * self.p0
        self.curvature = 1.0 / S if loss_code == LEAST_SQUARES else 0.25 * self.C
        self._t_guess = 0.0

    # ------------------------------------------------------------------ values
    def penalty(self, w):
        return self.l1 * float(np.abs(w).sum()) + 0.5 * self.l2 * float(w @ w)

    def prox(self, x, step):
        """Prox of ``step * G`` (soft-thresholding, then L2 shrinkage)."""
        return np.sign(x) * np.maximum(np.abs(x) - step * self.l1, 0.0) / (1.0 + step * self.l2)

    def conjugate(self, v):
        """``sum_j G^*(v_j)`` for ``|v_j| <= l1`` when ``l2 = 0`` (the caller rescales)."""
        if self.l2 == 0:
            return 0.0
        excess = np.maximum(np.abs(v) - self.l1, 0.0)
        return float(excess @ excess) / (2 * self.l2)

    def dual_scale(self, v):
        """``t = min(1, l1 / ||v||_inf)`` when ``l2 = 0`` (dual feasibility), else 1."""
        vmax = float(np.max(np.abs(v))) if v.size else 0.0
        if self.l2 == 0 and vmax > self.l1:
            return self.l1 / vmax
        return 1.0

    def loss_grad(self, w, b, tok=None):
        """``(F(w, b), grad_w F, dF/db, raw block sums)`` (one pass; caches ``X w`` under ``tok``)."""
        sums = self.engine.map_sum(block_loss_grad, w, b, self.loss_code, tok)
        L, D, G, _ = sums
        gb = self.scale * D if self.fit_intercept else 0.0
        return self.scale * L, self.scale * G, gb, sums

    def _gram(self, v):
        """``[X 1]^T diag(s) [X 1] v`` (one distributed pass; last entry: the intercept)."""
        p = self.m.shape[0]
        vb = v[p] if self.fit_intercept else 0.0
        _, D, G = self.engine.map_sum(block_gram, v[:p], vb)
        return np.append(G, D) if self.fit_intercept else G

    def lipschitz(self, max_iter=30, rtol=1e-4, safety=1.02):
        """Lipschitz constant of ``grad F`` in ``(w, b)`` from distributed matrix-vector products.

        The largest eigenvalue of ``A = [X 1]^T diag(s) [X 1]`` by the Lanczos
        process (power iteration's Krylov space, with full
        reorthogonalization; one pass per product,
        :func:`fastreg.dask._block.block_gram`, only vectors of size
        ``n_features + 1`` on the driver), stopped when the largest Ritz value
        changes by less than ``rtol``; times ``safety`` times the datafit's
        curvature bound (``1/S``, resp. ``C/4``). Deterministic start. The Ritz
        value is a lower bound: :func:`fastreg.dask._fista.fista` doubles the
        step's constant if the objective ever blows up.

        References
        ----------
        Golub, Van Loan (2013), Matrix Computations, 4th ed., section 10.1.
        """
        q = self.m.shape[0] + (1 if self.fit_intercept else 0)
        rng = np.random.RandomState(0)
        v = 1.0 + 0.1 * rng.rand(q)
        Q = [v / np.linalg.norm(v)]
        alphas, betas = [], []
        lam = 0.0
        for k in range(min(max_iter, q)):
            u = self._gram(Q[-1])
            alphas.append(float(Q[-1] @ u))
            for basis in Q:                      # full reorthogonalization (k small)
                u = u - (basis @ u) * basis
            beta = float(np.linalg.norm(u))
            T = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
            new = float(np.linalg.eigvalsh(T)[-1])
            done = abs(new - lam) <= rtol * new or beta <= 1e-12 * max(new, 1e-300)
            lam = new
            if done:
                break
            betas.append(beta)
            Q.append(u / beta)
        return safety * self.curvature * max(lam, np.finfo(float).tiny)

    # ------------------------------------------------------------------ duality gap
    def gap(self, w, b, sums=None, tok=None, dual=None):
        """``(primal, dual, intercept)`` at ``w`` with the intercept profiled (see module doc).

        ``sums``: the raw block sums ``(L, D, G)`` of :meth:`loss_grad` at
        ``(w, b)`` (least squares: then no further pass is needed). ``dual``: logistic without
        intercept, ``(pieces, ts)`` of :func:`block_logistic_dual` computed in the same pass
        (then no further pass is needed either).
        """
        if self.loss_code == LEAST_SQUARES:
            return self._ls_gap(w, b, sums)
        return self._logistic_gap(w, b, sums, tok, dual)

    def dual_ts(self):
        """The entropy scales ``ts`` that :func:`block_logistic_dual` evaluates."""
        return (1.0, self._t_guess)

    def _ls_gap(self, w, b, sums):
        L, D, G, _ = sums
        S = self.S
        delta = -D / S if self.fit_intercept else 0.0      # b* - b
        rr = max(2 * L - delta * delta * S, 0.0)           # sum_i s_i r_i^2 at b*
        c = -G - delta * self.m                            # X^T (s r) at b*
        primal = rr / (2 * S) + self.penalty(w)
        v = c / S
        t = self.dual_scale(v)
        yr = rr + float(w @ c)                             # sum_i s_i r_i y_i (sum s r = 0)
        dual = t * yr / S - 0.5 * t * t * rr / S - self.conjugate(t * v)
        return primal, dual, b + delta

    def _logistic_gap(self, w, b, sums, tok, dual=None):
        """Profiled intercept by Newton steps over cached predictions (the first one from
        ``sums``; O(n_rows) rounds, :func:`block_logistic_intercept`), then the dual pass (its
        round also tests the intercept, and is taken as soon as Newton's quadratic error bound
        predicts a converged intercept, so usually one round in all); the entropy at the dual scale ``t`` is bounded below by
        the chord between ``t_guess`` and 1 (``t -> sum_i c_i H(t p_i)`` is concave), else one
        more O(n) round trip."""
        eng, C = self.engine, self.C
        if tok is None:
            tok = token(w)
        g_tol = 1e-12 * C * self.S
        g_next = 0.0                       # predicted |f'(b)| at the current b
        if not self.fit_intercept:
            b = 0.0
        elif sums is not None and sums[3] > 0:
            step = sums[1] / sums[3]
            b -= step
            g_next = 0.05 * C * self.S * step * step    # third derivative <= 0.1 C S
        else:
            g_next = np.inf
        ts = self.dual_ts()
        if dual is not None and not self.fit_intercept:
            (loss, v, g, h, ent), ts = dual
        else:
            for _ in range(50):
                if g_next <= g_tol:            # the dual pass, expected to be the last round
                    loss, v, g, h, ent = eng.map_sum(block_logistic_dual, w, b, tok, C, ts)
                else:                          # O(n_rows): Newton on the intercept, no X pass
                    g, h = eng.map_sum(block_logistic_intercept, w, b, tok, C)
                if not self.fit_intercept or h <= 0 or abs(g) <= g_tol:
                    if g_next <= g_tol:
                        break
                    g_next = 0.0
                    continue
                b -= g / h
                g_next = 0.05 * C * self.S * (g / h) ** 2
        primal = loss + self.penalty(w)
        t = self.dual_scale(v)
        t0 = ts[1]
        if t == 1.0:
            entropy = ent[0]
        elif t0 < 1.0 and t >= t0:
            entropy = ((1.0 - t) * ent[1] + (t - t0) * ent[0]) / (1.0 - t0)
        else:
            entropy = eng.map_sum(block_logistic_entropy, w, b, tok, C, t)
        self._t_guess = max(0.0, 1.0 - 2.0 * (1.0 - t))
        dual = entropy - self.conjugate(t * v)
        return primal, dual, b


def start_point(problem, coef_init, intercept_init):
    """The solvers' variables ``x = (w, b)`` (``b`` only with an intercept), float64."""
    p = problem.m.shape[0]
    x = np.zeros(p + (1 if problem.fit_intercept else 0))
    if coef_init is not None:
        x[:p] = coef_init
    if problem.fit_intercept:
        x[p] = float(intercept_init)
    return x


class GapTracker:
    """Best primal point, best dual value and the stopping test ``gap <= tol * P0`` of a solver."""

    def __init__(self, problem, tol, name, verbose=0):
        self.tol_abs = max(tol * problem.p0, problem.tol_floor)
        self.name, self.verbose = name, verbose
        self.primal, self.dual, self.gap = np.inf, -np.inf, np.inf
        self.best = None

    def update(self, it, primal, dual, w, intercept):
        """Record ``(primal, dual)`` at ``(w, intercept)``; True when the gap meets the tolerance."""
        self.dual = max(self.dual, dual)
        if primal < self.primal or self.best is None:
            self.primal, self.best = primal, (np.array(w, dtype=np.float64), intercept)
        self.gap = self.primal - self.dual
        if self.verbose:
            print(f"[fastreg.dask.{self.name}] iter {it:5d}  primal {primal:.12e}  "
                  f"gap {self.gap:.3e}  (tol {self.tol_abs:.3e})")
        return self.gap <= self.tol_abs
