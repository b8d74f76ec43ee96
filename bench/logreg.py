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

C grid rule: an L1-logistic solution has at most ``n_samples`` non-zero coefficients per
class, and close to that bound the problem is degenerate (nearly separable data, rank-deficient
Hessian). A density ``d`` is therefore capped at ``n_samples / (2 n_features)`` (half the
samples); a capped density equal to another one of the problem is dropped, and so is a density
that the bisection cannot reach with ``C <= 1e4``. The cells asked and dropped are printed and
written to the results.

Time caps: every fit runs in a worker process (spawned once per problem, data loaded there);
a fit longer than its cap (sweep runs: ``2 * budget + 5`` s; reference: ``--ref-cap``; C
bisection: ``--ref-cap / 8``) is killed, the worker restarted, and the run counted as not
reaching the target, so the whole run always finishes and writes its results.

Usage::

    python bench/logreg.py --quick            # smoke run, small slices (~3 min loaded)
    python bench/logreg.py --budget 3         # full protocol (split it: see below)
    python bench/logreg.py --problems a9a,leukemia --solvers fastreg,skglm --budget 30

A run over a subset of ``--problems`` writes ``logreg_<problems>.md`` / ``.json`` (the
full set writes ``logreg.md``); ``--merge`` then assembles every ``logreg_*.json`` of the
output folder into ``logreg.md``.
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
import glob  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
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
C_MAX = 1e4          # upper end of the C bisection
SWEEP_SLACK = 5.0    # seconds added to a sweep run's cap (2 * budget)


def _nnz_fraction(X, y, C, fi):
    import fastreg
    est = fastreg.LogisticRegression(penalty="l1", C=C, fit_intercept=fi, tol=1e-4,
                                     max_iter=200).fit(X, y)
    return np.count_nonzero(est.coef_) / est.coef_.size


def _reference(X, y, C, penalty, fi, tol):
    import fastreg
    est = fastreg.LogisticRegression(penalty=penalty, C=C, fit_intercept=fi, tol=tol,
                                     max_iter=1000).fit(X, y)
    return est.coef_, est.intercept_


def _worker_main(conn, problem, quick, solvers):
    """Worker process: loads the problem once, then runs the fits the parent sends."""
    from _common import use_repo_fastreg as _use
    _use()
    X, y = get_classification(problem, quick=quick)
    _warm_up(solvers)
    conn.send("ready")
    while True:
        msg = conn.recv()
        if msg is None:
            break
        kind, args = msg
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kind == "fit":
                name, C, penalty, fi, tol = args
                t0 = time.perf_counter()
                c0 = time.process_time()
                coef, icpt = FITS[name](X, y, C, penalty, fi, tol)
                out = (time.perf_counter() - t0, time.process_time() - c0, coef, icpt)
            elif kind == "nnz":
                out = _nnz_fraction(X, y, *args)
            else:
                out = _reference(X, y, *args)
        conn.send(out)


def _warm_up(solvers):
    """First calls (numba compilation in skglm, imports) outside any timing."""
    Xw, yw = get_classification("a9a", quick=True)
    for name in solvers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            FITS[name](Xw[:200], yw[:200], 0.1, "l1" if name != "lbfgs" else "l2",
                       name in ("saga", "lbfgs"), 1e-2)


class Worker:
    """One spawned process per problem; a call longer than its cap kills and restarts it."""

    def __init__(self, problem, quick, solvers):
        self.args = (problem, quick, solvers)
        self.ctx = multiprocessing.get_context("spawn")
        self.proc = None
        self._start()

    def _start(self):
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker_main, args=(child,) + self.args, daemon=True)
        self.proc.start()
        child.close()
        if not self.conn.poll(900) or self.conn.recv() != "ready":
            raise RuntimeError(f"worker for {self.args[0]} did not start")

    def call(self, kind, args, cap):
        """Result of the worker's ``kind(*args)``, or None if it takes more than ``cap`` s
        (or the worker died: an exception in a fit is printed by the worker)."""
        try:
            self.conn.send((kind, args))
            if self.conn.poll(cap):
                return self.conn.recv()
        except (EOFError, OSError):
            pass
        self.proc.kill()        # this run's own worker process
        self.proc.join()
        self._start()
        return None

    def close(self):
        if self.proc is not None and self.proc.is_alive():
            self.conn.send(None)
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join()


