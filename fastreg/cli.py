"""The ``fastreg`` command line (also ``python -m fastreg``).

Subcommands: ``fit``, ``predict``, ``path``, ``bench``, ``demo``; ``fastreg
SUBCOMMAND --help`` documents each. Data files are read by :mod:`fastreg.io`.

Exit codes: 0 success; 1 an error while running (missing or unreadable file,
NaN in the data, wrong number of features, an estimator's error, a failed
benchmark script); 2 a command-line error (unknown option or value, unknown
or unavailable model, an option that does not apply to the model, an invalid
hyperparameter value). Errors are one line on stderr, never a traceback
(``--debug`` shows it). ``--json`` prints one JSON object on stdout;
progress bars go to stderr (only on a terminal, see
:mod:`fastreg._progress`; ``--progress`` forces them, ``-q`` silences them).

Models come from :data:`MODELS`, one line per model: a model whose estimator
is not (yet) in the installed fastreg is reported as not available.
"""
import argparse
import ast
import contextlib
import json
import math
import os
import re
import subprocess
import sys
import textwrap
import time
import warnings
from dataclasses import dataclass

from ._progress import LineWatcher, Progress, progress_enabled

EXIT_ERROR, EXIT_USAGE = 1, 2


class CLIError(Exception):
    """An error reported as one line on stderr, with exit code ``code``."""

    def __init__(self, message, code=EXIT_ERROR):
        super().__init__(message)
        self.code = code


# -- models ----------------------------------------------------------------------------
def _enet_objective(est, X, y):
    from .reference.objectives import enet_objective

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

    from .reference.objectives import logistic_objective

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


def _model_spec(name):
    spec = MODELS.get(name)
    if spec is None:
        raise CLIError(f"unknown model {name!r} (choose from {', '.join(MODELS)})", EXIT_USAGE)
    return spec


def _estimator_class(name, cv=False):
    import fastreg

    spec = _model_spec(name)
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


def _build_estimator(args, name):
    spec = _model_spec(name)
    cv = getattr(args, "cv", None)
    cls = _estimator_class(name, cv=cv is not None)
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


