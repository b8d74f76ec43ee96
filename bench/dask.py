"""fastreg.dask against dask-ml, and 1 -> 2 worker scaling (issue 5).

Protocol
--------
1. *Time to the same objective.* On one ``LocalCluster`` (2 worker
   processes, one thread each), the same persisted dask array (100,000 x 50
   dense, 8 chunks): dask-ml's ``LinearRegression`` (L1: admm, proximal_grad;
   L2: lbfgs) and ``LogisticRegression`` (L2: admm, proximal_grad, lbfgs; L1:
   admm, proximal_grad) at their defaults; its objective ``f_dml`` is
   evaluated in fastreg's scaling. fastreg.dask (``solver='auto'``) is run at
   decreasing ``tol`` (1e-2 ... 1e-8); the time reported is the first (cold)
   fit whose objective is ``<= f_dml``. Ratio = dask-ml time / fastreg time,
   in wall time and in CPU time (``time.process_time`` of the worker
   processes plus the driver: what the other load of a shared machine does
   not distort). dask-ml's elastic net is not compared (its prox returns its
   input unchanged in dask-glm 0.4.0).

   Scaling conversions (dask-ml penalizes its intercept, so both fit without
   intercept, ``fit_intercept=False``): dask-glm minimizes
   ``||y - X b||^2 + (1/C) pen(b)`` for the Normal family, i.e. fastreg's
   ``1/(2n) ||y - X w||^2 + alpha pen(w)`` with ``C = 1/(2 n alpha)``; for the
   logistic family ``sum_i log(1 + exp(-y_i x_i b)) + (1/C) pen(b)``, i.e.
   fastreg's ``C sum_i loss_i + pen(w)`` divided by ``C``: the same ``C``
   (``pen`` = ``||b||_1`` or ``||b||^2 / 2``).
2. *Scaling.* A dense (2,000,000 x 100 float64, 1.6 GB, 16 blocks of 125,000 rows) and a
   sparse (2,000,000 x 10,000, density 1e-3: 20 million non-zeros, 16 blocks) problem,
   generated on the workers (one task per block: nothing is built on the client; the
   sparse blocks are drawn in O(nnz) memory; both in equal runs of consecutive blocks per
   worker) and persisted, with 1 worker and
   with 2 workers (processes, one thread each, 8 GB memory limit each): the time of one
   distributed pass of the block kernels (gradient; gradient + Hessian) and of whole fits
   (``tol=1e-6``; median of ``--repeat`` fits), wall and CPU, with the fit's number of
   map-reduce rounds, the seconds the
   busiest worker spent in the block functions and the parallel efficiency (those seconds /
   (workers x wall)), logged on the workers (the rounds are actor calls, not tasks). A cell
   that fails is written as its error; the run goes on.

Usage::

    python bench/dask.py                  # full: about 10 min on a quiet 2-core machine
    python bench/dask.py --quick          # dask-ml lbfgs cells + scaling at 500,000 rows
    python bench/dask.py --short          # small sizes (a few minutes)
    python bench/dask.py --lean-dask      # scaling clusters with dask's diagnostics sampled
                                          # less often (LEAN_DASK)
    (--skip-compare / --skip-scaling run one part)

Writes ``bench/results/dask.md`` (``dask_short.md`` with ``--short``, ``dask_quick.md``
with ``--quick``; ``_compare`` / ``_scaling`` suffixes with ``--skip-*``).
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


def _spread(client, X):
    """``X`` with its row chunks computed in equal runs of consecutive chunks, one run per
    worker (sorted addresses), and kept there (the scheduler's placement of a persisted array
    was seen as uneven as 2 / 14 chunks over two workers, which the scaling would measure)."""
    import dask
    import dask.array as da
    addrs = sorted(client.scheduler_info()["workers"])
    parts = X.to_delayed().ravel()
    futures = [client.compute(part, workers=[addrs[k * len(addrs) // len(parts)]])
               for k, part in enumerate(parts)]
    return da.concatenate([da.from_delayed(dask.delayed(f), (r, X.shape[1]), dtype=X.dtype)
                           for f, r in zip(futures, X.chunks[0])], axis=0)


def dense_problem(n, p, chunk_rows, kind, seed=0, client=None):
    """Dense Gaussian ``X`` and a linear model's targets (``kind='ls'``) or their signs. With
    ``client``: ``X``'s chunks spread evenly over the workers (:func:`_spread`)."""
    import dask.array as da
    rs = da.random.RandomState(seed)
    X = rs.standard_normal((n, p), chunks=(chunk_rows, p))
    if client is not None:
        X = _spread(client, X)
    w = np.zeros(p)
    w[: max(1, p // 10)] = np.linspace(2, -1, max(1, p // 10))
    z = X @ w + 0.5 * rs.standard_normal(n, chunks=chunk_rows)
    y = z if kind == "ls" else (z > 0).astype(np.float64)
    return X, y


def _sparse_block(seed, rows, p, density):
    """A CSR block with ``round(p * density)`` random columns per row (duplicates summed later by
    the block build), N(0, 1) values; built on the worker that runs it, O(nnz) memory
    (``scipy.sparse.random`` samples its positions from all ``rows * p`` cells)."""
    import scipy.sparse as sp
    rng = np.random.default_rng(seed)
    k = max(1, int(round(p * density)))
    indices = rng.integers(0, p, size=rows * k).astype(np.int32)
    indptr = np.arange(0, rows * k + 1, k, dtype=np.int64)
    return sp.csr_matrix((rng.standard_normal(rows * k), indices, indptr), shape=(rows, p))


def sparse_problem(n, p, density, chunk_rows, seed=0, client=None):
    """Row blocks generated on the workers (one task per block, from a seed per block). With
    ``client``: the blocks are generated in equal runs of consecutive blocks, one run per
    worker (sorted addresses), so they are spread evenly (left to the scheduler, 6 of 8 blocks were seen on one of
    two workers, which the scaling would then measure)."""
    import dask
    import dask.array as da
    import scipy.sparse as sp
    sizes = [min(chunk_rows, n - s) for s in range(0, n, chunk_rows)]
    if client is not None:
        addrs = sorted(client.scheduler_info()["workers"])
        blocks = [client.submit(_sparse_block, seed + k, r, p, density, pure=False,
                                workers=[addrs[k * len(addrs) // len(sizes)]])
                  for k, r in enumerate(sizes)]
        blocks = [dask.delayed(b) for b in blocks]
    else:
        blocks = [dask.delayed(_sparse_block)(seed + k, r, p, density)
                  for k, r in enumerate(sizes)]
    parts = [da.from_delayed(b, (r, p), dtype=np.float64, meta=sp.csr_matrix((0, p)))
             for b, r in zip(blocks, sizes)]
    X = da.concatenate(parts, axis=0)
    w = np.zeros(p)
    w[:50] = 1.0
    z = X.map_blocks(lambda b: np.asarray(b @ w).ravel(), drop_axis=1, dtype=np.float64)
    y = (z + 0.1 * da.random.RandomState(seed).standard_normal(n, chunks=(tuple(sizes),)) > 0)
    return X, y.astype(np.float64)


CASES = [  # (kind, fastreg penalty, dask-ml penalty, dask-ml solvers)
    ("ls", "l1", "l1", ("admm", "proximal_grad")),                      # Lasso
    ("ls", "l2", "l2", ("lbfgs",)),                                     # ElasticNet(l1_ratio=0)
    ("logistic", "l2", "l2", ("admm", "proximal_grad", "lbfgs")),
    ("logistic", "l1", "l1", ("admm", "proximal_grad")),
]
# dask-ml's elastic-net prox (dask_glm.regularizers.ElasticNet.proximal_operator 0.4.0)
# returns its input unchanged, so its elastic-net fits are not compared.


def _fastreg_fit(kind, pen, X, y, n, tol, solver="auto"):
    """fastreg.dask fit in dask-glm's scaling (no intercept); returns ``(coef, objective kw)``."""
    import fastreg.dask as fd
    if kind == "ls":
        alpha = 0.01
        l1_ratio = {"l1": 1.0, "l2": 0.0}[pen]
        coef = fd.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=False, tol=tol,
                             solver=solver, max_iter=5000).fit(X, y).coef_
        # dask-glm: ||y - X b||^2 + (1/C) pen(b): C = 1 / (2 n alpha)
        return coef, dict(alpha=alpha, l1_ratio=l1_ratio), 1.0 / (2 * n * alpha)
    C = 10.0 / n
    l1_ratio = 0.5 if pen == "elasticnet" else None
    coef = fd.LogisticRegression(penalty=pen, C=C, l1_ratio=l1_ratio, fit_intercept=False,
                                 tol=tol, solver=solver, max_iter=5000).fit(X, y).coef_[0]
    return coef, dict(C=C, l1_ratio={"l1": 1.0, "l2": 0.0}.get(pen, 0.5)), C


def objective(kind, X, y, coef, *, alpha=None, C=None, l1_ratio=1.0):
    """fastreg's objective (no intercept), computed on the cluster."""
    import dask.array as da
    coef = np.asarray(coef, dtype=np.float64).ravel()
    z = X.map_blocks(lambda b: np.asarray(b @ coef).ravel(), drop_axis=1, dtype=np.float64)
    l1, l2 = np.abs(coef).sum(), 0.5 * coef @ coef
    if kind == "ls":
        pen = alpha * (l1_ratio * l1 + (1 - l1_ratio) * l2)
        return float(0.5 * ((y - z) ** 2).mean().compute() + pen)
    ypm = 2 * y - 1
    return float(C * da.logaddexp(0, -ypm * z).sum().compute() + l1_ratio * l1
                 + (1 - l1_ratio) * l2)


def cpu_of_workers(client):
    """Total CPU seconds used so far by the worker processes and this process."""
    return sum(client.run(time.process_time).values()) + time.process_time()


def timed(client, fn, repeat):
    """``(median wall, median CPU of workers + driver, last result)`` of ``repeat`` calls."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        c0, t0 = cpu_of_workers(client), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu_of_workers(client) - c0)
    return float(np.median(walls)), float(np.median(cpus)), out


def vs_dask_ml(client, n, p, chunk_rows, repeat, cases):
    import dask_ml.linear_model as dml
    rows = []
    for kind, pen, dml_pen, solvers in cases:
        X, y = dense_problem(n, p, chunk_rows, kind)
        X, y = client.persist([X, y])
        name = f"{kind}/{pen}"
        _fastreg_fit(kind, pen, X, y, n, 1e-2)    # warm-up: worker imports, compiled code
        our_path = []
        for tol in TOLS:
            wall, cpu, (coef, obj, C) = timed(client, lambda: _fastreg_fit(kind, pen, X, y, n,
                                                                           tol), repeat)
            our_path.append((tol, wall, cpu, objective(kind, X, y, coef, **obj)))
            print(f"[bench/dask] {name} fastreg tol={tol:g}: {wall:.3g} s", flush=True)
        f_best = our_path[-1][3]
        if kind == "ls" or os.environ.get("FASTREG_BENCH_ADMM_ALL"):
            wall, cpu, (coef, obj, C) = timed(client, lambda: _fastreg_fit(
                kind, pen, X, y, n, 1e-4, "admm" if kind == "ls" else "fista"), 1)
            rows.append([name, "fastreg admm (tol 1e-4)" if kind == "ls" else
                         "fastreg fista (tol 1e-4)", f"{wall:.3g}", f"{cpu:.3g}",
                         f"{(objective(kind, X, y, coef, **obj) - f_best) / f_best:.1e}",
                         "-", "-", "-"])
        for s in solvers:
            est_cls = dml.LinearRegression if kind == "ls" else dml.LogisticRegression
            est = est_cls(penalty=dml_pen, C=C, solver=s, fit_intercept=False)
            wall, cpu, est = timed(client, lambda: est.fit(X, y), repeat)
            f_dml = objective(kind, X, y, est.coef_, **obj)
            hit = next(((tol, w, c) for tol, w, c, f in our_path if f <= f_dml * (1 + 1e-12)),
                       None)
            print(f"[bench/dask] {name} dask-ml {s}: {wall:.3g} s", flush=True)
            rows.append([name, f"dask-ml {s}", f"{wall:.3g}", f"{cpu:.3g}",
                         f"{(f_dml - f_best) / f_best:.1e}",
                         "-" if hit is None else f"{hit[1]:.3g} (tol {hit[0]:g})",
                         "-" if hit is None else f"{wall / hit[1]:.1f}x",
                         "-" if hit is None else f"{cpu / hit[2]:.1f}x"])
        for tol, w, c, f in our_path:
            rows.append([name, f"fastreg.dask tol={tol:g}", f"{w:.3g}", f"{c:.3g}",
                         f"{(f - f_best) / f_best:.1e}", "-", "-", "-"])
    return rows


def _pass_times(client, X, y, loss_code, hessian, n_pass):
    """Median wall and CPU time of one distributed pass of the block kernels (persisted blocks)."""
    from fastreg.dask._block import block_loss_grad, block_newton
    from fastreg.dask._data import build_engine
    engine, p, _ = build_engine(X, y, None, client, labels=loss_code == 1)
    w = np.full(p, 0.01)
    try:
        fn = (lambda: engine.map_sum(block_newton, w, 0.0, loss_code, None, True)) if hessian \
            else (lambda: engine.map_sum(block_loss_grad, w, 0.0, loss_code))
        fn()
        wall, cpu, _ = timed(client, fn, n_pass)
    finally:
        engine.close()
    return wall, cpu


def _cpu_logged(fn, r):
    """``fn`` run on a worker, its thread CPU seconds and wall seconds added to the worker's log
    under round ``r`` (defined here, so pickled by value to the workers)."""
    def run(block, *args):
        from distributed import get_worker
        c0, t0 = time.thread_time(), time.perf_counter()
        out = fn(block, *args)
        worker = get_worker()
        log = getattr(worker, "_bench_cpu", None)
        if log is None:
            log = worker._bench_cpu = {}
        cpu, wall = log.get(r, (0.0, 0.0))
        log[r] = (cpu + time.thread_time() - c0, wall + time.perf_counter() - t0)
        return out
    return run


def _take_cpu_log(dask_worker):
    log = getattr(dask_worker, "_bench_cpu", {})
    dask_worker._bench_cpu = {}
    return log


def _fit_profile(client, make, X, y, repeat=1):
    """``repeat`` fits, the last one with the per-worker logs of its block functions:
    ``(median wall, median CPU, estimator, rounds, busiest worker's seconds in block
    functions, parallel efficiency = those seconds summed over workers / (workers * wall),
    CPU critical path)``; the last four are the profiled fit's.

    The rounds run as actor calls (not tasks), so the seconds come from the block functions
    themselves (wrapped by :func:`_cpu_logged`), not from the task stream. The CPU critical
    path is the sum over rounds of the largest per-worker thread CPU time in that round's
    block functions: what the fit's wall time would be on idle cores with no fixed cost per
    round. Its 1 -> 2 worker ratio is the speed-up the work split allows, whatever the other
    load of the machine (which inflates wall times). The block builds (tasks, which also
    compute the first round's sums, :func:`fastreg.dask._block.make_block`) are logged as
    round 0 and counted like a round.
    """
    from fastreg.dask import _data, _engine
    rounds = [0]
    original, build = _engine.DaskEngine.map_sum, _data.make_block

    def counted(self, fn, *args):
        rounds[0] += 1
        return original(self, _cpu_logged(fn, rounds[0]), *args)

    runs = [timed(client, lambda: make().fit(X, y), 1)[:2] for _ in range(repeat - 1)]
    client.run(_take_cpu_log)
    _engine.DaskEngine.map_sum = counted
    _data.make_block = _cpu_logged(build, 0)
    try:
        wall, cpu, est = timed(client, lambda: make().fit(X, y), 1)
    finally:
        _engine.DaskEngine.map_sum, _data.make_block = original, build
    logs = list(client.run(_take_cpu_log).values())
    critical = sum(max(log.get(r, (0.0, 0.0))[0] for log in logs)
                   for r in range(0, rounds[0] + 1))
    busy = [sum(v[1] for v in log.values()) for log in logs]
    n_workers = len(client.scheduler_info()["workers"])
    efficiency = sum(busy) / (n_workers * wall)
    runs.append((wall, cpu))
    wall, cpu = (float(np.median(v)) for v in zip(*runs))
    return wall, cpu, est, rounds[0], max(busy, default=0.0), efficiency, critical


# dask's own periodic work, sampled less often (``--lean-dask``): the workers' statistical
# profiler (every 10 ms), the event-loop health tick (20 ms, every process), the memory
# monitor (100 ms) and the system monitor (500 ms). Idle, with 2 workers, these took 0.18 of
# the 2 cores (0.03 lean), measured with time.process_time on the worker and driver processes.
LEAN_DASK = {"distributed.worker.profile.enabled": False,
             "distributed.admin.tick.interval": "200ms",
             "distributed.worker.memory.monitor-interval": "1s",
             "distributed.admin.system-monitor.interval": "2s"}


def scaling(size, repeat, lean=False):
    """1 -> 2 workers; data generated on the workers (a seed per block). A cell that fails is
    reported as such and the run goes on."""
    import dask
    from distributed import Client, LocalCluster

    import fastreg.dask as fd
    n_pass = size["n_pass"]
    fits = [("dense", "Lasso", lambda: fd.Lasso(alpha=0.01, tol=1e-6)),
            ("dense", "LogisticRegression l2", lambda: fd.LogisticRegression(C=1.0, tol=1e-6)),
            ("sparse", "LogisticRegression l2",
             lambda: fd.LogisticRegression(C=1.0, tol=1e-6, max_iter=5000))]
    res = {}
    for workers in (1, 2):
        with dask.config.set(LEAN_DASK if lean else {}), \
                LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                             dashboard_address=":0",
                             memory_limit=size["memory_limit"]) as cluster, \
                Client(cluster) as client:
            for data in ("dense", "sparse"):
                try:
                    if data == "dense":
                        client.wait_for_workers(workers)
                        X, yls = dense_problem(size["n_dense"], size["p_dense"],
                                               size["chunk_dense"], "ls", client=client)
                        ylog = (yls > 0).astype(np.float64)
                        X, yls, ylog = client.persist([X, yls, ylog])
                    else:
                        client.wait_for_workers(workers)
                        X, ylog = sparse_problem(size["n_sparse"], size["p_sparse"],
                                                 size["density"], size["chunk_sparse"],
                                                 client=client)
                        X, ylog = client.persist([X, ylog])
                        yls = None
                    client.wait_for_workers(workers)
                    from distributed import wait
                    wait([X, ylog])
                except Exception as exc:          # noqa: BLE001 - reported in the table
                    print(f"[bench/dask] {data} data, {workers} worker(s): {exc!r}", flush=True)
                    res[("error", data, workers)] = repr(exc)[:80]
                    continue
                for label, code, hess in (("gradient, least squares", 0, False),
                                          ("gradient, logistic", 1, False),
                                          ("gradient + Hessian, logistic", 1, True)):
                    if hess and data == "sparse":    # 10,000 features: no Hessian (L-BFGS)
                        continue
                    key = ("pass", data, label, workers)
                    try:
                        res[key] = _pass_times(client, X, yls if code == 0 and yls is not None
                                               else ylog, code, hess, n_pass)
                    except Exception as exc:      # noqa: BLE001
                        res[key] = repr(exc)[:80]
                    print(f"[bench/dask] pass {data} {label} {workers} worker(s): {res[key]}",
                          flush=True)
                for d, label, make in fits:
                    if d != data:
                        continue
                    key = ("fit", data, label, workers)
                    try:
                        res[key] = _fit_profile(client, make, X, yls if label == "Lasso"
                                                else ylog, repeat)
                        wall, _, est, rounds, _, eff, crit = res[key]
                        print(f"[bench/dask] fit {data} {label} {workers} worker(s): "
                              f"{wall:.3g} s ({est.solver_}, {int(np.ravel(est.n_iter_)[0])} "
                              f"it, {rounds} rounds, efficiency {eff:.2f}, CPU critical path "
                              f"{crit:.3g} s)", flush=True)
                    except Exception as exc:      # noqa: BLE001
                        res[key] = repr(exc)[:80]
                        print(f"[bench/dask] fit {data} {label} {workers} worker(s): {exc!r}",
                              flush=True)
                del X, yls, ylog
    shape = {"dense": f"{size['n_dense']} x {size['p_dense']} ({size['chunk_dense']}-row "
                      f"blocks)",
             "sparse": f"{size['n_sparse']} x {size['p_sparse']} (density {size['density']:g}, "
                       f"{size['chunk_sparse']}-row blocks)"}
    pass_rows, rows = [], []
    labels = ("gradient, least squares", "gradient, logistic", "gradient + Hessian, logistic")
    for data in ("dense", "sparse"):
        for label in labels:
            r1, r2 = res.get(("pass", data, label, 1)), res.get(("pass", data, label, 2))
            if r1 is None and r2 is None:
                continue
            if isinstance(r1, tuple) and isinstance(r2, tuple):
                (w1, c1), (w2, c2) = r1, r2
                pass_rows.append([data, shape[data], label, f"{w1:.3g}", f"{w2:.3g}",
                                  f"{w1 / w2:.2f}x", f"{c1:.3g}", f"{c2:.3g}"])
            else:
                pass_rows.append([data, shape[data], label, str(r1), str(r2), "-", "-", "-"])
    for d, label, _ in fits:
        r1, r2 = res.get(("fit", d, label, 1)), res.get(("fit", d, label, 2))
        if isinstance(r1, tuple) and isinstance(r2, tuple):
            w1, c1, e1_, k1, b1, e1, p1 = r1
            w2, c2, est, k2, b2, e2, p2 = r2
            rows.append([d, shape[d], label, est.solver_,
                         f"{int(np.ravel(e1_.n_iter_)[0])} / {int(np.ravel(est.n_iter_)[0])}",
                         f"{k1} / {k2}", f"{w1:.3g}", f"{w2:.3g}", f"{w1 / w2:.2f}x",
                         f"{c1:.3g}", f"{c2:.3g}", f"{b1:.3g} / {b2:.3g}",
                         f"{e1:.2f} / {e2:.2f}", f"{p1:.3g} / {p2:.3g}", f"{p1 / p2:.2f}x"])
        else:
            err = res.get(("error", d, 1)) or res.get(("error", d, 2))
            rows.append([d, shape[d], label, "-", "-", "-", str(r1 if r1 else err),
                         str(r2 if r2 else err)] + ["-"] * 7)
    return pass_rows, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--short", action="store_true", help="small problems, one repeat")
    ap.add_argument("--quick", action="store_true",
                    help="the full comparison problem against dask-ml's lbfgs only, and a "
                         "reduced scaling part (a few minutes)")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--skip-compare", action="store_true")
    ap.add_argument("--lean-dask", action="store_true",
                    help="scaling clusters with dask's diagnostics sampled less often (see "
                         "LEAN_DASK): on 2 cores they compete with the 2 workers")
    args = ap.parse_args()
    where = use_repo_fastreg()
    # worker processes import fastreg too: give them the same location
    root = os.path.dirname(os.path.dirname(where)) if os.path.isdir(where) else ""
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    # scaling sizes fit a 24 GB machine (1 worker: 8 GB limit) within a few minutes per cell
    full_scaling = dict(n_dense=2_000_000, p_dense=100, chunk_dense=125_000,
                        n_sparse=2_000_000, p_sparse=10_000, density=1e-3, chunk_sparse=125_000,
                        n_pass=5, memory_limit="8GB")
    if args.short:
        size = dict(n=20_000, p=20, cmp_chunk=5_000, n_dense=200_000, p_dense=100,
                    chunk_dense=25_000, n_sparse=100_000, p_sparse=2_000, density=1e-3,
                    chunk_sparse=25_000, n_pass=3, memory_limit="4GB")
        repeat = args.repeat or 1
        cases = [CASES[0], CASES[2]]
    elif args.quick:
        size = dict(n=100_000, p=50, cmp_chunk=12_500, n_dense=500_000, p_dense=100,
                    chunk_dense=62_500, n_sparse=500_000, p_sparse=10_000, density=1e-3,
                    chunk_sparse=62_500, n_pass=3, memory_limit="4GB")
        repeat = args.repeat or 1
        cases = [CASES[1], (CASES[2][0], CASES[2][1], CASES[2][2], ("lbfgs",))]
    else:
        size = dict(n=100_000, p=50, cmp_chunk=12_500, **full_scaling)
        repeat = args.repeat or 1
        cases = CASES
    from distributed import Client, LocalCluster
    t0 = time.time()
    cmp_rows, pass_rows, fit_rows = [], [], []
    name = "dask_short" if args.short else "dask_quick" if args.quick else "dask"
    name += "_scaling" if args.skip_compare else "_compare" if args.skip_scaling else ""
    name += ".md"
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", name)

    def write():
        header = {
            "Machine": machine_info(),
            "Versions": versions(["numpy", "scipy", "dask", "distributed", "dask_ml",
                                  "dask_glm"]),
            "Run": {"command": " ".join(["python", "bench/dask.py"] + sys.argv[1:]),
                    "fastreg": where, "load average (1, 5, 15 min) at the end": os.getloadavg(),
                    "duration": f"{time.time() - t0:.0f} s", "repeats (median)": repeat,
                    "scaling clusters": "lean dask diagnostics (LEAN_DASK)" if args.lean_dask
                    else "dask's default configuration",
                    "vs dask-ml problem": f"{size['n']} x {size['p']} dense, no intercept, "
                                          f"chunks of {size['cmp_chunk']} rows",
                    "CPU": "CPU seconds of the worker processes plus the driver "
                           "(time.process_time), not distorted by other load"},
        }
        tables = [
            {"title": "Time to dask-ml's objective (2 worker processes x 1 thread)",
             "columns": ["problem", "method", "wall (s)", "CPU (s)",
                         "rel. subopt. vs fastreg tol 1e-8", "fastreg wall to that objective",
                         "speed-up (wall)", "speed-up (CPU)"], "rows": cmp_rows},
            {"title": "Scaling: one distributed pass of the block kernels, 1 -> 2 workers "
                      "(1 thread each)",
             "columns": ["data", "shape", "kernel", "1 worker (s)", "2 workers (s)", "speed-up",
                         "CPU 1 worker (s)", "CPU 2 workers (s)"], "rows": pass_rows},
            {"title": "Scaling: whole fit (tol 1e-6, intercept), 1 -> 2 workers, median "
                      f"of {repeat} fit(s) (rounds: distributed map-reduce rounds; busiest "
                      "worker: its seconds in the block functions and block builds; "
                      "efficiency: those seconds / (workers x wall); CPU critical path: sum "
                      "over rounds (the block builds counted as one) of the largest "
                      "per-worker CPU time, i.e. the wall "
                      "time on idle cores without fixed costs per round)",
             "columns": ["data", "shape", "estimator", "solver", "iterations (1 / 2)",
                         "rounds (1 / 2)", "1 worker (s)", "2 workers (s)", "speed-up",
                         "CPU 1 worker (s)", "CPU 2 workers (s)", "busiest worker (s, 1 / 2)",
                         "efficiency (1 / 2)", "CPU critical path (s, 1 / 2)",
                         "critical-path speed-up"],
             "rows": fit_rows},
        ]
        write_markdown(out, "fastreg.dask benchmark", header, tables)

    if not args.skip_compare:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster, Client(cluster) as client:
            cmp_rows += vs_dask_ml(client, size["n"], size["p"], size["cmp_chunk"], repeat,
                                   cases)
        write()           # the comparison is kept even if the scaling part is interrupted
    if not args.skip_scaling:
        pr, fr = scaling(size, repeat, lean=args.lean_dask)
        pass_rows += pr
        fit_rows += fr
    write()
    print(open(out).read())


if __name__ == "__main__":
    main()
