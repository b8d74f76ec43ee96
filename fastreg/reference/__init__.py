"""Plain numpy/scipy reference implementations, for users, tests and benchmarks.

Written from the textbook formulas (clarity over speed), float64 throughout,
dense or scipy.sparse ``X``:

* :mod:`fastreg.reference.objectives`: Lasso / ElasticNet / logistic objectives
  in scikit-learn's scalings and their duality gaps;
* :mod:`fastreg.reference.solvers`: L-BFGS-B solvers on split variables
  (polished to machine precision) and the orthogonal-design closed form;
* :mod:`fastreg.reference.prox`: proximal operators;
* :mod:`fastreg.reference.optim`: SGD / Adam / AdamW steps.
"""
from . import objectives, optim, prox, solvers
from .objectives import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403
from .prox import *  # noqa: F401,F403
from .solvers import *  # noqa: F401,F403

__all__ = objectives.__all__ + solvers.__all__ + prox.__all__ + optim.__all__