# -- shared helpers --------------------------------------------------------------------
def _format_value(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def format_table(rows):
    """Render a list of dicts (same keys) as an aligned plain-text table."""
    if not rows:
        return "(no rows)"
    keys = list(rows[0])
    cells = [[_format_value(r.get(k, "")) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    line = "  ".join(k.ljust(w) for k, w in zip(keys, widths))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join([line, sep, *body])


def _format_fields(fields):
    """``key  value`` lines, aligned; None values are left out."""
    items = [(k, v) for k, v in fields.items() if v is not None and not isinstance(v, dict)]
    width = max(len(k) for k, _ in items)
    return "\n".join(f"{k.ljust(width)}  {_format_value(v)}" for k, v in items)


def _jsonable(obj):
    """Plain JSON types (numpy scalars and arrays converted; NaN and inf -> None)."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _emit_json(result):
    json.dump(_jsonable(result), sys.stdout, indent=2, allow_nan=False)
    print()


def _progress(args, total=None, desc=""):
    return Progress(total, desc, enabled=progress_enabled(args.quiet, args.progress),
                    force=args.progress)


@contextlib.contextmanager
def _watch_verbose(est, bar, enabled):
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


@contextlib.contextmanager
def _collect_warnings(sink):
    """Record warnings into ``sink`` (messages, deduplicated); printed by the caller."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        msg = f"{w.category.__name__}: {' '.join(str(w.message).split())}"
        if msg not in sink:
            sink.append(msg)


def _print_warnings(args, messages):
    if not args.quiet and not args.json:
        for msg in messages:
            print(f"warning: {msg}", file=sys.stderr)


def _load(args, path, **kwargs):
    from .io import load_data

    return load_data(path, fmt=args.format, target=args.target, **kwargs)


def _score_name(est):
    from sklearn.base import is_classifier

    return "accuracy" if is_classifier(est) else "r2"


# -- fit --------------------------------------------------------------------------------
def _cmd_fit(args):
    import numpy as np

    est, params = _build_estimator(args, args.model)
    spec = _model_spec(args.model)
    if args.output is not None:
        _check_writable(args.output)
    data = _load(args, args.data)
    test = None
    if args.test is not None:
        test = _load(args, args.test, n_features=data.n_features)
    elif data.test is not None and data.test.y is not None:
        test = data.test
    X, y = data.X, data.y
    if spec.task == "regression" and y.dtype.kind not in "fiub":
        raise CLIError(f"{args.data}: the target holds labels ({y[0]!r}, ...), but model "
                       f"{args.model!r} is a regression", EXIT_ERROR)
    caught = []
    enabled = progress_enabled(args.quiet, args.progress)
    with _progress(args, desc=f"fit {args.model}") as bar, _collect_warnings(caught):
        with _watch_verbose(est, bar, enabled):
            t0 = time.perf_counter()
            est.fit(X, y)
            elapsed = time.perf_counter() - t0
        coef = np.asarray(est.coef_)
        result = dict(command="fit", model=args.model, estimator=type(est).__name__,
                      data=args.data, n_samples=data.n_samples, n_features=data.n_features,
                      sparse=bool(hasattr(X, "tocsr")), params=params, time_s=elapsed,
                      n_iter=_scalar_or_none(getattr(est, "n_iter_", None)))
        for attr in ("alpha_", "alpha_min_", "alpha_1se_", "l1_ratio_", "C_"):
            if hasattr(est, attr):
                result[attr.rstrip("_")] = _scalar_or_none(getattr(est, attr))
        result["objective"] = spec.objective(est, X, y) if spec.objective else None
        gap = getattr(est, "dual_gap_", None)
        result["duality_gap"] = _scalar_or_none(gap)
        if hasattr(est, "loss_curve_") and est.loss_curve_:
            result["last_epoch_loss"] = float(est.loss_curve_[-1])
        result["nnz"] = int(np.count_nonzero(coef))
        result["n_coef"] = int(coef.size)
        result["score"] = _score_name(est)
        result["train_score"] = float(est.score(X, y))
        result["test_data"] = None if test is None else (args.test or f"{args.data} (test part)")
        result["test_score"] = None if test is None else float(est.score(test.X, test.y))
    if args.output is not None:
        import joblib

        try:
            joblib.dump(est, args.output)
        except OSError as exc:
            raise CLIError(f"cannot write {args.output}: {exc}") from None
    result["output"] = args.output
    result["warnings"] = caught
    if args.json:
        _emit_json(result)
    else:
        _print_warnings(args, caught)
        shown = {k: v for k, v in result.items() if k not in ("command", "warnings")}
        if args.quiet:
            shown = {k: result[k] for k in ("objective", "duality_gap", "nnz", "train_score",
                                            "test_score") if result.get(k) is not None}
        print(_format_fields(shown))
    return 0


def _scalar_or_none(v):
    import numpy as np

    if v is None:
        return None
    a = np.asarray(v)
    if a.dtype == object:
        return None
    return a.item() if a.size == 1 else a.tolist()


def _check_writable(path):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"cannot write {path}: no such folder {folder}")


# -- predict ----------------------------------------------------------------------------
def _load_model(path):
    import joblib

    if not os.path.isfile(path):
        raise CLIError(f"{path}: no such file")
    try:
        model = joblib.load(path)
    except Exception as exc:   # unpickling raises many types
        raise CLIError(f"{path}: not a model saved by `fastreg fit` "
                       f"({type(exc).__name__}: {' '.join(str(exc).split())})") from None
    if not hasattr(model, "predict") or not hasattr(model, "n_features_in_"):
        raise CLIError(f"{path}: not a fitted model saved by `fastreg fit` "
                       f"(got {type(model).__name__})")
    return model


def _cmd_predict(args):
    import numpy as np

    model = _load_model(args.model_file)
    if args.output is not None:
        _check_writable(args.output)
    data = _load(args, args.data, n_features=model.n_features_in_, require_target=False)
    pred = model.predict(data.X)
    score = None
    if data.y is not None:
        score = float(model.score(data.X, data.y))
    if args.output is not None:
        try:
            if args.output.endswith(".npy"):
                np.save(args.output, pred)
            else:
                with open(args.output, "w") as fh:
                    fh.write("prediction\n")
                    fh.writelines(f"{_format_pred(p)}\n" for p in pred)
        except OSError as exc:
            raise CLIError(f"cannot write {args.output}: {exc}") from None
    result = dict(command="predict", model=args.model_file, estimator=type(model).__name__,
                  data=args.data, n_samples=int(pred.shape[0]), score=_score_name(model),
                  data_score=score, output=args.output)
    if args.json:
        if args.output is None:
            result["predictions"] = pred
        _emit_json(result)
        return 0
    if args.output is None:
        sys.stdout.writelines(f"{_format_pred(p)}\n" for p in pred)
        if score is not None and not args.quiet:
            print(f"{result['score']} on {args.data}: {score:.6g}", file=sys.stderr)
    elif not args.quiet:
        print(_format_fields({k: v for k, v in result.items() if k != "command"}))
    return 0


def _format_pred(p):
    return repr(float(p)) if isinstance(p, float) or hasattr(p, "dtype") and \
        p.dtype.kind == "f" else str(p)


# -- path -------------------------------------------------------------------------------
def _import_pyplot(option="--plot"):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CLIError(f"{option} needs matplotlib, which is not installed "
                       "(pip install matplotlib)") from None
    return plt


def _cmd_path(args):
    import numpy as np

    import fastreg

    spec = _model_spec(args.model)
    if spec.path is None:
        supported = ", ".join(k for k, s in MODELS.items() if s.path)
        raise CLIError(f"fastreg path supports {supported}, not {args.model!r}", EXIT_USAGE)
    path_fn = getattr(fastreg, spec.path, None)
    if path_fn is None:
        raise CLIError(f"model {args.model!r} has no path in this fastreg version", EXIT_USAGE)
    l1_ratio = spec.l1_ratio
    if l1_ratio is None:
        l1_ratio = 0.5 if args.l1_ratio is None else args.l1_ratio
    elif args.l1_ratio is not None:
        raise CLIError(f"--l1-ratio does not apply to model {args.model!r}", EXIT_USAGE)
    if args.cv is not None and args.cv < 2:
        raise CLIError(f"--cv must be >= 2 folds, got {args.cv}", EXIT_USAGE)
    if args.n_alphas < 2:
        raise CLIError(f"--n-alphas must be >= 2, got {args.n_alphas}", EXIT_USAGE)
    cv_cls = _estimator_class(args.model, cv=True) if args.cv is not None else None
    plt = _import_pyplot() if args.plot else None
    for out in (args.plot, args.output):
        if out is not None:
            _check_writable(out)
    data = _load(args, args.data)
    X, y = data.X, data.y
    if y.dtype.kind not in "fiub":
        raise CLIError(f"{args.data}: the target holds labels ({y[0]!r}, ...); "
                       "fastreg path fits regressions", EXIT_ERROR)
    fit_intercept = not args.no_intercept
    solver = dict(tol=args.tol, max_iter=args.max_iter)
    solver = {k: v for k, v in solver.items() if v is not None}
    enabled = progress_enabled(args.quiet, args.progress)
    caught = []
    with _collect_warnings(caught):
        with _progress(args, total=args.n_alphas, desc="path (alphas)") as bar:
            watch = LineWatcher(lambda line: _path_step(line, bar))
            with contextlib.redirect_stdout(watch) if enabled else contextlib.nullcontext():
                t0 = time.perf_counter()
                alphas, coefs, gaps = path_fn(X, y, l1_ratio=l1_ratio, eps=args.eps,
                                              n_alphas=args.n_alphas,
                                              fit_intercept=fit_intercept, verbose=enabled,
                                              **solver)
                path_time = time.perf_counter() - t0
        cv = None
        if cv_cls is not None:
            cv_params = dict(alphas=alphas, cv=args.cv, fit_intercept=fit_intercept, **solver)
            if "l1_ratio" in cv_cls().get_params():
                cv_params["l1_ratio"] = l1_ratio
            est = cv_cls(**cv_params)
            with _progress(args, desc="cross-validation") as bar:
                with _watch_verbose(est, bar, enabled):
                    t0 = time.perf_counter()
                    est.fit(X, y)
                    cv_time = time.perf_counter() - t0
            mse = np.asarray(est.mse_path_).reshape(len(alphas), -1)
            cv = dict(n_folds=args.cv, time_s=cv_time, alpha_min=est.alpha_min_,
                      alpha_1se=est.alpha_1se_, mse_mean=mse.mean(axis=1),
                      mse_se=mse.std(axis=1, ddof=1) / np.sqrt(mse.shape[1]))
    nnz = np.count_nonzero(coefs, axis=0)
    result = dict(command="path", model=args.model, data=args.data, n_samples=data.n_samples,
                  n_features=data.n_features, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                  n_alphas=len(alphas), time_s=path_time, alphas=alphas, nnz=nnz,
                  dual_gaps=gaps, cv=cv, plot=args.plot, output=args.output, warnings=caught)
    if args.output:
        _write_path_csv(args.output, alphas, nnz, gaps, coefs, cv, data.feature_names)
    if plt is not None:
        _plot_path(plt, args.plot, alphas, coefs, cv, data.feature_names,
                   f"{args.model} path: {os.path.basename(args.data)}")
    if args.json:
        _emit_json(result)
        return 0
    _print_warnings(args, caught)
    if not args.quiet:
        head = {k: v for k, v in result.items()
                if k in ("model", "data", "n_samples", "n_features", "l1_ratio", "n_alphas",
                         "time_s")}
        head["alpha_max"] = float(alphas[0])
        if cv is not None:
            head.update(cv_time_s=cv["time_s"], alpha_min=cv["alpha_min"],
                        alpha_1se=cv["alpha_1se"])
        head.update(plot=args.plot, output=args.output)
        print(_format_fields(head))
        print()
    print(format_table(_path_rows(alphas, nnz, gaps, cv)))
    return 0


def _path_step(line, bar):
    m = re.search(r"alpha (\d+)/(\d+)", line)
    if m:
        bar.set(int(m.group(1)))


def _path_rows(alphas, nnz, gaps, cv, max_rows=20):
    """At most ``max_rows`` rows of the path (evenly spaced, the CV choices always in)."""
    import numpy as np

    keep = set(np.unique(np.linspace(0, len(alphas) - 1, min(max_rows, len(alphas)))
                         .round().astype(int)))
    marks = {}
    if cv is not None:
        for name in ("alpha_min", "alpha_1se"):
            i = int(np.argmin(np.abs(alphas - cv[name])))
            keep.add(i)
            marks[i] = (marks.get(i, "") + " " + name.replace("alpha_", "")).strip()
    rows = []
    for i in sorted(keep):
        row = dict(alpha=float(alphas[i]), nnz=int(nnz[i]), dual_gap=float(gaps[i]))
        if cv is not None:
            row.update(cv_mse=float(cv["mse_mean"][i]), cv_se=float(cv["mse_se"][i]),
                       chosen=marks.get(i, ""))
        rows.append(row)
    return rows


def _write_path_csv(path, alphas, nnz, gaps, coefs, cv, names):
    import numpy as np

    names = names or [f"x{j}" for j in range(coefs.shape[0])]
    cols = ["alpha", "nnz", "dual_gap"] + (["cv_mse", "cv_se"] if cv else []) + \
        [f"coef_{n}" for n in names]
    try:
        with open(path, "w") as fh:
            fh.write(",".join(cols) + "\n")
            for i in range(len(alphas)):
                vals = [alphas[i], nnz[i], gaps[i]]
                if cv:
                    vals += [cv["mse_mean"][i], cv["mse_se"][i]]
                vals += list(np.asarray(coefs[:, i]))
                fh.write(",".join(repr(float(v)) if not isinstance(v, (int, np.integer))
                                  else str(v) for v in vals) + "\n")
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc}") from None


def _plot_path(plt, path, alphas, coefs, cv, names, title, max_labels=10):
    """Coefficients against alpha (log scale), and the CV error with its SE band."""
    import numpy as np

    ncols = 1 if cv is None else 2
    fig, axes = plt.subplots(1, ncols, figsize=(6.0 * ncols, 4.2), squeeze=False)
    ax = axes[0][0]
    active = np.flatnonzero(np.any(coefs != 0, axis=1))
    for j in active:
        ax.plot(alphas, coefs[j], lw=1)
    final = np.abs(coefs[:, -1])
    for j in active[np.argsort(final[active])[::-1][:max_labels]]:
        label = names[j] if names else f"x{j}"
        ax.annotate(label, (alphas[-1], coefs[j, -1]), fontsize=7, xytext=(3, 0),
                    textcoords="offset points", va="center")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("alpha (log scale)")
    ax.set_ylabel("coefficients")
    ax.set_title(title)
    if cv is not None:
        cax = axes[0][1]
        mean, se = np.asarray(cv["mse_mean"]), np.asarray(cv["mse_se"])
        cax.plot(alphas, mean, color="C3", marker=".", ms=3, label="mean CV error")
        cax.fill_between(alphas, mean - se, mean + se, color="C3", alpha=0.25,
                         label="± 1 standard error")
        cax.set_xscale("log")
        cax.invert_xaxis()
        cax.set_xlabel("alpha (log scale)")
        cax.set_ylabel(f"mean squared error ({cv['n_folds']}-fold CV)")
        cax.set_title("cross-validation")
        for a in (ax, cax):
            a.axvline(cv["alpha_min"], color="k", ls="--", lw=0.8)
            a.axvline(cv["alpha_1se"], color="k", ls=":", lw=0.8)
        cax.plot([], [], color="k", ls="--", lw=0.8, label=f"alpha_min = {cv['alpha_min']:.3g}")
        cax.plot([], [], color="k", ls=":", lw=0.8, label=f"alpha_1se = {cv['alpha_1se']:.3g}")
        cax.legend(fontsize=8)
    for a in axes[0]:
        a.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc}") from None
    finally:
        plt.close(fig)


