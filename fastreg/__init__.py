"""fastreg: fast, certified CPU solvers for sparse and regularized linear models.

Compiled Cython kernels (proximal operators, per-parameter optimizers,
coordinate-descent epochs) under a scikit-learn compatible estimator API, with
plain numpy/scipy reference implementations in :mod:`fastreg.reference`.
"""
__version__ = "0.1.0"

from . import _validation  # noqa: E402,F401
from . import optim  # noqa: E402,F401
from . import prox  # noqa: E402
from .linear_model import Lasso, ElasticNet, lasso_path, enet_path  # noqa: E402
from .linear_model import LassoCV, ElasticNetCV  # noqa: E402
from .linear_model.stochastic import SGDRegressor, SGDClassifier  # noqa: E402
from .linear_model.logistic import LogisticRegression  # noqa: E402

__all__ = ["__version__", "optim", "prox", "Lasso", "ElasticNet", "lasso_path", "enet_path",
           "LassoCV", "ElasticNetCV", "SGDRegressor", "SGDClassifier", "LogisticRegression"]
