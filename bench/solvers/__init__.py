"""Benchmark solvers (benchopt-style classes without benchopt).

Each module defines ``Solver`` with:

- ``name``, ``requirements`` (import names; the solver is skipped cleanly when
  one is missing, see :func:`available_solvers`),
- ``stopping_strategy``: ``"tolerance"`` (``run(tol)``) or ``"iteration"``
  (``run(n_iter)``): what the driver varies to trace gap against time,
- ``set_objective(X, y, alpha, fit_intercept=False)``: store the problem and
  warm up compiled code (numba, first calls) on a tiny slice of the same kind,
- ``run(stop)``: one cold-started solve (the timed region),
- ``get_result()`` -> ``dict(beta=coef)``,
- optionally ``path(X, y, alphas, tol)`` -> coefs of shape (n_features, n_alphas)
  (``supports_path = True``), for ``bench/path.py``.
"""
import importlib

NAMES = ["fastreg", "celer", "skglm", "sklearn", "scipy_ref"]


class BaseSolver:
    name = "base"
    requirements = ()
    stopping_strategy = "tolerance"
    supports_path = False
    fit_intercept = False  # paths never fit an intercept (set_objective may change it)

    @classmethod
    def missing(cls):
        """Return the first missing requirement (or None if all import)."""
        for req in cls.requirements:
            try:
                importlib.import_module(req)
            except Exception as exc:  # ImportError, or a broken build
                return f"{req} ({type(exc).__name__}: {exc})"
        return None

    def set_objective(self, X, y, alpha, fit_intercept=False):
        self.X, self.y, self.alpha, self.fit_intercept = X, y, alpha, fit_intercept
        self.warm_up()

    def warm_up(self):
        """Run once on a tiny slice of X (same format) to trigger compilation."""
        Xs = self.X[:, :min(self.X.shape[1], 10)]
        Xs = Xs.tocsc() if hasattr(Xs, "tocsc") else Xs.copy(order="F")
        self._solve(Xs, self.y, self.alpha, self.warmup_stop)

    warmup_stop = 1e-4

    def run(self, stop):
        self.coef = self._solve(self.X, self.y, self.alpha, stop)

    def get_result(self):
        return dict(beta=self.coef)


def available_solvers(names=None):
    """Return ``({name: Solver class}, {name: reason skipped})``."""
    found, skipped = {}, {}
    for name in names or NAMES:
        try:
            mod = importlib.import_module(f"solvers.{name}")
        except Exception as exc:
            skipped[name] = f"import failed: {exc}"
            continue
        miss = mod.Solver.missing()
        if miss:
            skipped[name] = f"missing {miss}"
        else:
            found[name] = mod.Solver
    return found, skipped
