"""Lasso benchmark (issue 3): time to reach a duality gap <= 1e-6 * P(0).

For every problem (leukemia, arcene, a9a, simulated dense, simulated sparse),
alpha = alpha_max / 10, / 100, / 1000 and solver (fastreg, celer, skglm,
scikit-learn, scipy reference), the driver runs cold-started solves with a
decreasing stopping parameter (tol, or an increasing n_iter for solvers with no
usable gap test), evaluates each result's duality gap independently
(:mod:`objective`, float64, outside the timed region), and stops at the first
run whose gap is <= target. That run is repeated so that its time is a median
of ``--repeat`` (>= 3) runs. Results: a markdown table with ratios vs fastreg,
a CSV of every (time, gap) point, and a gap-against-time PNG per problem.

Usage::

    python bench/lasso.py --quick          # smoke run: small problems, alpha_max/10 and /100, ~2 min
    python bench/lasso.py                  # full protocol (long: run on a quiet machine;
                                           # budget 120 s per cell, 40 s for sklearn/scipy_ref)
    python bench/lasso.py --problems leukemia,a9a --solvers fastreg,celer --budget 60
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

import numpy as np  # noqa: E402

from _common import (fmt_time, machine_info, versions, write_markdown,  # noqa: E402
                     use_repo_fastreg)
from _levels import search_to_target  # noqa: E402
from datasets import NAMES as PROBLEMS, describe, get_dataset  # noqa: E402
from objective import Objective  # noqa: E402
from solvers import NAMES as SOLVERS, available_solvers  # noqa: E402

TARGET = 1e-6
SLOW_REFERENCES = ("sklearn", "scipy_ref")  # budget --ref-budget
PKGS = ["numpy", "scipy", "sklearn", "celer", "skglm", "fastreg"]


def time_to_target(solver, obj, target_rel, budget, repeat):
    """Sweep the solver's stopping levels (see :mod:`_levels`) until gap / P(0) <= target."""
    def run_once(stop):
        t0 = time.perf_counter()
        solver.run(stop)
        elapsed = time.perf_counter() - t0
        return elapsed, obj.evaluate_result(solver.get_result()["beta"])["relative_gap"]

    return search_to_target(run_once, solver.stopping_strategy, target_rel, budget, repeat)


def plot_problem(path, problem, regs, results, solver_names):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter
    fig, axes = plt.subplots(1, len(regs), figsize=(4.5 * len(regs), 3.6), squeeze=False)
    for ax, reg in zip(axes[0], regs):
        for name in solver_names:
            res = results.get((problem, reg, name))
            if not res or not res["curve"]:
                continue
            t = [c[1] for c in res["curve"]]
            g = [max(c[2], 1e-17) for c in res["curve"]]
            ax.loglog(t, g, marker="o", ms=3, label=name)  # one cold run per stop level
        ax.axhline(TARGET, color="k", ls="--", lw=0.8)
        ax.set_title(f"{problem}, alpha_max/{reg:g}")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("duality gap / P(0)")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