# -- bench ------------------------------------------------------------------------------
# Benchmark scripts of the repository's bench/ folder: name -> (script, arguments(out, quick)).
BENCH_SCRIPTS = {
    "kernels": ("kernels.py", lambda out: ["--output", os.path.join(out, "kernels.md")]),
    "lasso": ("lasso.py", lambda out: ["--out", out]),
    "path": ("path.py", lambda out: ["--out", out]),
    "stochastic": ("stochastic.py", lambda out: ["--out", out]),
    "logreg": ("logreg.py", lambda out: ["--out", out]),
    "memory": ("memory.py", lambda out: ["--out", os.path.join(out, "memory.md")]),
    "threads": ("threads.py", lambda out: ["--out", os.path.join(out, "threads.md")]),
}


def find_bench_dir(explicit=None):
    """The benchmark folder: ``explicit``, else ``$FASTREG_BENCH_DIR``, else the
    suite installed with the package (``fastreg/bench``), else the ``bench/``
    folder of a source checkout with an in-place build. Raises
    :class:`CLIError` when none holds the scripts."""
    import fastreg

    if explicit:
        candidates = [explicit]
    elif os.environ.get("FASTREG_BENCH_DIR"):
        candidates = [os.environ["FASTREG_BENCH_DIR"]]
    else:
        package = os.path.dirname(os.path.abspath(fastreg.__file__))
        candidates = [os.path.join(package, "bench"),
                      os.path.join(os.path.dirname(package), "bench")]
    for folder in candidates:
        if any(os.path.isfile(os.path.join(folder, s)) for s, _ in BENCH_SCRIPTS.values()):
            return os.path.abspath(folder)
    raise CLIError(f"no benchmark scripts in {' or '.join(candidates)}: reinstall fastreg, "
                   "or pass --bench-dir PATH/TO/fastreg/bench (or set FASTREG_BENCH_DIR)")


