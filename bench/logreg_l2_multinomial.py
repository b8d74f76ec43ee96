"""Multinomial L2 logistic regression: fastreg's Newton-CG against its old prox-Newton and scikit-learn.

Objective (scikit-learn's): ``C sum_i loss_i + 1/2 ||W||_F^2``, softmax loss, unpenalized
intercepts. Problems: ``zipcode_usps`` (7291 x 256, 10 classes), ``mnist_5k`` (5000 x 784,
10 classes), ``sparse20`` (20000 x 30000 CSR/CSC, density 1e-3, 20 classes, labels from a
sparse linear model plus Gumbel noise). ``C`` = 1 (scikit-learn's default) and ``10 / n``.
Solvers: ``new`` (``fastreg.LogisticRegression``: Newton-CG), ``old`` (the working-set
prox-Newton, :func:`fastreg.solvers.prox_newton_multinomial.multinomial_prox_newton`, which
fitted these problems before), scikit-learn ``lbfgs`` (default: tol 1e-4, 100 iterations,
``lbfgs-tight``: tol 1e-10, 10000 iterations) and ``newton-cg`` (default). fastreg runs at
the cell's tol (1e-4 = default, 1e-8); scikit-learn's tol means something else, so each row
shows the objective reached: ``subopt = (P - P_best) / P_best``, ``P_best`` the lowest
objective of any run at this ``C``.

Each fit runs in a spawned child (killed after ``--cap`` s plus start-up: ``> cap``); CPU time
(``time.process_time`` of the child) and wall time, medians of ``--repeat`` fits; BLAS
limited to ``--threads`` threads for every solver. Ratios: CPU and wall of each solver over
``new`` in the same cell.

Usage::

    python bench/logreg_l2_multinomial.py --quick       # zipcode, C = 10/n, tol 1e-4, 20 s cap (~40 s)
    python bench/logreg_l2_multinomial.py               # every cell (see --help; ~25 min quiet)
"""
import argparse
import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (machine_info, unset_openblas_overrides,  # noqa: E402
                     use_repo_fastreg, versions, write_markdown)

unset_openblas_overrides()
use_repo_fastreg()

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

SOLVERS = ["new", "old", "lbfgs", "lbfgs-tight", "newton-cg"]


def _sparse20(seed=0):
    rng = np.random.default_rng(seed)
    n, p, K = 20000, 30000, 20
    X = sp.random(n, p, density=1e-3, format="csc", random_state=seed,
                  data_rvs=lambda k: rng.random(k) + 0.5)
    W = rng.standard_normal((K, p)) * (rng.random((K, p)) < 0.01) * 3
    y = np.argmax(np.asarray(X @ W.T) + rng.gumbel(size=(n, K)), axis=1)
    X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)
    return X, y


def load(name):
    if name == "sparse20":
        return _sparse20()
    from datasets.classification import get_classification
    return get_classification(name)


def _fit(solver, X, y, C, tol):
    """One fit; returns (coef, intercept, n_iter)."""
    from sklearn.exceptions import ConvergenceWarning
    warnings.simplefilter("ignore", ConvergenceWarning)
    if solver in ("new", "old"):
        from fastreg import LogisticRegression
        if solver == "new":
            est = LogisticRegression(C=C, tol=tol).fit(X, y)
            return est.coef_, est.intercept_, int(est.n_iter_[0])
        from fastreg.linear_model.logistic import _encode
        from fastreg.solvers.prox_newton_multinomial import multinomial_prox_newton
        Xv, classes, codes, sw = _encode(X, y, None, None)
        res = multinomial_prox_newton(Xv, codes, classes.size, C * sw, 0.0, tol=tol)
        return res.coef, res.intercept, res.n_iter
    from sklearn.linear_model import LogisticRegression as Sk
    kw = {"lbfgs": dict(solver="lbfgs"), "newton-cg": dict(solver="newton-cg"),
          "lbfgs-tight": dict(solver="lbfgs", tol=1e-10, max_iter=10_000)}[solver]
    Xs = sp.csr_matrix(X) if sp.issparse(X) else X
    est = Sk(C=C, **kw).fit(Xs, y)
    return est.coef_, est.intercept_, int(np.max(est.n_iter_))


def _child(send, solver, X, y, C, tol, threads):
    from threadpoolctl import threadpool_limits
    use_repo_fastreg()
    with threadpool_limits(limits=threads, user_api="blas"):
        t0, w0 = time.process_time(), time.perf_counter()
        coef, icpt, it = _fit(solver, X, y, C, tol)
        send.send((time.process_time() - t0, time.perf_counter() - w0,
                   np.asarray(coef, dtype=np.float64), np.asarray(icpt, dtype=np.float64), it))


