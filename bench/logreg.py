"""Sparse logistic regression benchmark (issue 4): time to relative suboptimality <= 1e-6.

Problems (:mod:`datasets.classification`): binary a9a, w8a, madelon, arcene, leukemia,
basehock, sparse_synth (20000 x 200000); multinomial mnist_5k, zipcode_usps. Objective
(scikit-learn's): ``C * sum_i loss_i + ||w||_1`` (``--penalties l2``: ``+ 1/2 ||w||^2``),
binary loss ``log(1 + exp(-y_i (x_i w + b)))``, multinomial the softmax cross-entropy.
L1: two values of C per problem, giving about 1% and about 10% non-zero coefficients
(found once by bisection on log C with fastreg at tol 1e-4; for multinomial, of the
K x p entries). L2 (optional): the 10% C.

Reference optimum ``P*``: fastreg at tol 1e-13 (max_iter 1000), computed once per cell and
lowered to the best objective any run reached. Suboptimality of a run:
``(P - P*) / |P*|`` in float64, outside the timed region. Each solver is run cold at tol
1e-1, 1e-2, ... (its own tol; a midpoint half a decade before the first success, see
``bench/_levels.py``), and the first level reaching 1e-6 is re-run: median of
``--repeat`` runs.

Settings: ``icpt`` = with an unpenalized intercept (fastreg, sklearn saga, and lbfgs for
L2); ``noicpt`` = without intercept, because celer's and skglm's logistic models have
none and liblinear penalizes its intercept (fastreg, liblinear, skglm, celer).
Multinomial: fastreg and saga (and lbfgs for L2); the others have no multinomial L1.

Usage::

    python bench/logreg.py --quick            # smoke run, small slices (~2-3 min loaded)
    python bench/logreg.py                    # full protocol (~20 min on a quiet 2-core machine)
    python bench/logreg.py --problems a9a,leukemia --solvers fastreg,skglm --budget 30
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import unset_openblas_overrides  # noqa: E402

if __name__ == "__main__":
    unset_openblas_overrides()

import argparse  # noqa: E402
import csv  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from _common import fmt_time, machine_info, use_repo_fastreg, versions, write_markdown  # noqa: E402
from _levels import search_to_target  # noqa: E402
from datasets.classification import NAMES, get_classification  # noqa: E402

TARGET = 1e-6
PKGS = ["numpy", "scipy", "sklearn", "celer", "skglm", "fastreg"]
SOLVERS = ["fastreg", "liblinear", "saga", "lbfgs", "skglm", "celer"]


# ---------------------------------------------------------------------------
# objective (float64, independent of every solver)
# ---------------------------------------------------------------------------
def objective(X, y, K, C, penalty, coef, intercept):
    """``C * loss + penalty`` (y: integer labels; binary coef (p,), multinomial (K, p))."""
    coef = np.asarray(coef, dtype=np.float64)
    if K == 2:
        z = np.asarray(X @ coef.ravel()).ravel() + float(np.ravel(intercept)[0])
        s = np.where(y == 1, 1.0, -1.0)
        loss = float(np.logaddexp(0.0, -s * z).sum())
    else:
        Z = np.asarray(X @ coef.reshape(K, -1).T) + np.asarray(intercept, dtype=np.float64)
        zmax = Z.max(axis=1, keepdims=True)
        lse = zmax[:, 0] + np.log(np.exp(Z - zmax).sum(axis=1))
        loss = float((lse - Z[np.arange(len(y)), y]).sum())
    pen = float(np.abs(coef).sum()) if penalty == "l1" else 0.5 * float((coef ** 2).sum())
    return C * loss + pen


# ---------------------------------------------------------------------------
# solvers: fit(X, y, C, penalty, fit_intercept, tol) -> (coef, intercept)
# ---------------------------------------------------------------------------
def _fastreg(X, y, C, penalty, fi, tol):
    import fastreg
    est = fastreg.LogisticRegression(penalty=penalty, C=C, fit_intercept=fi, tol=tol,
                                     max_iter=1000).fit(X, y)
    return est.coef_, est.intercept_


def _sklearn(solver):
    def fit(X, y, C, penalty, fi, tol):
        from sklearn.linear_model import LogisticRegression
        est = LogisticRegression(l1_ratio=1.0 if penalty == "l1" else 0.0, C=C, solver=solver,
                                 fit_intercept=fi, tol=tol, max_iter=100_000).fit(X, y)
        return est.coef_, est.intercept_
    return fit


def _skglm(X, y, C, penalty, fi, tol):
    from skglm import SparseLogisticRegression
    est = SparseLogisticRegression(alpha=1.0 / (C * X.shape[0]), tol=tol, max_iter=20,
                                   fit_intercept=False).fit(X, y)
    return est.coef_, np.zeros(1)


def _celer(X, y, C, penalty, fi, tol):
    from celer import LogisticRegression
    est = LogisticRegression(C=C, tol=tol, max_iter=20, fit_intercept=False).fit(X, y)
    return est.coef_, np.zeros(1)


FITS = {"fastreg": _fastreg, "liblinear": _sklearn("liblinear"), "saga": _sklearn("saga"),
        "lbfgs": _sklearn("lbfgs"), "skglm": _skglm, "celer": _celer}


def supports(name, K, penalty, fi):
    """Whether solver ``name`` solves this cell's exact problem."""
    if name == "fastreg":
        return True
    if name == "saga":
        return fi
    if name == "lbfgs":
        return penalty == "l2" and fi
    if name == "liblinear":
        return K == 2 and not fi
    return K == 2 and penalty == "l1" and not fi     # skglm, celer


