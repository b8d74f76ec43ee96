"""fastreg.dask against dask-ml, and 1 -> 2 worker scaling (issue 5).

Protocol
--------
1. *Time to the same objective.* On one ``LocalCluster`` (worker processes,
   one thread each), the same persisted dask array: dask-ml's
   ``LinearRegression`` (L1) / ``LogisticRegression`` (L2, L1) with solvers
   ``admm``, ``proximal_grad`` (and ``lbfgs`` for L2) at their defaults; its
   objective ``f_dml`` is evaluated in fastreg's scaling. fastreg.dask is then
   run at decreasing ``tol`` (1e-2, 1e-3, ... 1e-8); the time reported is the
   first (cold) fit whose objective is ``<= f_dml``. Ratio = dask-ml time /
   fastreg time (median of ``--repeat`` runs each).

   Scaling conversions (dask-ml penalizes its intercept, so both fit without
   intercept, ``fit_intercept=False``): dask-glm minimizes
   ``||y - X b||^2 + (1/C) ||b||_1`` for the Normal family, i.e. fastreg's
   Lasso ``1/(2n) ||y - X w||^2 + alpha ||w||_1`` with ``C = 1/(2 n alpha)``;
   for the logistic family it minimizes ``sum_i log(1 + exp(-y_i x_i b)) +
   (1/C) pen(b)`` with ``pen`` = ``||b||_1`` or ``||b||^2 / 2``, i.e. fastreg's
   ``C sum_i loss_i + pen(w)`` divided by ``C``: the same ``C``.
2. *Scaling.* A dense (2,000,000 x 100, Lasso) and a sparse (1,000,000 x
   10,000, density 1e-3, L2 logistic) problem, generated on the workers,
   fitted with 1 worker and with 2 workers (one thread each), ``tol=1e-6``.

Usage::

    python bench/dask.py            # full (about 40 min on a quiet 2-core machine)
    python bench/dask.py --short    # small sizes, 1 repeat (a few minutes)

Writes ``bench/results/dask.md`` (``dask_short.md`` with ``--short``).
"""
import argparse
import importlib.util
import os
import sys
import time

import numpy as np

# This file is named like the package it benchmarks: drop its folder from the import path (else
# ``import dask`` would import this script) and load the shared helpers by file path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
_spec = importlib.util.spec_from_file_location("_bench_common", os.path.join(_HERE, "_common.py"))
_common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_common)
machine_info, median_time, versions = _common.machine_info, _common.median_time, _common.versions
use_repo_fastreg, write_markdown = _common.use_repo_fastreg, _common.write_markdown

TOLS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8)


