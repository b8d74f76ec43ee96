"""``fastreg fit`` and ``fastreg predict``."""
import os
import sys
import time

from .._progress import progress_enabled
from ._common import (
    CLIError, EXIT_ERROR, check_writable, collect_warnings, emit_json, format_fields,
    load_data_file, print_warnings, progress_bar, scalar_or_none, score_name)
from ._models import build_estimator, model_spec, watch_verbose


def cmd_fit(args):
    import numpy as np

    est, params = build_estimator(args, args.model)
    spec = model_spec(args.model)
    if args.output is not None:
        check_writable(args.output)
    data = load_data_file(args, args.data)
    test = None
    if args.test is not None:
        test = load_data_file(args, args.test, n_features=data.n_features)
    elif data.test is not None and data.test.y is not None:
        test = data.test
    X, y = data.X, data.y
    if spec.task == "regression" and y.dtype.kind not in "fiub":
        raise CLIError(f"{args.data}: the target holds labels ({y[0]!r}, ...), but model "
                       f"{args.model!r} is a regression", EXIT_ERROR)
    caught = []
    enabled = progress_enabled(args.quiet, args.progress)
    with progress_bar(args, desc=f"fit {args.model}") as bar, collect_warnings(caught):
        with watch_verbose(est, bar, enabled):
            t0 = time.perf_counter()
            est.fit(X, y)
            elapsed = time.perf_counter() - t0
        coef = np.asarray(est.coef_)
        result = dict(command="fit", model=args.model, estimator=type(est).__name__,
                      data=args.data, n_samples=data.n_samples, n_features=data.n_features,
                      sparse=bool(hasattr(X, "tocsr")), params=params, time_s=elapsed,
                      n_iter=scalar_or_none(getattr(est, "n_iter_", None)))
        for attr in ("alpha_", "alpha_min_", "alpha_1se_", "l1_ratio_", "C_"):
            if hasattr(est, attr):
                result[attr.rstrip("_")] = scalar_or_none(getattr(est, attr))
        result["objective"] = spec.objective(est, X, y) if spec.objective else None
        gap = getattr(est, "dual_gap_", None)
        result["duality_gap"] = scalar_or_none(gap)
        if hasattr(est, "loss_curve_") and est.loss_curve_:
            result["last_epoch_loss"] = float(est.loss_curve_[-1])
        result["nnz"] = int(np.count_nonzero(coef))
        result["n_coef"] = int(coef.size)
        result["score"] = score_name(est)
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
        emit_json(result)
    else:
        print_warnings(args, caught)
        shown = {k: v for k, v in result.items() if k not in ("command", "warnings")}
        if args.quiet:
            shown = {k: result[k] for k in ("objective", "duality_gap", "nnz", "train_score",
                                            "test_score") if result.get(k) is not None}
        print(format_fields(shown))
    return 0


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


def cmd_predict(args):
    import numpy as np

    model = _load_model(args.model_file)
    if args.output is not None:
        check_writable(args.output)
    data = load_data_file(args, args.data, n_features=model.n_features_in_, require_target=False)
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
                  data=args.data, n_samples=int(pred.shape[0]), score=score_name(model),
                  data_score=score, output=args.output)
    if args.json:
        if args.output is None:
            result["predictions"] = pred
        emit_json(result)
        return 0
    if args.output is None:
        sys.stdout.writelines(f"{_format_pred(p)}\n" for p in pred)
        if score is not None and not args.quiet:
            print(f"{result['score']} on {args.data}: {score:.6g}", file=sys.stderr)
    elif not args.quiet:
        print(format_fields({k: v for k, v in result.items() if k != "command"}))
    return 0


def _format_pred(p):
    return repr(float(p)) if isinstance(p, float) or hasattr(p, "dtype") and \
        p.dtype.kind == "f" else str(p)
