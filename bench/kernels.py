"""Benchmark of the compiled prox and optimizer kernels against numpy, torch and memory bandwidth.

For each kernel, size n and dtype, the median time of several runs is converted
to an *effective bandwidth*: the bytes the kernel must read and write at least
(e.g. Adam reads param, grad, m, v and writes param, m, v: 7 n itemsize bytes),
divided by the time. The bandwidth limit is the effective bandwidth of
``np.copyto`` (reads n, writes n), timed together with the kernel: fastreg, its
peers and the copy are called round-robin (:func:`interleaved_medians`), so
that a load that changes during the run affects them alike. Ratios against the
limit, the best numpy formulation and torch (one thread; ``fused=True`` and
``foreach=True`` optimizers, ``softshrink`` with ``out=``) are written to
``bench/results/kernels.md``.

Usage: ``python bench/kernels.py [--quick] [--sizes 1e6 1e7 1e8] [--repeat 7]
[--kernels soft_threshold l2_shrink Adam AdamW "SGD momentum"] [--dtypes float32 float64]``
(the default is every kernel, both dtypes, n = 1e6, 1e7, 1e8, 7 repeats; a subset
writes its own, smaller table).
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import unset_openblas_overrides  # noqa: E402

if __name__ == "__main__":
    unset_openblas_overrides()  # before numpy is imported

import numpy as np  # noqa: E402
from _common import (machine_info, markdown_table, use_repo_fastreg, versions,  # noqa: E402
                     write_markdown)

use_repo_fastreg()
from fastreg import optim, prox  # noqa: E402

try:
    import torch
except ImportError:  # the torch columns are left out
    torch = None

RESULTS = Path(__file__).resolve().parent / "results" / "kernels.md"
THRESHOLD = 0.5
LR, BETAS, EPS, WD = 1e-3, (0.9, 0.999), 1e-8, 1e-2
#: Vectors up to this size (n = 1e6 in float64) are re-warmed before each timed call.
REWARM_MAX_BYTES = 8 << 20


# --------------------------------------------------------------------------- numpy
def numpy_soft_threshold_variants(x, out, tmp):
    """Candidate numpy formulations of soft-thresholding into ``out`` (no allocation)."""
    def abs_sub_max_copysign():
        np.abs(x, out=out)
        np.subtract(out, THRESHOLD, out=out)
        np.maximum(out, 0.0, out=out)
        np.copysign(out, x, out=out)

    def x_minus_clip():
        np.clip(x, -THRESHOLD, THRESHOLD, out=tmp)
        np.subtract(x, tmp, out=out)

    def max_plus_min():
        np.subtract(x, THRESHOLD, out=out)
        np.maximum(out, 0.0, out=out)
        np.add(x, THRESHOLD, out=tmp)
        np.minimum(tmp, 0.0, out=tmp)
        np.add(out, tmp, out=out)

    return {"abs/sub/max/copysign": abs_sub_max_copysign, "x - clip(x)": x_minus_clip,
            "max(x-t,0)+min(x+t,0)": max_plus_min}


def numpy_adam(w, g, m, v, tmp, t, decoupled):
    """Adam / AdamW step with numpy out= buffers (the fewest passes we found)."""
    if decoupled:
        w *= 1.0 - LR * WD
    m *= BETAS[0]
    m += (1 - BETAS[0]) * g  # one temporary
    v *= BETAS[1]
    np.multiply(g, g, out=tmp)
    tmp *= 1 - BETAS[1]
    v += tmp
    bc1, bc2 = 1 - BETAS[0] ** t, 1 - BETAS[1] ** t
    np.sqrt(v, out=tmp)
    tmp /= np.sqrt(bc2)
    tmp += EPS
    np.divide(m, tmp, out=tmp)
    tmp *= LR / bc1
    w -= tmp


def numpy_sgd_momentum(w, g, buf, mu=0.9):
    buf *= mu
    buf += g
    w -= LR * buf


# --------------------------------------------------------------------------- rows
def _row(kernel, dtype, n, bytes_moved, t_copy_bw, timings):
    """One result row: effective GB/s of each implementation, ratios vs limit and peers."""
    row = {"kernel": kernel, "dtype": np.dtype(dtype).name, "n": f"{n:.0e}",
           "limit GB/s": t_copy_bw / 1e9}
    for name, t in timings.items():
        row[f"{name} GB/s"] = bytes_moved / t / 1e9
    fr = bytes_moved / timings["fastreg"]
    row["fastreg / limit"] = fr / t_copy_bw
    for name, t in timings.items():
        if name != "fastreg":
            row[f"speedup vs {name}"] = t / timings["fastreg"]
    return row


KERNELS = ("soft_threshold", "l2_shrink", "Adam", "AdamW", "SGD momentum")


def interleaved_medians(fns, repeat, rewarm=True):
    """Median time of each callable in ``fns`` (name -> fn), timed round-robin.

    Every implementation is called once first (page faults, lazy allocation).
    Then each of ``repeat`` rounds calls every implementation in turn: with
    ``rewarm``, once untimed (to bring its own buffers back into the cache, as
    consecutive calls would; only meaningful when they fit in it) and once
    timed. Interleaving makes the ratios robust to a load that drifts during
    the run: every implementation sees the same conditions.
    """
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            if rewarm:
                fn()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def bench_size(n, dtype, repeat, kernels=KERNELS):
    """Rows (one per kernel in ``kernels``) for vectors of length ``n`` and ``dtype``."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(dtype)
    out = np.empty_like(x)
    tmp = np.empty_like(x)
    g = (1e-2 * rng.standard_normal(n)).astype(dtype)
    rows = []
    for kernel in kernels:
        if kernel == "soft_threshold":
            fns, nbytes = _soft_threshold_fns(x, out, tmp), 2 * x.nbytes
        elif kernel == "l2_shrink":
            fns, nbytes = _l2_shrink_fns(x, out), 2 * x.nbytes
        elif kernel in ("Adam", "AdamW"):
            fns, nbytes = _adam_fns(kernel == "AdamW", x, g, tmp), 7 * x.nbytes
        else:
            fns, nbytes = _sgd_momentum_fns(x, g), 5 * x.nbytes
        # the bandwidth limit: a copy of n elements, timed among the others
        fns["copy"] = lambda: np.copyto(out, x)
        # re-warm the cache only where the buffers can be in it
        timings = interleaved_medians(fns, repeat, rewarm=x.nbytes <= REWARM_MAX_BYTES)
        limit = 2 * x.nbytes / timings.pop("copy")
        numpy_names = [k for k in timings if k.startswith("numpy")]
        best = min(numpy_names, key=timings.get)
        timings["numpy"] = timings[best]
        for k in numpy_names:
            if k != "numpy":
                del timings[k]
        row = _row(kernel, dtype, n, nbytes, limit, timings)
        if len(numpy_names) > 1:
            row["numpy formulation"] = best.split(":", 1)[1]
        rows.append(row)
        del fns  # free this kernel's buffers before the next kernel allocates its own
    return rows


