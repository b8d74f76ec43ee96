"""Plain numpy/scipy reference implementations, for users, tests and benchmarks.

Written from the textbook formulas (clarity over speed), float64 throughout,
dense or scipy.sparse ``X``. See :mod:`fastreg.reference.objectives` for the
exact objectives and duality gaps (scikit-learn's scalings) and
:mod:`fastreg.reference.solvers` for the L-BFGS-B solvers; :mod:`fastreg.reference.prox`
and :mod:`fastreg.reference.optim` for the proximal operators and the optimizers.
"""
from . import objectives, optim, prox, solvers  # noqa: F401
from .objectives import *  # noqa: F401,F403
from .solvers import *  # noqa: F401,F403

__all__ = objectives.__all__ + solvers.__all__ + ["optim", "prox"]
