"""The models the command line knows: how to build, fit and score each one."""
import ast
import contextlib
import re
from dataclasses import dataclass

from .._progress import LineWatcher
from ._common import CLIError, EXIT_USAGE


def _enet_objective(est, X, y):
    from ..reference.objectives import enet_objective

    alpha = getattr(est, "alpha_", None)
    alpha = est.alpha if alpha is None else alpha
    l1_ratio = getattr(est, "l1_ratio_", getattr(est, "l1_ratio", 1.0))
    return enet_objective(X, y, est.coef_, est.intercept_, alpha=alpha, l1_ratio=l1_ratio,
                          penalty_factor=getattr(est, "penalty_factor", None),
                          positive=getattr(est, "positive", False),
                          lower_bounds=getattr(est, "lower_bounds", None),
                          upper_bounds=getattr(est, "upper_bounds", None))


def _logistic_objective(est, X, y):
    """scikit-learn's ``C sum_i loss_i + rho |w|_1 + (1 - rho)/2 |w|^2`` at the fitted model."""
    import numpy as np

    from ..reference.objectives import logistic_objective

    C = np.ravel(est.C_ if hasattr(est, "C_") else est.C)[0]
    rho = getattr(est, "l1_ratio_", getattr(est, "l1_ratio", None))
    rho = np.ravel(rho)[0] if rho is not None else None
    if rho is None or isinstance(rho, str):
        rho = 1.0 if getattr(est, "penalty", "l2") == "l1" else 0.0
    coef = est.coef_[0] if est.coef_.shape[0] == 1 else est.coef_
    b = est.intercept_[0] if np.size(est.intercept_) == 1 else est.intercept_
    return logistic_objective(X, y, coef, b, C=C, penalty="elasticnet", l1_ratio=float(rho),
                              classes=est.classes_)


@dataclass(frozen=True)
class ModelSpec:
    """How the command line drives one model.

    ``estimator``/``cv_estimator``: class names in the ``fastreg`` namespace
    (``cv_estimator`` None: no ``--cv``); ``task``: 'regression' or
    'classification'; ``reg``: the option setting the regularization
    ('alpha' or 'C'); ``grid``: the CV estimator's parameter for the number
    of grid points; ``objective``: ``f(estimator, X, y) -> float`` or None;
    ``path``: name of the path function (None: no ``fastreg path``);
    ``l1_ratio``: a fixed l1_ratio (lasso) or None.
    """

    estimator: str
    cv_estimator: str = None
    task: str = "regression"
    reg: str = "alpha"
    grid: str = "alphas"
    objective: object = None
    path: str = None
    l1_ratio: float = None


MODELS = {
    "lasso": ModelSpec("Lasso", "LassoCV", objective=_enet_objective, path="enet_path",
                       l1_ratio=1.0),
    "elasticnet": ModelSpec("ElasticNet", "ElasticNetCV", objective=_enet_objective,
                            path="enet_path"),
    "logistic": ModelSpec("LogisticRegression", "LogisticRegressionCV", task="classification",
                          reg="C", grid="Cs", objective=_logistic_objective),
    "sgd-regressor": ModelSpec("SGDRegressor"),
    "sgd-classifier": ModelSpec("SGDClassifier", task="classification"),
}

# Progress from an estimator's ``verbose`` output, by class name:
# (stream, verbose value, line pattern whose group 1 is the step, total(estimator), unit).
_VERBOSE_PROGRESS = {
    "SGDRegressor": ("stdout", 1, r"^-- Epoch (\d+)", lambda e: e.max_iter, "epochs"),
    "SGDClassifier": ("stdout", 1, r"^-- Epoch (\d+)", lambda e: e.max_iter, "epochs"),
    "LassoCV": ("stderr", 11, r"Done\s+(\d+)", lambda e: _n_folds(e), "CV folds"),
    "ElasticNetCV": ("stderr", 11, r"Done\s+(\d+)", lambda e: _n_folds(e), "CV folds"),
}