def _soft_threshold_fns(x, out, tmp):
    """soft_threshold: reads x, writes out."""
    fns = {"fastreg": lambda: prox.soft_threshold(x, THRESHOLD, out=out)}
    for name, fn in numpy_soft_threshold_variants(x, out, tmp).items():
        fns[f"numpy:{name}"] = fn
    if torch is not None:
        xt, ot = torch.from_numpy(x), torch.from_numpy(out)
        fns["torch"] = lambda: torch._C._nn.softshrink(xt, THRESHOLD, out=ot)
    return fns


def _l2_shrink_fns(x, out):
    """l2_shrink: reads x, writes out."""
    return {"fastreg": lambda: prox.l2_shrink(x, THRESHOLD, out=out),
            "numpy": lambda: np.multiply(x, 1.0 / (1.0 + THRESHOLD), out=out)}


def _adam_fns(decoupled, x, g, tmp):
    """Adam / AdamW: reads w, g, m, v and writes w, m, v (7 n transfers)."""
    w = x.copy()
    opt = (optim.AdamW(w, lr=LR, betas=BETAS, eps=EPS, weight_decay=WD) if decoupled
           else optim.Adam(w, lr=LR, betas=BETAS, eps=EPS))
    fns = {"fastreg": lambda: opt.step(g)}
    wn, m, v = x.copy(), np.zeros_like(x), np.zeros_like(x)
    state = {"t": 0}

    def np_step():
        state["t"] += 1
        numpy_adam(wn, g, m, v, tmp, state["t"], decoupled)
    fns["numpy"] = np_step
    if torch is not None:
        for mode in ("fused", "foreach"):
            p = torch.nn.Parameter(torch.from_numpy(x.copy()))
            p.grad = torch.from_numpy(g)
            cls = torch.optim.AdamW if decoupled else torch.optim.Adam
            kw = dict(lr=LR, betas=BETAS, eps=EPS, weight_decay=WD if decoupled else 0.0)
            fns[f"torch {mode}"] = cls([p], **kw, **{mode: True}).step
    return fns