# ---------------------------------------------------------------------------
# C for a target density, reference optimum, time to target
# ---------------------------------------------------------------------------
def _nnz_fraction(X, y, C, fi):
    import fastreg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = fastreg.LogisticRegression(penalty="l1", C=C, fit_intercept=fi, tol=1e-4,
                                         max_iter=200).fit(X, y)
    return np.count_nonzero(est.coef_) / est.coef_.size


def c_for_density(X, y, density, fi, n_steps=9):
    """C whose L1 solution has about ``density`` non-zeros (bisection on log C)."""
    n = X.shape[0]
    lo, hi = np.log(1e-4 / n), np.log(1e4)
    # lower end: below C_min no coefficient enters (gradient bound at the null model)
    for _ in range(n_steps):
        mid = 0.5 * (lo + hi)
        if _nnz_fraction(X, y, float(np.exp(mid)), fi) < density:
            lo = mid
        else:
            hi = mid
    return float(np.exp(0.5 * (lo + hi)))


def reference(X, y, C, penalty, fi):
    import fastreg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = fastreg.LogisticRegression(penalty=penalty, C=C, fit_intercept=fi, tol=1e-13,
                                         max_iter=1000).fit(X, y)
    return est.coef_, est.intercept_


def time_to_target(fit, X, y, K, C, penalty, fi, p_star, budget, repeat, record):
    def run_once(tol):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            coef, icpt = fit(X, y, C, penalty, fi, tol)
            elapsed = time.perf_counter() - t0
        P = objective(X, y, K, C, penalty, coef, icpt if fi else np.zeros(K if K > 2 else 1))
        record.append(P)
        return elapsed, (P - p_star[0]) / abs(p_star[0])

    return search_to_target(run_once, "tolerance", TARGET, budget, repeat)


def plot_cells(path, title_cells, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(title_cells), figsize=(4.5 * len(title_cells), 3.6),
                             squeeze=False)
    for ax, (title, cell) in zip(axes[0], title_cells):
        for name, res in results[cell].items():
            if res["curve"]:
                ax.loglog([c[1] for c in res["curve"]], [max(c[2], 1e-16) for c in res["curve"]],
                          marker="o", ms=3, label=name)
        ax.axhline(TARGET, color="k", ls="--", lw=0.8)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("(P - P*) / P*")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


