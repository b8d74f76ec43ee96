"""The argument parser and the entry point of the ``fastreg`` command."""
import argparse
import json
import sys
import textwrap

from ._common import CLIError, EXIT_ERROR, EXIT_USAGE, format_table
from ._bench import BENCH_SCRIPTS, cmd_bench
from ._fit import cmd_fit, cmd_predict
from ._models import MODELS
from ._path import cmd_path


def _cmd_demo(args):
    from .. import demo

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
    p.set_defaults(func=cmd_fit)

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
    p.set_defaults(func=cmd_predict)

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
    p.set_defaults(func=cmd_path)

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
    p.set_defaults(func=cmd_bench)

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

        from ..io import DataError

        if isinstance(exc, CLIError):
            code = exc.code
        else:
            code = EXIT_USAGE if isinstance(exc, InvalidParameterError) else EXIT_ERROR
        known = isinstance(exc, (CLIError, DataError, InvalidParameterError))
        hint = "" if known else " (--debug shows the traceback)"
        print(f"fastreg {args.command}: error: {_one_line(exc)}{hint}", file=sys.stderr)
        return code