def _sgd_momentum_fns(x, g):
    """SGD with momentum: reads w, g, buf and writes w, buf (5 n transfers)."""
    w = x.copy()
    opt = optim.SGD(w, lr=LR, momentum=0.9)
    wn, buf = x.copy(), np.zeros_like(x)
    fns = {"fastreg": lambda: opt.step(g), "numpy": lambda: numpy_sgd_momentum(wn, g, buf)}
    if torch is not None:
        for mode in ("fused", "foreach"):
            p = torch.nn.Parameter(torch.from_numpy(x.copy()))
            p.grad = torch.from_numpy(g)
            try:
                fns[f"torch {mode}"] = torch.optim.SGD([p], lr=LR, momentum=0.9,
                                                       **{mode: True}).step
            except (RuntimeError, TypeError, ValueError):
                pass
    return fns


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 1e6, 1e7 only, 3 repeats")
    parser.add_argument("--sizes", nargs="*", type=float, default=None)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--kernels", nargs="*", choices=KERNELS, default=None,
                        help="a subset of the kernels (default: all)")
    parser.add_argument("--dtypes", nargs="*", choices=("float32", "float64"), default=None,
                        help="a subset of the dtypes (default: both)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"results file (default: {RESULTS.relative_to(RESULTS.parents[2])} "
                             "for a run of every kernel and dtype; a subset only prints "
                             "unless --output is given)")
    args = parser.parse_args(argv)
    kernels = tuple(args.kernels or KERNELS)
    dtypes = tuple(args.dtypes or ("float32", "float64"))
    output = args.output
    if output is None and args.kernels is None and args.dtypes is None:
        output = RESULTS
    sizes = args.sizes or ([1e6, 1e7] if args.quick else [1e6, 1e7, 1e8])
    repeat = args.repeat or (3 if args.quick else 7)
    if torch is not None:
        torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    columns = ["kernel", "n", "limit GB/s", "fastreg GB/s", "fastreg / limit", "numpy GB/s",
               "speedup vs numpy", "torch GB/s", "speedup vs torch", "speedup vs torch fused",
               "speedup vs torch foreach", "numpy formulation"]
    tables = []
    for dtype in dtypes:
        rows = []
        for n in sizes:
            rows += bench_size(int(n), dtype, repeat, kernels)
            print(f"done n={n:.0e} {np.dtype(dtype).name}", flush=True)
        cells = [[_fmt(r.get(c, "")) for c in columns] for r in rows]
        tables.append({"title": f"{np.dtype(dtype).name}", "columns": columns, "rows": cells})
    header = {
        "Machine": machine_info(),
        "Versions": versions(["fastreg", "numpy", "torch"]),
        "Protocol": (
            f"Median of {repeat} rounds per cell, after one call of each; each round calls "
            "fastreg, every peer and the copy in turn, once timed (for vectors of at most "
            f"{REWARM_MAX_BYTES >> 20} MiB, preceded by an untimed call that brings its "
            "buffers back into the cache). One thread "
            "(torch.set_num_threads(1), OMP_NUM_THREADS=1). GB/s = bytes the kernel must read "
            "and write (soft_threshold, l2_shrink: 2n; SGD momentum: 5n; Adam/AdamW: 7n "
            "elements) / median time. 'limit' is the same measure for np.copyto of n "
            "elements, timed in the same rounds: the memory-bandwidth limit. speedup = "
            "peer time / fastreg time (> 1: fastreg faster). numpy: the fastest of several "
            "out=-buffer formulations (named in the last column for soft_threshold). "
            "torch: softshrink(out=) for soft_threshold; torch.optim with fused=True and "
            "foreach=True for the optimizers."),
    }
    if output is not None:
        write_markdown(output, "Kernel benchmark: prox and optimizer steps", header, tables)
        print(f"wrote {output}")
    for table in tables:
        print(markdown_table(table["columns"], table["rows"]))


def _fmt(v):
    return f"{v:.3g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