PROTOCOL = """\
Problem: min_w 1/(2n) ||y - Xw||^2 + alpha ||w||_1 (no intercept; dense real data
standardized and y centered, so this equals the Lasso with intercept), alpha =
alpha_max / reg with alpha_max = ||X^T y||_inf / n. Every result is certified by the same
float64 duality gap, computed outside the timed region with the dual point
theta = r / max(1, ||X^T r||_inf / (n alpha)) (r = y - Xw): gap = P(w) - D(theta).
A solver's time is the wall-clock time of one cold-started solve (fresh estimator,
no warm start) that reaches gap <= {target:g} * P(0), P(0) = ||y||^2/(2n).
Solvers with a tolerance are run with tol = 1e-1, 1e-2, ..., 1e-14 (each solver's own
meaning of tol); solvers without a usable gap test (scikit-learn single solves: tol=0 and
max_iter epochs; the scipy L-BFGS-B reference: maxiter) with n_iter = 1, 2, 4, 8, ...
When a level reaches the target, the geometric midpoint with the previous level is
tried too (half a decade of tol, or x1.41 iterations). The first (loosest) level whose
independent gap is <= target is timed again: the reported time is the median of {repeat}
runs of that level. Because the levels are discrete, a solver may overshoot the target by
up to half a decade of tol (or 1.41x iterations): the times are upper bounds of each
solver's true time to target, and the same grid is applied to every solver, fastreg included. A solver that does not
reach the target within {budget:g} s of cumulative runs (or whose next level would end
beyond twice that) is reported as "> spent (best gap)".
The plots show every run made: one point per stop level (a single cold-run time,
so noisy), joined from the loosest level to the tightest.
Compiled code (numba in skglm, first calls) is warmed up before timing. Threads: library
defaults (BLAS/OpenMP may use all usable cores). Ratio = solver time / fastreg time
(> 1: fastreg is faster).
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small problems, short budget")
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--solvers", default=",".join(SOLVERS))
    parser.add_argument("--regs", default=None,
                        help="alpha = alpha_max / reg, comma-separated; default 10,100,1000 "
                             "(quick: 10,100)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget", type=float, default=None,
                        help="max cumulative seconds per (problem, alpha, solver); "
                             "default 120 (quick: 1.5)")
    parser.add_argument("--ref-budget", type=float, default=None,
                        help="budget of the slow reference solvers (sklearn, scipy_ref); "
                             "default: --budget (full run: 40)")
    parser.add_argument("--out", default=None,
                        help="results folder (default bench/results, quick: bench/results/quick)")
    args = parser.parse_args(argv)
    budget = args.budget if args.budget is not None else (1.5 if args.quick else 120.0)
    ref_budget = args.ref_budget if args.ref_budget is not None else \
        (budget if args.quick or args.budget is not None else 40.0)
    out_dir = args.out or os.path.join(HERE, "results", "quick" if args.quick else "")
    os.makedirs(out_dir, exist_ok=True)
    regs = [float(r) for r in (args.regs or ("10,100" if args.quick else "10,100,1000")).split(",")]
    problems = args.problems.split(",")
    fastreg_src = use_repo_fastreg()
    solver_classes, skipped = available_solvers(args.solvers.split(","))
    for name, why in skipped.items():
        print(f"skipping solver {name}: {why}", flush=True)
    names = list(solver_classes)

    results, descriptions, rows_csv = {}, {}, []
    for problem in problems:
        X, y = get_dataset(problem, quick=args.quick)
        descriptions[problem] = describe(X)
        print(f"== {problem}: {descriptions[problem]}", flush=True)
        for reg in regs:
            obj = Objective(reg)
            obj.set_data(X, y)
            for name in names:
                solver = solver_classes[name]()
                solver.set_objective(**obj.get_objective())
                res = time_to_target(solver, obj, TARGET,
                                     ref_budget if name in SLOW_REFERENCES else budget,
                                     args.repeat)
                results[(problem, reg, name)] = res
                for stop, t, g in res["curve"]:
                    rows_csv.append([problem, reg, name, stop, f"{t:.6g}", f"{g:.6g}"])
                msg = (fmt_time(res["time"]) if res["time"] is not None
                       else f"not reached in {res['spent']:.3g} s (gap {res['best_gap']:.2e})")
                print(f"  alpha_max/{reg:g} {name:10s} {msg}", flush=True)
            del obj

    with open(os.path.join(out_dir, "lasso.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["problem", "reg", "solver", "stop", "time_s", "relative_gap"])
        w.writerows(rows_csv)

    tables = []
    for problem in problems:
        png = f"lasso_{problem}.png"
        plot_problem(os.path.join(out_dir, png), problem, regs, results, names)
        rows = []
        for reg in regs:
            ref = results.get((problem, reg, "fastreg"), {}).get("time")
            row = [f"alpha_max/{reg:g}"]
            for name in names:
                res = results[(problem, reg, name)]
                if res["time"] is None:
                    row.append(f"> {res['spent']:.3g} s (gap {res['best_gap']:.1e})")
                    continue
                cell = fmt_time(res["time"])
                if ref and name != "fastreg":
                    cell += f" ({res['time'] / ref:.2g}x)"
                row.append(cell)
            rows.append(row)
        tables.append(dict(title=f"{problem} ({descriptions[problem]})",
                           columns=["alpha"] + names, rows=rows, image=png))
    header = {
        "Protocol": PROTOCOL.format(target=TARGET, repeat=args.repeat, budget=budget)
        + f"\n\nBudget of sklearn and scipy_ref: {ref_budget:g} s per cell."
        + ("\n\n**Quick run** (--quick): scaled-down problems and a short budget; "
           "not the benchmark's numbers." if args.quick else ""),
        "Machine": machine_info(),
        "Versions": dict(versions(PKGS), fastreg_source=fastreg_src),
        "Skipped solvers": {k: v for k, v in skipped.items()} or "none",
    }
    path = write_markdown(os.path.join(out_dir, "lasso.md"),
                          "Lasso: time to duality gap <= 1e-6 P(0)", header, tables)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