def _cmd_bench(args):
    bench_dir = find_bench_dir(args.bench_dir)
    names = list(BENCH_SCRIPTS) if not args.only else [s.strip() for s in args.only.split(",")]
    for name in names:
        if name not in BENCH_SCRIPTS:
            raise CLIError(f"unknown benchmark {name!r} "
                           f"(choose from {', '.join(BENCH_SCRIPTS)})", EXIT_USAGE)
    names = [n for n in names if os.path.isfile(os.path.join(bench_dir, BENCH_SCRIPTS[n][0]))]
    if not names:
        raise CLIError(f"none of the selected benchmark scripts is in {bench_dir}")
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    runs = []
    with _progress(args, total=len(names), desc="bench") as bar:
        for i, name in enumerate(names):
            bar.set(i, desc=f"bench {name}")
            runs.append(_run_bench_script(args, bench_dir, name, out, bar))
        bar.set(len(names))
    report = _write_bench_report(args, out, bench_dir, runs)
    result = dict(command="bench", bench_dir=bench_dir, quick=args.quick, out=out,
                  report=report, scripts=runs)
    if args.json:
        _emit_json(result)
    else:
        if not args.quiet:
            print(format_table([{k: r[k] for k in ("name", "status", "time_s", "markdown")}
                                for r in runs]))
        print(f"wrote {report}")
    failed = [r["name"] for r in runs if r["status"] != "ok"]
    if failed:
        print(f"fastreg bench: error: benchmark(s) failed: {', '.join(failed)} "
              f"(see {report})", file=sys.stderr)
        return EXIT_ERROR
    return 0