PROTOCOL = """\
Objective (scikit-learn's): C * sum_i loss_i + ||w||_1 (L1) or + 1/2 ||w||^2 (L2); binary
logistic or multinomial (softmax) loss. L1 cells: C giving about 1% and 10% non-zero
coefficients (bisection on log C with fastreg). L2 cells: the 10% C.
Reference P*: fastreg at tol 1e-13, lowered to the best objective seen in the cell.
Time: one cold fit (fresh estimator) reaching (P - P*)/|P*| <= {target:g}, found by a sweep of
each solver's own tol (1e-1, 1e-2, ..., midpoint half a decade before the first success);
the first level reaching the target is re-run: median of {repeat} runs. A solver not
reaching the target within {budget:g} s of cumulative runs is shown as "> spent (best subopt.)".
Settings: "icpt": unpenalized intercept (fastreg, saga, lbfgs for L2). "noicpt": no
intercept -- celer and skglm have no intercept for logistic regression and liblinear
penalizes its intercept, so they are compared with fastreg at fit_intercept=False.
Multinomial: fastreg vs saga (and lbfgs for L2). Ratio = solver time / fastreg time of the
same setting (> 1: fastreg faster). Library default threads.
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small slices, short budget")
    parser.add_argument("--problems", default=",".join(NAMES))
    parser.add_argument("--solvers", default=",".join(SOLVERS))
    parser.add_argument("--penalties", default="l1", help="l1 and/or l2 (comma-separated)")
    parser.add_argument("--densities", default="0.01,0.1")
    parser.add_argument("--settings", default="icpt,noicpt")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget", type=float, default=None,
                        help="max cumulative seconds per cell and solver (default 8; quick 2)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    budget = args.budget if args.budget is not None else (2.0 if args.quick else 8.0)
    repeat = 1 if args.quick and args.repeat == 3 else args.repeat
    out_dir = args.out or os.path.join(HERE, "results", "quick" if args.quick else "")
    os.makedirs(out_dir, exist_ok=True)
    src = use_repo_fastreg()
    solvers = [s for s in args.solvers.split(",") if s]
    for name in list(solvers):
        try:
            __import__({"skglm": "skglm", "celer": "celer"}.get(name, "sklearn"))
        except ImportError:
            print(f"skipping {name}: not installed")
            solvers.remove(name)
    settings = [s == "icpt" for s in args.settings.split(",")]
    # warm-up (numba compilation in skglm, first calls) outside any timing
    Xw, yw = get_classification("a9a", quick=True)
    for name in solvers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            FITS[name](Xw[:200], yw[:200], 0.1, "l1" if name != "lbfgs" else "l2",
                       name in ("saga", "lbfgs"), 1e-2)
    t_start = time.perf_counter()
    results, tables, rows_csv = {}, [], []
    for problem in args.problems.split(","):
        X, y = get_classification(problem, quick=args.quick)
        K = int(y.max()) + 1
        desc = f"{X.shape[0]} x {X.shape[1]}, " + (
            f"sparse, density {X.nnz / np.prod(X.shape):.2g}" if sp.issparse(X) else "dense") + \
            (f", {K} classes" if K > 2 else "")
        print(f"== {problem}: {desc}", flush=True)
        rows, title_cells = [], []
        Cs = {d: c_for_density(X, y, float(d), True) for d in args.densities.split(",")}
        for fi in settings:
            cells = [("l1", d, C) for d, C in Cs.items()] if "l1" in args.penalties else []
            if "l2" in args.penalties:
                cells.append(("l2", max(Cs), Cs[max(Cs)]))
            for penalty, d, C in cells:
                names = [s for s in solvers if supports(s, K, penalty, fi)]
                if names == ["fastreg"] or not names:
                    continue
                coef, icpt = reference(X, y, C, penalty, fi)
                p_star = [objective(X, y, K, C, penalty, coef, icpt)]
                nnz = np.count_nonzero(coef) / coef.size
                cell = (problem, fi, penalty, d)
                results[cell], record = {}, []
                for name in names:
                    res = time_to_target(FITS[name], X, y, K, C, penalty, fi, p_star, budget,
                                         repeat, record)
                    results[cell][name] = res
                # a run below the reference lowers P* (recompute the curves' suboptimality)
                best = min(record + p_star)
                if best < p_star[0]:
                    for res in results[cell].values():
                        res["curve"] = [(s, t, g + (p_star[0] - best) / abs(best))
                                        for s, t, g in res["curve"]]
                label = f"{'icpt' if fi else 'noicpt'} {penalty} C={C:.3g}" + \
                    (f" ({100 * nnz:.2g}% nnz)" if penalty == "l1" else "")
                title_cells.append((f"{problem} {label}", cell))
                ref_t = results[cell]["fastreg"]["time"]
                row = [label]
                for name in SOLVERS:
                    res = results[cell].get(name)
                    if res is None:
                        row.append("-")
                    elif res["time"] is None:
                        row.append(f"> {res['spent']:.3g} s ({res['best_gap']:.0e})")
                    else:
                        cell_txt = fmt_time(res["time"])
                        if ref_t and name != "fastreg":
                            cell_txt += f" ({res['time'] / ref_t:.2g}x)"
                        row.append(cell_txt)
                    if res is not None:
                        rows_csv.extend([problem, label, name, s, f"{t:.6g}", f"{g:.6g}"]
                                        for s, t, g in res["curve"])
                rows.append(row)
                print("  " + " | ".join(row), flush=True)
        png = f"logreg_{problem}.png"
        if title_cells:
            plot_cells(os.path.join(out_dir, png), title_cells, results)
        tables.append(dict(title=f"{problem} ({desc})", columns=["cell"] + SOLVERS, rows=rows,
                           image=png))
    with open(os.path.join(out_dir, "logreg.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["problem", "cell", "solver", "tol", "time_s", "rel_subopt"])
        w.writerows(rows_csv)
    elapsed = time.perf_counter() - t_start
    header = {
        "Protocol": PROTOCOL.format(target=TARGET, repeat=repeat, budget=budget)
        + ("\n\n**Quick run** (--quick): scaled-down problems, short budget, 1 repeat; "
           "not the benchmark's numbers." if args.quick else ""),
        "Machine": dict(machine_info(), load_average=" ".join(
            f"{v:.2f}" for v in os.getloadavg())),
        "Versions": dict(versions(PKGS), fastreg_source=src),
        "Run": f"{' '.join(sys.argv)}: {elapsed / 60:.1f} min",
    }
    path = write_markdown(os.path.join(out_dir, "logreg.md"),
                          "Logistic regression: time to relative suboptimality <= 1e-6",
                          header, tables)
    print(f"wrote {path} ({elapsed / 60:.1f} min)")


if __name__ == "__main__":
    main()
