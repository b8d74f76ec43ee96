"""Lasso path benchmark (issue 3): 100 alphas from alpha_max to alpha_max/1000.

Solvers: fastreg ``lasso_path``, celer ``celer_path``, scikit-learn
``lasso_path``, skglm ``Lasso.path`` (all warm-started along the grid). Each
path is run with tol = 1e-2, 1e-3, ... (each solver's own meaning of tol)
until every one of the 100 solutions has an independently computed duality
gap <= 1e-6 * P(0) (:mod:`objective`); then that level's path is timed again
(median of ``--repeat`` runs). Then the peak memory (tracemalloc: every numpy
allocation, including scipy and the compiled solvers' numpy buffers) of one
path call on Fortran-ordered dense or CSC input is compared with the size of
X: a peak well below X's size shows that X was not copied.

Usage::

    python bench/path.py --quick     # small problems, 30 alphas to alpha_max/100, ~1 minute
    python bench/path.py             # full problems (long)
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import unset_openblas_overrides  # noqa: E402

if __name__ == "__main__":
    unset_openblas_overrides()

import argparse  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from _common import (fmt_time, machine_info, use_repo_fastreg, versions,  # noqa: E402
                     write_markdown)
from _levels import search_to_target, stop_levels  # noqa: E402
from datasets import NAMES as PROBLEMS, describe, get_dataset  # noqa: E402
from objective import alpha_max, path_gaps  # noqa: E402
from solvers import available_solvers  # noqa: E402

TARGET = 1e-6
PATH_SOLVERS = ["fastreg", "celer", "skglm", "sklearn"]
PKGS = ["numpy", "scipy", "sklearn", "celer", "skglm", "fastreg"]
MEM_STOP = {"tolerance": 1e-4, "iteration": 20}


def time_path(solver, X, y, alphas, budget, repeat):
    """Sweep tol (see :mod:`_levels`) until every gap on the path is <= target."""
    def run_once(tol):
        t0 = time.perf_counter()
        coefs = solver.path(X, y, alphas, tol)
        elapsed = time.perf_counter() - t0
        return elapsed, float(np.max(path_gaps(X, y, coefs, alphas)))

    return search_to_target(run_once, "tolerance", TARGET, budget, repeat,
                            levels=stop_levels("tolerance", first_tol=1e-3))


def peak_memory(solver, stop):
    """Peak traced memory (bytes) of one ``solver.run(stop)``, above what was allocated before."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    solver.run(stop)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def nbytes(X):
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