def _run_bench_script(args, bench_dir, name, out, bar):
    script, extra = BENCH_SCRIPTS[name]
    cmd = [sys.executable, os.path.join(bench_dir, script), *extra(out)]
    if args.quick:
        cmd.append("--quick")
    before = _listing(out)
    tail = []
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, cwd=bench_dir, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
    except OSError as exc:
        raise CLIError(f"cannot run {script}: {exc}") from None
    for line in proc.stdout:
        tail = (tail + [line.rstrip()])[-20:]
        if not args.quiet and not args.json:
            bar.write(f"[{name}] {line.rstrip()}")
    code = proc.wait()
    elapsed = time.perf_counter() - t0
    produced = sorted(f for f, mtime in _listing(out).items() if before.get(f) != mtime)
    return dict(name=name, script=script, command=" ".join(cmd), returncode=code,
                status="ok" if code == 0 else f"failed (exit code {code})", time_s=elapsed,
                markdown=[f for f in produced if f.endswith(".md")],
                images=[f for f in produced if f.endswith(".png")],
                output_tail=tail if code else [])


def _listing(folder):
    return {f: os.path.getmtime(os.path.join(folder, f)) for f in os.listdir(folder)}


def _write_bench_report(args, out, bench_dir, runs):
    import datetime

    import fastreg

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    quick = " (quick run: small problems, not the benchmark's numbers)" if args.quick else ""
    lines = ["# fastreg benchmark report", "",
             f"Date: {now}. fastreg {fastreg.__version__}, Python {sys.version.split()[0]}. "
             f"Scripts from `{bench_dir}`{quick}.", "",
             "| benchmark | status | time | results |", "|---|---|---|---|"]
    for r in runs:
        links = ", ".join(f"[{m}]({m})" for m in r["markdown"]) or "-"
        lines.append(f"| {r['name']} | {r['status']} | {r['time_s']:.1f} s | {links} |")
    lines.append("")
    for r in runs:
        lines += [f"## {r['name']}", "", f"`{r['command']}`", ""]
        if r["output_tail"]:
            lines += ["Last lines of its output:", "", "```", *r["output_tail"], "```", ""]
        for md in r["markdown"]:
            with open(os.path.join(out, md)) as fh:
                body = fh.read()
            # demote the script's headings by two levels (its title becomes a subsection)
            body = re.sub(r"^(#+) ", r"##\1 ", body, flags=re.M)
            lines += [body.strip(), ""]
        embedded = set(re.findall(r"\]\(([^)]+\.png)\)", "\n".join(lines)))
        lines += [f"![{img}]({img})" for img in r["images"] if img not in embedded]
        lines.append("")
    path = os.path.join(out, "report.md")
    with open(path, "w") as fh:
        fh.write("\n".join(lines))
    return path


