"""``fastreg path``: a regularization path, its CV curve, a CSV and a plot."""
import contextlib
import os
import re
import time

from .._progress import LineWatcher, progress_enabled
from ._common import (
    CLIError, EXIT_ERROR, EXIT_USAGE, check_writable, collect_warnings, emit_json,
    format_fields, format_table, import_pyplot, load_data_file, print_warnings, progress_bar)
from ._models import MODELS, estimator_class, model_spec, watch_verbose


def cmd_path(args):
    import numpy as np

    import fastreg

    spec = model_spec(args.model)
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
    cv_cls = estimator_class(args.model, cv=True) if args.cv is not None else None
    plt = import_pyplot() if args.plot else None
    for out in (args.plot, args.output):
        if out is not None:
            check_writable(out)
    data = load_data_file(args, args.data)
    X, y = data.X, data.y
    if y.dtype.kind not in "fiub":
        raise CLIError(f"{args.data}: the target holds labels ({y[0]!r}, ...); "
                       "fastreg path fits regressions", EXIT_ERROR)
    fit_intercept = not args.no_intercept
    solver = dict(tol=args.tol, max_iter=args.max_iter)
    solver = {k: v for k, v in solver.items() if v is not None}
    enabled = progress_enabled(args.quiet, args.progress)
    caught = []
    with collect_warnings(caught):
        with progress_bar(args, total=args.n_alphas, desc="path (alphas)") as bar:
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
            with progress_bar(args, desc="cross-validation") as bar:
                with watch_verbose(est, bar, enabled):
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
        emit_json(result)
        return 0
    print_warnings(args, caught)
    if not args.quiet:
        head = {k: v for k, v in result.items()
                if k in ("model", "data", "n_samples", "n_features", "l1_ratio", "n_alphas",
                         "time_s")}
        head["alpha_max"] = float(alphas[0])
        if cv is not None:
            head.update(cv_time_s=cv["time_s"], alpha_min=cv["alpha_min"],
                        alpha_1se=cv["alpha_1se"])
        head.update(plot=args.plot, output=args.output)
        print(format_fields(head))
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