PROTOCOL = """\
Lasso path without intercept (dense real data standardized, y centered), 100 alphas
(--n-alphas) geometrically spaced from alpha_max = ||X^T y||_inf / n to alpha_max/1000 (--eps),
each solver's
own warm-started path function. The path is run with tol = 1e-3, 1e-4, ... (then the half-decade before the first
success) until the
largest relative duality gap over the path, computed independently in float64 (same dual
point for every solver, see bench/objective.py), is <= {target:g} * P(0); that level is
then timed {repeat} times (median reported). Ratio = solver time / fastreg time (> 1:
fastreg faster). A solver that does not reach the target within {budget:g} s of cumulative
runs is reported as "> spent (worst gap)". Memory: peak of tracemalloc's traced memory
during one cold fit at alpha_max/100 (tol 1e-4, or 20 iterations for sklearn), with X
passed as Fortran-ordered float64 (dense) or CSC float64 (sparse); tracemalloc sees numpy
allocations (hence any copy of X), not malloc calls made inside compiled code.
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--solvers", default=",".join(PATH_SOLVERS))
    parser.add_argument("--n-alphas", type=int, default=None, help="default 100 (quick: 30)")
    parser.add_argument("--eps", type=float, default=None,
                        help="alpha_min / alpha_max; default 1e-3 (quick: 1e-2)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget", type=float, default=None,
                        help="max cumulative seconds per (problem, solver); default 300 (quick: 2)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    budget = args.budget if args.budget is not None else (2.0 if args.quick else 300.0)
    n_alphas = args.n_alphas or (30 if args.quick else 100)
    eps = args.eps or (1e-2 if args.quick else 1e-3)
    out_dir = args.out or os.path.join(HERE, "results", "quick" if args.quick else "")
    os.makedirs(out_dir, exist_ok=True)
    fastreg_src = use_repo_fastreg()
    solver_classes, skipped = available_solvers(args.solvers.split(","))
    solver_classes = {k: v for k, v in solver_classes.items() if v.supports_path}
    for name, why in skipped.items():
        print(f"skipping solver {name}: {why}", flush=True)
    names = list(solver_classes)

    time_rows, mem_rows = [], []
    for problem in args.problems.split(","):
        X, y = get_dataset(problem, quick=args.quick)
        desc = describe(X)
        print(f"== {problem}: {desc}", flush=True)
        amax = alpha_max(X, y)
        alphas = amax * np.geomspace(1.0, eps, n_alphas)
        results = {}
        for name in names:
            solver = solver_classes[name]()
            # warm-up (numba compilation, first calls) on a 10-alpha path
            solver.path(X, y, alphas[:10], 1e-2)
            res = time_path(solver, X, y, alphas, budget, args.repeat)
            # memory of one fit at alpha_max / 100 (paths also allocate n_features x n_alphas)
            solver.set_objective(X, y, amax / 100, fit_intercept=False)
            res["peak"] = peak_memory(solver, MEM_STOP[solver.stopping_strategy])
            results[name] = res
            msg = (fmt_time(res["time"]) + f" (tol {res['stop']:.3g})" if res["time"] is not None
                   else f"not reached in {res['spent']:.3g} s (worst gap {res['best_gap']:.2e})")
            print(f"  {name:8s} {msg}; peak memory {res['peak'] / 2**20:.3g} MiB "
                  f"(X: {nbytes(X) / 2**20:.3g} MiB)", flush=True)
        ref = results.get("fastreg", {}).get("time")
        row = [f"{problem} ({desc})"]
        for name in names:
            res = results[name]
            if res["time"] is None:
                row.append(f"> {res['spent']:.3g} s (gap {res['best_gap']:.1e})")
            else:
                cell = fmt_time(res["time"])
                if ref and name != "fastreg":
                    cell += f" ({res['time'] / ref:.2g}x)"
                row.append(cell)
        time_rows.append(row)
        xmb = nbytes(X) / 2**20
        mem_rows.append([f"{problem} ({'CSC' if sp.issparse(X) else 'F-order dense'})",
                         f"{xmb:.3g}"] + [f"{results[n]['peak'] / 2**20:.3g} "
                                          f"({results[n]['peak'] / 2**20 / xmb:.2f} X)"
                                          for n in names])

    tables = [
        dict(title=f"Path time ({n_alphas} alphas, alpha_max to alpha_max * {eps:g})",
             columns=["problem"] + names, rows=time_rows),
        dict(title="Peak traced memory of one fit at alpha_max/100 (MiB, and in units of X's size)",
             columns=["problem", "X (MiB)"] + names, rows=mem_rows,
             notes="A value well below 1 X means the solver did not copy X. With many features "
                   "and few non-zeros per column (the simulated sparse problem), per-feature work "
                   "arrays (n_features floats each) can exceed X's size without any copy."),
    ]
    header = {
        "Protocol": PROTOCOL.format(target=TARGET, repeat=args.repeat, budget=budget)
        + ("\n\n**Quick run** (--quick): scaled-down problems and a short budget; "
           "not the benchmark's numbers." if args.quick else ""),
        "Machine": machine_info(),
        "Versions": dict(versions(PKGS), fastreg_source=fastreg_src),
        "Skipped solvers": skipped or "none",
    }
    path = write_markdown(os.path.join(out_dir, "path.md"),
                          "Lasso path: time to duality gap <= 1e-6 P(0) at every alpha",
                          header, tables)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