# -- demo -------------------------------------------------------------------------------
def _cmd_demo(args):
    from . import demo

    names = args.sections or list(demo.SECTIONS)
    unknown = [n for n in names if n not in demo.SECTIONS]
    if unknown:
        raise SystemExit(f"fastreg demo: unknown section {unknown[0]!r} "
                         f"(choose from {', '.join(demo.SECTIONS)})")
    results = {}
    for name in names:
        title, fn = demo.SECTIONS[name]
        if not args.quiet and not args.json:
            print(f"\n== {title}", flush=True)
        rows = fn()
        results[name] = rows
        if not args.json:
            print(format_table(rows), flush=True)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    return 0


# -- parser -----------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


DATA_HELP = """\
data formats (recognized from the content; .gz/.bz2/.xz decompressed):
  svmlight/libsvm  'label idx:value ...' lines (scikit-learn's load_svmlight_file)
  .npz             keys X and y, or X_train/y_train (+ X_test/y_test: the test part,
                   scored by fit without --test and predicted by predict); or one
                   matrix saved by scipy.sparse.save_npz (target: last column)
  .npy             one 2-D array, target in the last column (or --target INDEX)
  .csv             ',', ';', tab or space separated; a header when the first line
                   has a non-number; target = last column unless --target NAME/INDEX
  .mat             MATLAB file with variables X and y (or Y)
In predict, a csv/npy/sparse-npz file with exactly as many columns as the model's
features is X only; with one more column, the last (or --target) is the target."""