def run_capped(solver, X, y, C, tol, cap, threads):
    """Fit in a spawned child (a forked one can hang in OpenMP or BLAS thread pools the
    parent started); returns (cpu, wall, coef, intercept, n_iter), or None past ``cap``."""
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, solver, X, y, C, tol, threads))
    proc.start()
    out = recv.recv() if recv.poll(cap + 10.0) else None     # + start-up of the child
    if out is None:
        proc.kill()
    proc.join()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", default="zipcode_usps,mnist_5k,sparse20")
    ap.add_argument("--Cs", default="1,10/n", help="comma list of floats or '10/n'")
    ap.add_argument("--tols", default="1e-4,1e-8")
    ap.add_argument("--solvers", default=",".join(SOLVERS))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cap", type=float, default=120.0, help="seconds per fit")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads for every solver")
    ap.add_argument("--quick", action="store_true",
                    help="zipcode_usps, C = 10/n, tol 1e-4, new/old/lbfgs, 1 repeat")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "results", "logreg_l2_multinomial.md"))
    args = ap.parse_args()
    if args.quick:
        args.problems, args.Cs, args.tols = "zipcode_usps", "10/n", "1e-4"
        args.solvers, args.repeat, args.cap = "new,old,lbfgs", 1, min(args.cap, 20.0)
    from fastreg.reference import logistic_objective
    t_start = time.perf_counter()
    tables = []
    for name in args.problems.split(","):
        X, y = load(name)
        n = X.shape[0]
        rows = []
        for Cs in args.Cs.split(","):
            C = 10.0 / n if Cs == "10/n" else float(Cs)
            cells = []      # (tol, {solver: (cpu, wall, P, iters) or None}) of this C
            for tol in (float(t) for t in args.tols.split(",")):
                results = {}
                for solver in args.solvers.split(","):
                    if solver not in ("new", "old") and tol != float(args.tols.split(",")[0]):
                        continue        # scikit-learn's settings do not depend on the cell's tol
                    runs = []
                    for _ in range(args.repeat):
                        runs.append(run_capped(solver, X, y, C, tol, args.cap, args.threads))
                        if runs[-1] is None:
                            break       # no repeats past the cap
                    if runs[-1] is None:
                        results[solver] = None
                        print(f"{name} C={Cs} tol={tol:g} {solver}: > {args.cap:g} s", flush=True)
                        continue
                    cpu = statistics.median(r[0] for r in runs)
                    wall = statistics.median(r[1] for r in runs)
                    P = logistic_objective(X, y, runs[0][2], runs[0][3], C=C, penalty="l2")
                    results[solver] = (cpu, wall, P, runs[0][4])
                    print(f"{name} C={Cs} tol={tol:g} {solver}: cpu {cpu:.3f} s wall {wall:.3f} s "
                          f"P {P:.10g} iters {runs[0][4]}", flush=True)
                cells.append((tol, results))
            done = [r for _, res in cells for r in res.values() if r is not None]
            P_best = min((r[2] for r in done), default=np.nan)    # over every tol of this C
            for tol, results in cells:
                ref = results.get("new")
                for solver, r in results.items():
                    if r is None:
                        rows.append([Cs, f"{tol:g}", solver, f"> {args.cap:g} s", "-", "-", "-",
                                     "-", "-"])
                        continue
                    cpu, wall, P, it = r
                    ratio = (f"{cpu / ref[0]:.2f}x", f"{wall / ref[1]:.2f}x") if ref else ("-", "-")
                    rows.append([Cs, f"{tol:g}", solver, f"{cpu:.3g}", f"{wall:.3g}", ratio[0],
                                 ratio[1], f"{(P - P_best) / abs(P_best):.1e}", it])
        tables.append({"title": f"{name} ({X.shape[0]} x {X.shape[1]}, "
                                f"{np.unique(y).size} classes{', sparse' if sp.issparse(X) else ''})",
                       "columns": ["C", "tol", "solver", "CPU s", "wall s", "CPU / new",
                                   "wall / new", "subopt", "iters"],
                       "rows": rows})
    write_markdown(args.out, "Multinomial L2 logistic regression (Newton-CG)",
                   {"protocol": __doc__.split("\n\n")[1] + f" Command: `{' '.join(sys.argv)}`; "
                                f"run time {time.perf_counter() - t_start:.0f} s.",
                    "machine": machine_info(), "versions": versions(["numpy", "scipy", "sklearn"])},
                   tables)
    print(f"wrote {args.out} in {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