def dense_problem(n, p, chunk_rows, kind, seed=0):
    import dask.array as da
    rs = da.random.RandomState(seed)
    X = rs.standard_normal((n, p), chunks=(chunk_rows, p))
    w = np.zeros(p)
    w[: max(1, p // 10)] = np.linspace(2, -1, max(1, p // 10))
    z = X @ w + 0.5 * rs.standard_normal(n, chunks=chunk_rows)
    y = z if kind == "ls" else (z > 0).astype(np.float64)
    return X, y


def _sparse_block(seed, rows, p, density):
    import scipy.sparse as sp
    return sp.random(rows, p, density=density, format="csr", random_state=seed,
                     data_rvs=np.random.default_rng(seed).standard_normal)


def sparse_problem(n, p, density, chunk_rows, seed=0):
    import dask
    import dask.array as da
    import scipy.sparse as sp
    sizes = [min(chunk_rows, n - s) for s in range(0, n, chunk_rows)]
    parts = [da.from_delayed(dask.delayed(_sparse_block)(seed + k, r, p, density), (r, p),
                             dtype=np.float64, meta=sp.csr_matrix((0, p)))
             for k, r in enumerate(sizes)]
    X = da.concatenate(parts, axis=0)
    w = np.zeros(p)
    w[:50] = 1.0
    z = X.map_blocks(lambda b: np.asarray(b @ w).ravel(), drop_axis=1, dtype=np.float64)
    y = (z + 0.1 * da.random.RandomState(seed).standard_normal(n, chunks=(tuple(sizes),)) > 0)
    return X, y.astype(np.float64)


def objective(kind, X, y, coef, *, alpha=None, C=None, l1=True):
    """fastreg's objective (no intercept), computed on the cluster."""
    import dask.array as da
    coef = np.asarray(coef, dtype=np.float64).ravel()
    z = X.map_blocks(lambda b: np.asarray(b @ coef).ravel(), drop_axis=1, dtype=np.float64)
    pen = np.abs(coef).sum() if l1 else 0.5 * coef @ coef
    if kind == "ls":
        return float(0.5 * ((y - z) ** 2).mean().compute() + alpha * pen)
    ypm = 2 * y - 1
    return float(C * da.logaddexp(0, -ypm * z).sum().compute() + pen)


def time_it(fn, repeat):
    """Median wall time of ``repeat`` cold calls, and the last call's result."""
    box = []
    median, _ = median_time(lambda: box.append(fn()), repeat=repeat, warmup=0)
    return median, box[-1]


def vs_dask_ml(client, n, p, chunk_rows, repeat, short=False):
    import dask_ml.linear_model as dml

    import fastreg.dask as fd
    rows = []
    cases = [("ls", "l1", ("admm", "proximal_grad")),
             ("logistic", "l2", ("admm", "proximal_grad", "lbfgs")),
             ("logistic", "l1", ("admm", "proximal_grad"))]
    if short:
        cases = [("ls", "l1", ("admm", "proximal_grad")), ("logistic", "l2", ("admm", "lbfgs"))]
    for kind, pen, solvers in cases:
        X, y = dense_problem(n, p, chunk_rows, kind)
        X, y = client.persist([X, y])
        l1 = pen == "l1"
        if kind == "ls":
            alpha = 0.01
            C = 1.0 / (2 * n * alpha)

            def ours(tol, solver="auto"):
                return fd.Lasso(alpha=alpha, fit_intercept=False, tol=tol, solver=solver,
                                max_iter=5000).fit(X, y).coef_
            obj = dict(alpha=alpha)
        else:
            C = 10.0 / n

            def ours(tol, solver="auto"):
                return fd.LogisticRegression(penalty=pen, C=C, fit_intercept=False, tol=tol,
                                             max_iter=5000).fit(X, y).coef_[0]
            obj = dict(C=C)
        our_path = []
        ours(1e-2)          # warm-up: worker imports, compiled code, persisted input
        for tol in (TOLS[1::2] if short else TOLS):
            t, coef = time_it(lambda: ours(tol), repeat)
            our_path.append((tol, t, objective(kind, X, y, coef, l1=l1, **obj)))
            print(f"[bench/dask] {kind}/{pen} fastreg tol={tol:g}: {t:.3g} s", flush=True)
        f_best = our_path[-1][2]
        if kind == "ls":
            t_admm, coef = time_it(lambda: ours(1e-4, "admm"), 1)
            rows.append([f"{kind}/{pen}", "fastreg admm (tol 1e-4)", f"{t_admm:.3g}",
                         f"{(objective(kind, X, y, coef, l1=l1, **obj) - f_best) / f_best:.1e}",
                         "-", "-"])
        for s in solvers:
            est_cls = dml.LinearRegression if kind == "ls" else dml.LogisticRegression
            est = est_cls(penalty=pen, C=C, solver=s, fit_intercept=False)
            t_dml, est = time_it(lambda: est.fit(X, y), repeat)
            f_dml = objective(kind, X, y, est.coef_, l1=l1, **obj)
            hit = next(((tol, t) for tol, t, f in our_path if f <= f_dml * (1 + 1e-12)), None)
            print(f"[bench/dask] {kind}/{pen} dask-ml {s}: {t_dml:.3g} s", flush=True)
            rows.append([f"{kind}/{pen}", f"dask-ml {s}", f"{t_dml:.3g}",
                         f"{(f_dml - f_best) / f_best:.1e}",
                         "-" if hit is None else f"{hit[1]:.3g} (tol {hit[0]:g})",
                         "-" if hit is None else f"{t_dml / hit[1]:.1f}x"])
        for tol, t, f in our_path:
            rows.append([f"{kind}/{pen}", f"fastreg.dask tol={tol:g}", f"{t:.3g}",
                         f"{(f - f_best) / f_best:.1e}", "-", "-"])
    return rows


def scaling(n_dense, p_dense, n_sparse, p_sparse, chunk_rows, repeat):
    from distributed import Client, LocalCluster

    import fastreg.dask as fd
    rows = []
    for name in ("dense", "sparse"):
        times = {}
        for workers in (1, 2):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=":0") as cluster, Client(cluster) as client:
                if name == "dense":
                    X, y = dense_problem(n_dense, p_dense, chunk_rows, "ls")
                    est = fd.Lasso(alpha=0.01, tol=1e-6, max_iter=5000)
                else:
                    X, y = sparse_problem(n_sparse, p_sparse, 1e-3, chunk_rows)
                    est = fd.LogisticRegression(penalty="l2", C=1.0, tol=1e-6, max_iter=5000)
                X, y = client.persist([X, y])
                times[workers], _ = time_it(lambda: est.fit(X, y), repeat)
                print(f"[bench/dask] scaling {name} {workers} worker(s): {times[workers]:.3g} s",
                      flush=True)
                iters = int(np.ravel(est.n_iter_)[0])
        shape = f"{n_dense} x {p_dense}" if name == "dense" else \
            f"{n_sparse} x {p_sparse} (density 1e-3)"
        rows.append([name, shape, iters, f"{times[1]:.3g}", f"{times[2]:.3g}",
                     f"{times[1] / times[2]:.2f}x"])
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--short", action="store_true", help="small problems, one repeat")
    ap.add_argument("--repeat", type=int, default=None)
    args = ap.parse_args()
    where = use_repo_fastreg()
    # worker processes import fastreg too: give them the same location
    root = os.path.dirname(os.path.dirname(where)) if os.path.isdir(where) else ""
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    if args.short:
        size = dict(n=20_000, p=20, n_dense=200_000, p_dense=100, n_sparse=100_000,
                    p_sparse=2_000, chunk_rows=25_000)
        repeat = args.repeat or 1
    else:
        size = dict(n=1_000_000, p=100, n_dense=2_000_000, p_dense=100, n_sparse=1_000_000,
                    p_sparse=10_000, chunk_rows=250_000)
        repeat = args.repeat or 3
    from distributed import Client, LocalCluster
    t0 = time.time()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        cmp_rows = vs_dask_ml(client, size["n"], size["p"], size["chunk_rows"] // 5 if args.short
                              else size["chunk_rows"], repeat, short=args.short)
    name = "dask_short.md" if args.short else "dask.md"
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", name)

    def write(scale_rows):
        header = {
            "Machine": machine_info(),
            "Versions": versions(["numpy", "scipy", "dask", "distributed", "dask_ml",
                                  "dask_glm"]),
            "Run": {"command": " ".join(["python", "bench/dask.py"] + sys.argv[1:]),
                    "fastreg": where, "load average (1, 5, 15 min) at the end": os.getloadavg(),
                    "duration": f"{time.time() - t0:.0f} s", "repeats (median)": repeat,
                    "vs dask-ml problem": f"{size['n']} x {size['p']} dense, no intercept"},
        }
        tables = [
            {"title": "Time to dask-ml's objective (2 workers x 1 thread)",
             "columns": ["problem", "method", "time (s)", "rel. subopt. vs fastreg tol 1e-8",
                         "fastreg time to that objective", "speed-up"], "rows": cmp_rows},
            {"title": "Scaling, 1 -> 2 workers (1 thread each), tol 1e-6",
             "columns": ["data", "shape", "iterations", "1 worker (s)", "2 workers (s)",
                         "speed-up"], "rows": scale_rows},
        ]
        write_markdown(out, "fastreg.dask benchmark", header, tables)

    write([])           # the comparison is kept even if the scaling part is interrupted
    write(scaling(size["n_dense"], size["p_dense"], size["n_sparse"], size["p_sparse"],
                  size["chunk_rows"], repeat))
    print(open(out).read())


if __name__ == "__main__":
    main()