def _common_options():
    p = _Parser(add_help=False)
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true",
                   help="print one JSON object on stdout (machine-readable)")
    g.add_argument("-q", "--quiet", action="store_true",
                   help="results only: no progress bar, no details, no warnings")
    g.add_argument("--progress", action="store_true",
                   help="always draw progress bars on stderr (default: only on a terminal, "
                        "after 1 s)")
    g.add_argument("--debug", action="store_true", help="show the traceback of errors")
    return p


def _data_options():
    p = _Parser(add_help=False)
    g = p.add_argument_group("data")
    g.add_argument("--format", choices=("svmlight", "npz", "npy", "csv", "mat"),
                   help="force the data format (default: from the file's content)")
    g.add_argument("--target", metavar="NAME|INDEX",
                   help="csv/npy: the target column (default: the last one)")
    return p


def _model_options(p, path=False):
    g = p.add_argument_group("model")
    names = [k for k, s in MODELS.items() if s.path] if path else list(MODELS)
    g.add_argument("--model", "-m", default="lasso", metavar="NAME",
                   help=f"{' | '.join(names)} (default: lasso)")
    if not path:
        g.add_argument("--alpha", type=float, help="regularization strength "
                       "(lasso, elasticnet, sgd-*)")
        g.add_argument("--C", type=float, dest="C", help="inverse regularization (logistic)")
    g.add_argument("--l1-ratio", type=float, dest="l1_ratio",
                   help="L1 share of the penalty (elasticnet, sgd-*, logistic)")
    if not path:
        g.add_argument("--optimizer", help="sgd-*: sgd, momentum, nesterov, adam, adamw, "
                                           "amsgrad")
        g.add_argument("--loss", help="sgd-*: the loss (e.g. squared_error, huber, hinge, "
                                      "log_loss)")
        g.add_argument("--lr", type=float, help="sgd-*: initial learning rate (eta0)")
        g.add_argument("--batch-size", type=int, dest="batch_size", help="sgd-*: minibatch size")
        g.add_argument("--seed", type=int, help="random_state")
    g.add_argument("--max-iter", type=int, dest="max_iter", help="maximum iterations / epochs")
    g.add_argument("--tol", type=float, help="stopping tolerance (the estimator's meaning)")
    g.add_argument("--no-intercept", action="store_true", dest="no_intercept",
                   help="fit no intercept")
    g.add_argument("--cv", type=int, metavar="K",
                   help="choose alpha (or C) by K-fold cross-validation"
                        + ("; adds the CV error curve" if path else ""))
    if not path:
        g.add_argument("--n-alphas", type=int, dest="n_alphas", metavar="N",
                       help="with --cv: number of alphas (or Cs) of the grid")
        g.add_argument("--param", action="append", metavar="KEY=VALUE",
                       help="any other estimator parameter (repeatable), e.g. "
                            "--param selection=random --param betas=(0.9,0.99)")


def _wrap(text):
    return textwrap.fill(text, 79)