def c_for_density(worker, density, fi, n, cap, n_steps=8):
    """C whose L1 solution has about ``density`` non-zeros (bisection on log C).

    Returns ``(C, reached)``; ``reached`` is False when no C tried (the largest close to
    ``C_MAX``) gave ``0.8 density`` non-zeros. A bisection fit longer than ``cap`` s counts
    as too dense.
    """
    lo, hi = np.log(1e-4 / n), np.log(C_MAX)
    reached = False
    for _ in range(n_steps):
        mid = 0.5 * (lo + hi)
        t0 = time.perf_counter()
        frac = worker.call("nnz", (float(np.exp(mid)), fi), cap)
        print(f"    bisection for {density:g}: C={np.exp(mid):.3g} -> "
              f"{'timeout' if frac is None else f'{100 * frac:.2g}% nnz'} "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
        if frac is not None and frac < density:
            lo = mid
            reached = reached or frac >= 0.8 * density
        else:
            hi = mid
            reached = True
    return float(np.exp(0.5 * (lo + hi))), reached


def density_grid(densities, n, p, K):
    """Densities asked (capped at ``n / (2 p)``, duplicates dropped) and notes on the others."""
    cap = n / (2.0 * p)
    asked, notes = [], []
    for d in densities:
        if d > cap:
            dc = float(f"{cap:.2g}")
            notes.append(f"density {d:g} asks {d * p * K:.0f} non-zeros, more than "
                         f"n_samples / 2 = {n / 2:g} per class: capped at {dc:g}")
            d = dc
        if d in asked:
            notes.append(f"density {d:g} already asked: dropped")
            continue
        asked.append(d)
    return asked, notes


def time_to_target(worker, name, X, y, K, C, penalty, fi, p_star, budget, repeat, record):
    cap = 2 * budget + SWEEP_SLACK

    def run_once(tol):
        out = worker.call("fit", (name, C, penalty, fi, tol), cap)
        if out is None:
            return cap, np.inf
        elapsed, _, coef, icpt = out
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
coefficients (bisection on log C with fastreg, C <= {c_max:g}). L2 cells: the largest density's C.
C grid rule: an L1-logistic solution has at most n_samples non-zeros per class, and near that
bound the problem is degenerate (nearly separable, rank-deficient Hessian): a density is capped
at n_samples / (2 n_features); a capped density equal to another one is dropped, and so is a
density not reached at C = {c_max:g} (listed under each problem's table).
Reference P*: fastreg at tol 1e-13 (capped at {ref_cap:g} s; then tol 1e-10), lowered to the best
objective seen in the cell.
Time: one cold fit (fresh estimator) reaching (P - P*)/|P*| <= {target:g}, found by a sweep of
each solver's own tol (1e-1, 1e-2, ..., midpoint half a decade before the first success);
the first level reaching the target is re-run: median of {repeat} runs. A solver not
reaching the target within {budget:g} s of cumulative runs is shown as "> spent (best subopt.)";
every single fit is capped at {fit_cap:g} s (killed, counted as not reaching the target).
Settings: "icpt": unpenalized intercept (fastreg, saga, lbfgs for L2). "noicpt": no
intercept -- celer and skglm have no intercept for logistic regression and liblinear
penalizes its intercept, so they are compared with fastreg at fit_intercept=False.
Multinomial: fastreg vs saga (and lbfgs for L2). Ratio = solver time / fastreg time of the
same setting (> 1: fastreg faster). Library default threads; each problem's fits run in one
worker process (data loaded there once).
"""


def _run_problem(problem, args, solvers, settings, budget, repeat, out_dir, results, rows_csv):
    """All cells of one problem; returns its table (dict for write_markdown)."""
    X, y = get_classification(problem, quick=args.quick)
    n, p = X.shape
    K = int(y.max()) + 1
    desc = f"{n} x {p}, " + (
        f"sparse, density {X.nnz / np.prod(X.shape):.2g}" if sp.issparse(X) else "dense") + \
        (f", {K} classes" if K > 2 else "")
    print(f"== {problem}: {desc}", flush=True)
    worker = Worker(problem, args.quick, solvers)
    rows, title_cells = [], []
    dens, notes = density_grid([float(d) for d in args.densities.split(",")], n, p,
                               K if K > 2 else 1)
    bis_cap = args.ref_cap / 8
    try:
        Cs = {}
        for d in dens:
            C, reached = c_for_density(worker, d, True, n, bis_cap)
            if reached:
                Cs[d] = C
            else:
                notes.append(f"density {d:g} not reached at C = {C_MAX:g}: dropped")
        for note in notes:
            print(f"  note: {note}", flush=True)
        for fi in settings:
            cells = [("l1", d, C) for d, C in Cs.items()] if "l1" in args.penalties else []
            if "l2" in args.penalties and Cs:
                cells.append(("l2", max(Cs), Cs[max(Cs)]))
            for penalty, d, C in cells:
                names = [s for s in solvers if supports(s, K, penalty, fi)]
                if names == ["fastreg"] or not names:
                    continue
                label = f"{'icpt' if fi else 'noicpt'} {penalty} C={C:.3g}"
                ref = worker.call("ref", (C, penalty, fi, 1e-13), args.ref_cap)
                if ref is None:
                    ref = worker.call("ref", (C, penalty, fi, 1e-10), args.ref_cap)
                if ref is None:
                    msg = f"{label}: no reference optimum within {args.ref_cap:g} s: skipped"
                    print(f"  note: {msg}", flush=True)
                    notes.append(msg)
                    continue
                coef, icpt = ref
                p_star = [objective(X, y, K, C, penalty, coef, icpt)]
                nnz = np.count_nonzero(coef) / coef.size
                cell = (problem, fi, penalty, d)
                results[cell], record = {}, []
                for name in names:
                    results[cell][name] = time_to_target(worker, name, X, y, K, C, penalty, fi,
                                                         p_star, budget, repeat, record)
                # a run below the reference lowers P* (recompute the curves' suboptimality)
                best = min(record + p_star)
                if best < p_star[0]:
                    for res in results[cell].values():
                        res["curve"] = [(s, t, g + (p_star[0] - best) / abs(best))
                                        for s, t, g in res["curve"]]
                if penalty == "l1":
                    label += f" ({100 * nnz:.2g}% nnz)"
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
    finally:
        worker.close()
    png = f"logreg_{problem}.png"
    if title_cells:
        plot_cells(os.path.join(out_dir, png), title_cells, results)
    return dict(title=f"{problem} ({desc})", columns=["cell"] + SOLVERS, rows=rows,
                notes="\n".join(f"- {t}" for t in notes), image=png if title_cells else None)


def _merge(out_dir):
    """``logreg.md`` from every ``logreg_*.json`` of ``out_dir`` (split runs)."""
    parts = sorted(glob.glob(os.path.join(out_dir, "logreg_*.json")))
    if not parts:
        raise SystemExit(f"no logreg_*.json in {out_dir}")
    tables, runs, header = [], [], None
    for path in parts:
        with open(path) as fh:
            part = json.load(fh)
        header = header or part["header"]
        runs.append(part["header"]["Run"])
        tables.extend(part["tables"])
    header["Run"] = "split runs: " + "; ".join(runs)
    path = write_markdown(os.path.join(out_dir, "logreg.md"),
                          "Logistic regression: time to relative suboptimality <= 1e-6",
                          header, tables)
    print(f"wrote {path} from {len(parts)} parts")


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
    parser.add_argument("--ref-cap", type=float, default=None,
                        help="seconds per reference fit (default 120; quick 30)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--merge", action="store_true",
                        help="only assemble logreg.md from the logreg_*.json of split runs")
    args = parser.parse_args(argv)
    budget = args.budget if args.budget is not None else (2.0 if args.quick else 8.0)
    args.ref_cap = args.ref_cap if args.ref_cap is not None else (30.0 if args.quick else 120.0)
    repeat = 1 if args.quick and args.repeat == 3 else args.repeat
    out_dir = args.out or os.path.join(HERE, "results", "quick" if args.quick else "")
    os.makedirs(out_dir, exist_ok=True)
    if args.merge:
        _merge(out_dir)
        return
    src = use_repo_fastreg()
    solvers = [s for s in args.solvers.split(",") if s]
    for name in list(solvers):
        try:
            __import__({"skglm": "skglm", "celer": "celer"}.get(name, "sklearn"))
        except ImportError:
            print(f"skipping {name}: not installed")
            solvers.remove(name)
    settings = [s == "icpt" for s in args.settings.split(",")]
    problems = [q for q in args.problems.split(",") if q]
    tag = "" if problems == NAMES else "_" + "_".join(problems)
    t_start = time.perf_counter()
    results, tables, rows_csv = {}, [], []
    for problem in problems:
        tables.append(_run_problem(problem, args, solvers, settings, budget, repeat, out_dir,
                                   results, rows_csv))
    with open(os.path.join(out_dir, f"logreg{tag}.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["problem", "cell", "solver", "tol", "time_s", "rel_subopt"])
        w.writerows(rows_csv)
    elapsed = time.perf_counter() - t_start
    header = {
        "Protocol": PROTOCOL.format(target=TARGET, repeat=repeat, budget=budget, c_max=C_MAX,
                                    ref_cap=args.ref_cap, fit_cap=2 * budget + SWEEP_SLACK)
        + ("\n\n**Quick run** (--quick): scaled-down problems, short budget, 1 repeat; "
           "not the benchmark's numbers." if args.quick else ""),
        "Machine": dict(machine_info(), load_average=" ".join(
            f"{v:.2f}" for v in os.getloadavg())),
        "Versions": dict(versions(PKGS), fastreg_source=src),
        "Run": f"{' '.join(sys.argv)}: {elapsed / 60:.1f} min",
    }
    if tag:
        with open(os.path.join(out_dir, f"logreg{tag}.json"), "w") as fh:
            json.dump(dict(header=header, tables=tables), fh, indent=1, default=str)
    path = write_markdown(os.path.join(out_dir, f"logreg{tag}.md"),
                          "Logistic regression: time to relative suboptimality <= 1e-6",
                          header, tables)
    print(f"wrote {path} ({elapsed / 60:.1f} min)")


if __name__ == "__main__":
    main()