# Command-line option -> estimator parameter.
_OPTION_PARAMS = {"alpha": "alpha", "C": "C", "l1_ratio": "l1_ratio", "optimizer": "optimizer",
                  "loss": "loss", "max_iter": "max_iter", "tol": "tol",
                  "batch_size": "batch_size", "lr": "eta0", "seed": "random_state"}


def _n_folds(est):
    import numpy as np

    return int(est.cv) * max(np.size(getattr(est, "l1_ratio", 1.0)), 1)


def model_spec(name):
    spec = MODELS.get(name)
    if spec is None:
        raise CLIError(f"unknown model {name!r} (choose from {', '.join(MODELS)})", EXIT_USAGE)
    return spec


def estimator_class(name, cv=False):
    import fastreg

    spec = model_spec(name)
    cls_name = spec.cv_estimator if cv else spec.estimator
    if cls_name is None:
        raise CLIError(f"--cv is not available for model {name!r}", EXIT_USAGE)
    cls = getattr(fastreg, cls_name, None)
    if cls is None:
        what = f"model {name!r}" + (" with --cv" if cv and getattr(fastreg, spec.estimator, None)
                                    else "")
        raise CLIError(f"{what} is not available in this fastreg version "
                       f"({fastreg.__version__}: no fastreg.{cls_name})", EXIT_USAGE)
    return cls


def _parse_param(text):
    """``KEY=VALUE`` -> (key, value); the value is a Python literal when it parses as one."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise CLIError(f"--param expects KEY=VALUE, got {text!r}", EXIT_USAGE)
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def build_estimator(args, name):
    spec = model_spec(name)
    cv = getattr(args, "cv", None)
    cls = estimator_class(name, cv=cv is not None)
    valid = cls().get_params()
    params = {}
    for opt, param in _OPTION_PARAMS.items():
        value = getattr(args, opt, None)
        if value is None:
            continue
        flag = "--" + opt.replace("_", "-")
        if cv is not None and opt == spec.reg:
            raise CLIError(f"{flag} and --cv are exclusive (--cv chooses {spec.reg})",
                           EXIT_USAGE)
        if opt in ("alpha", "C") and opt != spec.reg:
            raise CLIError(f"{flag} does not apply to model {name!r} (use --{spec.reg})",
                           EXIT_USAGE)
        if cv is not None and opt == "l1_ratio" and "l1_ratios" in valid:
            param = "l1_ratios"
            value = [value]
        if param not in valid:
            raise CLIError(f"{flag} does not apply to model {name!r}", EXIT_USAGE)
        params[param] = value
    if getattr(args, "no_intercept", False):
        params["fit_intercept"] = False
    if cv is not None:
        if cv < 2:
            raise CLIError(f"--cv must be >= 2 folds, got {cv}", EXIT_USAGE)
        params["cv"] = cv
        if getattr(args, "n_alphas", None) is not None:
            params[spec.grid] = args.n_alphas
    elif getattr(args, "n_alphas", None) is not None:
        raise CLIError("--n-alphas needs --cv", EXIT_USAGE)
    for text in getattr(args, "param", None) or []:
        key, value = _parse_param(text)
        if key not in valid:
            raise CLIError(f"--param {key}: {cls.__name__} has no parameter {key!r}",
                           EXIT_USAGE)
        params[key] = value
    return cls(**params), params


@contextlib.contextmanager
def watch_verbose(est, bar, enabled):
    """Turn ``est``'s verbose output into progress on ``bar`` (when enabled)."""
    entry = _VERBOSE_PROGRESS.get(type(est).__name__)
    if not enabled or entry is None or "verbose" not in est.get_params():
        yield
        return
    stream, level, pattern, total, unit = entry
    est.set_params(verbose=level)
    bar.total = total(est)
    bar.desc = f"{bar.desc} ({unit})"
    regex = re.compile(pattern)

    def on_line(line):
        m = regex.search(line)
        if m:
            bar.set(int(m.group(1)))

    redirect = contextlib.redirect_stdout if stream == "stdout" else contextlib.redirect_stderr
    with redirect(LineWatcher(on_line)):
        yield