def build_parser():
    parser = _Parser(
        prog="fastreg",
        description="Fast, certified solvers for sparse and regularized linear models.",
        epilog="Run `fastreg COMMAND --help` for each command's options. Exit codes: 0 ok, "
               "1 error while running, 2 command-line error.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common, data = _common_options(), _data_options()
    fmt = argparse.RawDescriptionHelpFormatter   # keeps DATA_HELP's layout; descriptions wrapped

    p = sub.add_parser("fit", parents=[common, data], formatter_class=fmt,
                       help="fit a model on a data file and save it",
                       description=_wrap(
                           "Fit a model, print time, objective, duality gap (when the model "
                           "has one), non-zeros and train/test scores, and save it with "
                           "joblib."), epilog=DATA_HELP)
    p.add_argument("data", metavar="DATA", help="training data file")
    _model_options(p)
    p.add_argument("--test", metavar="DATA", help="test data file (scored)")
    p.add_argument("-o", "--output", metavar="MODEL.joblib",
                   help="save the fitted model here (joblib)")
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser("predict", parents=[common, data], formatter_class=fmt,
                       help="predict with a saved model",
                       description=_wrap(
                           "Predict DATA with a model saved by `fastreg fit`; predictions go "
                           "to stdout (one per line) or to -o. When DATA holds a target, the "
                           "score is printed on stderr. Only load model files you trust "
                           "(joblib runs pickled code)."), epilog=DATA_HELP)
    p.add_argument("model_file", metavar="MODEL.joblib")
    p.add_argument("data", metavar="DATA")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the predictions: .csv (one column 'prediction') or .npy")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("path", parents=[common, data], formatter_class=fmt,
                       help="regularization path (and CV curve) with a plot",
                       description=_wrap(
                           "Compute the regularization path from alpha_max down to eps * "
                           "alpha_max (warm-started coordinate descent); with --cv K also the "
                           "K-fold CV error with its standard error, alpha_min and alpha_1se. "
                           "--plot writes a PNG (needs matplotlib)."), epilog=DATA_HELP)
    p.add_argument("data", metavar="DATA")
    _model_options(p, path=True)
    p.add_argument("--n-alphas", type=int, default=50, dest="n_alphas", metavar="N",
                   help="number of alphas (default 50)")
    p.add_argument("--eps", type=float, default=1e-3,
                   help="alpha_min / alpha_max (default 1e-3)")
    p.add_argument("--plot", metavar="PATH.png", help="write the plot (PNG)")
    p.add_argument("-o", "--output", metavar="PATH.csv",
                   help="write the path: alpha, nnz, dual_gap, [cv_mse, cv_se], coefficients")
    p.set_defaults(func=_cmd_path)

    p = sub.add_parser("bench", parents=[common], formatter_class=fmt,
                       help="run the benchmark scripts and write a Markdown report",
                       description="Run the benchmark scripts of the fastreg repository "
                                   f"({', '.join(s for s, _ in BENCH_SCRIPTS.values())} in "
                                   "bench/) against the installed peers, and write "
                                   "OUT/report.md gathering their tables and PNG plots.",
                       epilog="The scripts are not installed with the package: they are "
                              "looked up in --bench-dir, else $FASTREG_BENCH_DIR, else the "
                              "bench/ folder next to the fastreg package (a source checkout "
                              "or an editable install).")
    p.add_argument("--quick", action="store_true", help="small problems (a few minutes)")
    p.add_argument("--only", metavar="NAMES",
                   help=f"comma-separated subset of {', '.join(BENCH_SCRIPTS)}")
    p.add_argument("--bench-dir", dest="bench_dir", metavar="DIR",
                   help="the repository's bench/ folder")
    p.add_argument("--out", default="fastreg-bench", metavar="DIR",
                   help="results folder (default ./fastreg-bench)")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("demo", help="run the main job on built-in datasets (no file needed)",
                       description="Fit fastreg's kernels, optimizers and models next to the "
                                   "scipy reference and scikit-learn on built-in data.")
    p.add_argument("sections", nargs="*", help="sections to run (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-q", "--quiet", action="store_true", help="tables only")
    p.add_argument("--debug", action="store_true", help="show the traceback of errors")
    p.set_defaults(func=_cmd_demo)
    return parser


def _one_line(exc):
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (ValueError, TypeError, CLIError)):
        return msg
    return f"{type(exc).__name__}: {msg}"


def main(argv=None):
    """Entry point of the ``fastreg`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        print(f"fastreg {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        from sklearn.utils._param_validation import InvalidParameterError

        from .io import DataError

        if isinstance(exc, CLIError):
            code = exc.code
        else:
            code = EXIT_USAGE if isinstance(exc, InvalidParameterError) else EXIT_ERROR
        known = isinstance(exc, (CLIError, DataError, InvalidParameterError))
        hint = "" if known else " (--debug shows the traceback)"
        print(f"fastreg {args.command}: error: {_one_line(exc)}{hint}", file=sys.stderr)
        return code
