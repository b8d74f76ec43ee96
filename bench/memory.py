"""Peak resident memory of one fit on large data, in units of the size of X (issue 7).

Each cell runs in a fresh subprocess (``--child``), so that one fit's peak is not
hidden by another's:

1. import fastreg, make a tiny warm-up fit (code pages, lazy imports);
2. build X and y in chunks of at most 1 MiB (no temporary copy of X), so the
   process's resident set afterwards is about ``baseline + size(X)``;
3. reset the kernel's resident high-water mark (``echo 5 > /proc/self/clear_refs``,
   Linux >= 4.0) and read the current resident size ``rss0`` (``/proc/self/status``);
4. fit once, read the high-water mark ``VmHWM``: ``extra = VmHWM - rss0`` is
   everything the fit touched on top of the data, C and Fortran allocations
   included (``tracemalloc`` sees only allocations reported to Python).

Where ``clear_refs`` is not writable the high-water mark is
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` since the process started (step 2
keeps the data build below ``rss0``, so this is close). The child runs with
``MALLOC_MMAP_THRESHOLD_=131072``: glibc then serves every block above 128 KiB by
``mmap`` and returns it at ``free``, instead of raising the threshold
dynamically and recycling freed (still resident) heap pages, which would hide
part of the peak.

``size(X)`` counts the arrays of X only (dense: ``X.nbytes``; sparse: data +
indices + indptr). A ratio near 0 means X was used in place; a ratio near 1 or
more means one copy of X (e.g. C-ordered X given to the coordinate-descent
solvers, which want Fortran order, or F-ordered X given to SGD, which reads rows).

Usage (from the repository root)::

    python bench/memory.py --quick     # 4000 x 500 dense, 40000 x 4000 sparse (1%)
    python bench/memory.py             # 20000 x 2000 dense, 200000 x 20000 sparse; see results
    python bench/memory.py --child lasso F 4000 500 0   # one cell, prints a JSON line

Writes ``bench/results/memory.md`` (``--quick``: ``bench/results/quick/memory.md``).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

#: estimator name -> (classifier?, constructor keyword arguments)
ESTIMATORS = {
    "lasso": (False, {}),
    "logreg": (True, {"l1_ratio": 1.0, "tol": 1e-4}),
    "sgd": (True, {"max_iter": 5, "tol": None, "random_state": 0}),
}
#: storage layouts: F / C (dense, Fortran / C order), csc / csr (sparse)
LAYOUTS = ("F", "C", "csc", "csr")
#: cells of the table: (estimator, layout); the solvers' native layouts first
CELLS = [("lasso", "F"), ("lasso", "csc"), ("lasso", "C"),
         ("logreg", "F"), ("logreg", "csc"),
         ("sgd", "C"), ("sgd", "csr"), ("sgd", "F")]
SIZES = {"full": {"dense": (20000, 2000), "sparse": (200000, 20000, 1e-3)},
         "quick": {"dense": (4000, 500), "sparse": (40000, 4000, 1e-2)}}
_CHUNK = 1 << 17   # float64 entries per generated chunk (1 MiB)


# ---------------------------------------------------------------------------
# child: one measurement
# ---------------------------------------------------------------------------
def _status(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _reset_peak():
    """Reset VmHWM to the current RSS; False when the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _dense(n, p, order, rng):
    import numpy as np
    X = np.empty((n, p), order=order)
    if order == "F":
        step = max(1, _CHUNK // n)
        for j in range(0, p, step):
            X[:, j:j + step] = rng.standard_normal((n, min(step, p - j)))
    else:
        step = max(1, _CHUNK // p)
        for i in range(0, n, step):
            X[i:i + step] = rng.standard_normal((min(step, n - i), p))
    return X


def _sparse(n, p, density, fmt, rng):
    """CSC (or CSR) with exactly ``k = density * n_minor`` sorted distinct indices per major slice."""
    import numpy as np
    import scipy.sparse as sp
    n_major, n_minor = (p, n) if fmt == "csc" else (n, p)
    k = max(1, int(round(density * n_minor)))
    indices = np.empty(n_major * k, dtype=np.int32)
    data = np.empty(n_major * k)
    step = max(1, _CHUNK // k)
    for j in range(0, n_major, step):
        m = min(step, n_major - j)
        # k sorted draws from [0, n_minor - k] plus 0..k-1: strictly increasing, < n_minor
        idx = np.sort(rng.integers(0, n_minor - k + 1, size=(m, k)), axis=1) + np.arange(k)
        indices[j * k:(j + m) * k] = idx.ravel()
        data[j * k:(j + m) * k] = rng.standard_normal(m * k)
    indptr = np.arange(0, n_major * k + 1, k, dtype=np.int32)
    make = sp.csc_matrix if fmt == "csc" else sp.csr_matrix
    X = make((data, indices, indptr), shape=(n, p), copy=False)
    X.has_sorted_indices = True
    return X


def _x_bytes(X):
    import scipy.sparse as sp
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def _make(name):
    import fastreg
    classifier, kw = ESTIMATORS[name]
    cls = {"lasso": fastreg.Lasso, "logreg": fastreg.LogisticRegression,
           "sgd": fastreg.SGDClassifier}[name]
    return cls, classifier, dict(kw)


def child(name, layout, n, p, density=1e-3, seed=0):
    """Measure one fit; return a dict (bytes and seconds)."""
    import gc
    import resource
    import warnings

    import numpy as np

    warnings.simplefilter("ignore")
    cls, classifier, kw = _make(name)
    rng = np.random.default_rng(seed)
    Xw = rng.standard_normal((60, 8))
    cls(**kw).fit(Xw, (Xw[:, 0] > 0) if classifier else Xw[:, 0])   # warm-up
    if layout in ("F", "C"):
        X = _dense(n, p, layout, rng)
    else:
        X = _sparse(n, p, density, layout, rng)
    w = np.zeros(p)
    w[: min(p, 20)] = rng.standard_normal(min(p, 20))
    t = X @ w + 0.5 * rng.standard_normal(n)
    y = (t > 0).astype(np.float64) if classifier else t
    del t
    # regularization: alpha = alpha_max / 20 (Lasso), the same L1 level for logistic
    corr = np.abs(X.T @ (y - y.mean())).max() / n
    if name == "lasso":
        kw["alpha"] = corr / 20
    elif name == "logreg":
        kw["C"] = 20.0 / (n * corr)
    est = cls(**kw)
    gc.collect()
    rss0 = _status("VmRSS")
    exact = _reset_peak()
    base_peak = 0 if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    est.fit(X, y)
    seconds = time.perf_counter() - t0
    peak = _status("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"estimator": name, "layout": layout, "n": n, "p": p,
            "nnz": int(X.nnz) if hasattr(X, "nnz") else n * p,
            "x_bytes": _x_bytes(X), "rss0": rss0, "extra": max(0, peak - rss0),
            "ratio": max(0, peak - rss0) / _x_bytes(X), "seconds": seconds,
            "method": "VmHWM after clear_refs" if exact else "ru_maxrss",
            "base_peak_above_rss0": max(0, base_peak - rss0)}


def run_child(name, layout, n, p, density=1e-3, seed=0, timeout=900):
    """Run :func:`child` in a fresh interpreter; return its dict."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    cmd = [sys.executable, os.path.abspath(__file__), "--child", name, layout, str(n), str(p),
           str(density), str(seed)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (rc={proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# parent: the table
# ---------------------------------------------------------------------------
PROTOCOL = __doc__.split("Usage")[0].strip()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="medium problems (seconds)")
    ap.add_argument("--cells", default=None,
                    help="comma-separated estimator:layout, e.g. lasso:F,sgd:csr (default: all)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        name, layout, n, p = args.child[:4]
        density = float(args.child[4]) if len(args.child) > 4 else 1e-3
        seed = int(args.child[5]) if len(args.child) > 5 else 0
        from _common import use_repo_fastreg
        use_repo_fastreg()
        print(json.dumps(child(name, layout, int(n), int(p), density, seed)))
        return

    from _common import machine_info, use_repo_fastreg, versions, write_markdown
    where = use_repo_fastreg()
    size = SIZES["quick" if args.quick else "full"]
    cells = CELLS if args.cells is None else [tuple(c.split(":")) for c in args.cells.split(",")]
    rows, t_all = [], time.perf_counter()
    for name, layout in cells:
        if layout in ("F", "C"):
            n, p = size["dense"]
            density = 1.0
        else:
            n, p, density = size["sparse"]
        r = run_child(name, layout, n, p, density)
        print(f"{name:7s} {layout:4s} X {r['x_bytes'] / 2**20:8.1f} MiB  extra peak "
              f"{r['extra'] / 2**20:8.1f} MiB  ratio {r['ratio']:.3f}  fit {r['seconds']:.2f} s",
              flush=True)
        rows.append([name, layout, f"{n} x {p}" + ("" if layout in ("F", "C") else
                                                  f", nnz {r['nnz']}"),
                     f"{r['x_bytes'] / 2**20:.1f}", f"{r['extra'] / 2**20:.1f}",
                     f"{r['ratio']:.3f}", f"{r['extra'] / (8 * (n + p)):.1f}",
                     f"{r['seconds']:.2f}"])
    try:
        load = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        load = "unknown"
    out = args.out or os.path.join(HERE, "results", "quick" if args.quick else "", "memory.md")
    write_markdown(
        out, "Peak memory of one fit over the size of X (issue 7)",
        {"Protocol": PROTOCOL, "Machine": machine_info(),
         "Versions": versions(["numpy", "scipy", "sklearn", "fastreg"]),
         "Run": f"fastreg from {where}; {len(cells)} cells in {time.perf_counter() - t_all:.0f} s; "
                f"load average (1/5/15 min) at the end: {load}; "
                f"measure: {r['method'] if rows else '-'}"},
        [{"title": "Peak resident memory above the data, during one fit",
          "columns": ["estimator", "X layout", "X shape", "size(X) MiB", "extra peak MiB",
                      "extra / size(X)", "extra / 8(n+p) B", "fit s"],
          "rows": rows,
          "notes": "lasso: alpha = alpha_max/20; logreg: L1, C = 20/(n alpha_max); "
                   "sgd: SGDClassifier, 5 epochs. Native layouts: F/csc for lasso and logreg "
                   "(coordinate descent on columns), C/csr for sgd (rows); the other rows show "
                   "the one documented copy. `extra / 8(n+p) B`: the extra peak in float64 "
                   "vectors of length n + p (residuals, gradients, working copies of y)."}])
    print(f"wrote {out} ({time.perf_counter() - t_all:.0f} s)")


if __name__ == "__main__":
    main()
