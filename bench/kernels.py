"""Benchmark of the compiled prox and optimizer kernels against numpy, torch and memory bandwidth.

For each kernel, size n and dtype, the median time of several runs is converted
to an *effective bandwidth*: the bytes the kernel must read and write at least
(e.g. Adam reads param, grad, m, v and writes param, m, v: 7 n itemsize bytes),
divided by the time. The bandwidth limit is measured in the same run as the
effective bandwidth of ``np.copyto`` (reads n, writes n). Ratios against the
limit, the best numpy formulation and torch (one thread; ``fused=True`` and
``foreach=True`` optimizers, ``softshrink`` with ``out=``) are written to
``bench/results/kernels.md``.

Usage: ``python bench/kernels.py [--quick] [--sizes 1e6 1e7 1e8] [--repeat 7]``.
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import unset_openblas_overrides  # noqa: E402

if __name__ == "__main__":
    unset_openblas_overrides()  # before numpy is imported

import numpy as np  # noqa: E402
from _common import (machine_info, markdown_table, median_time, use_repo_fastreg,  # noqa: E402
                     versions, write_markdown)

use_repo_fastreg()
from fastreg import optim, prox  # noqa: E402

try:
    import torch
except ImportError:  # the torch columns are left out
    torch = None

RESULTS = Path(__file__).resolve().parent / "results" / "kernels.md"
THRESHOLD = 0.5
LR, BETAS, EPS, WD = 1e-3, (0.9, 0.999), 1e-8, 1e-2


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


def bench_size(n, dtype, repeat):
    rng = np.random.default_rng(0)
    isz = np.dtype(dtype).itemsize
    x = rng.standard_normal(n).astype(dtype)
    out = np.empty_like(x)
    tmp = np.empty_like(x)

    t_copy, _ = median_time(lambda: np.copyto(out, x), repeat=repeat, warmup=1)
    bw = 2 * n * isz / t_copy
    rows = []

    # soft_threshold: reads x, writes out
    timings = {"fastreg": median_time(lambda: prox.soft_threshold(x, THRESHOLD, out=out),
                                      repeat=repeat, warmup=1)[0]}
    variants = numpy_soft_threshold_variants(x, out, tmp)
    vt = {k: median_time(f, repeat=repeat, warmup=1)[0] for k, f in variants.items()}
    best = min(vt, key=vt.get)
    timings["numpy"] = vt[best]
    if torch is not None:
        xt, ot = torch.from_numpy(x), torch.from_numpy(out)
        timings["torch"] = median_time(lambda: torch._C._nn.softshrink(xt, THRESHOLD, out=ot),
                                       repeat=repeat, warmup=1)[0]
    rows.append(_row("soft_threshold", dtype, n, 2 * n * isz, bw, timings))
    rows[-1]["numpy formulation"] = best

    # l2_shrink: reads x, writes out
    timings = {"fastreg": median_time(lambda: prox.l2_shrink(x, THRESHOLD, out=out),
                                      repeat=repeat, warmup=1)[0],
               "numpy": median_time(lambda: np.multiply(x, 1.0 / (1.0 + THRESHOLD), out=out),
                                    repeat=repeat, warmup=1)[0]}
    rows.append(_row("l2_shrink", dtype, n, 2 * n * isz, bw, timings))

    # optimizers: Adam, AdamW (7 n transfers), SGD momentum (5 n)
    g = (1e-2 * rng.standard_normal(n)).astype(dtype)
    for name, decoupled in (("Adam", False), ("AdamW", True)):
        w = x.copy()
        opt = (optim.AdamW(w, lr=LR, betas=BETAS, eps=EPS, weight_decay=WD) if decoupled
               else optim.Adam(w, lr=LR, betas=BETAS, eps=EPS))
        timings = {"fastreg": median_time(lambda: opt.step(g), repeat=repeat, warmup=1)[0]}
        wn, m, v = x.copy(), np.zeros_like(x), np.zeros_like(x)
        state = {"t": 0}

        def np_step():
            state["t"] += 1
            numpy_adam(wn, g, m, v, tmp, state["t"], decoupled)
        timings["numpy"] = median_time(np_step, repeat=repeat, warmup=1)[0]
        if torch is not None:
            for mode in ("fused", "foreach"):
                p = torch.nn.Parameter(torch.from_numpy(x.copy()))
                p.grad = torch.from_numpy(g)
                cls = torch.optim.AdamW if decoupled else torch.optim.Adam
                kw = dict(lr=LR, betas=BETAS, eps=EPS, weight_decay=WD if decoupled else 0.0)
                topt = cls([p], **kw, **{mode: True})
                timings[f"torch {mode}"] = median_time(topt.step, repeat=repeat, warmup=1)[0]
        rows.append(_row(name, dtype, n, 7 * n * isz, bw, timings))

    w = x.copy()
    opt = optim.SGD(w, lr=LR, momentum=0.9)
    timings = {"fastreg": median_time(lambda: opt.step(g), repeat=repeat, warmup=1)[0]}
    wn, buf = x.copy(), np.zeros_like(x)
    timings["numpy"] = median_time(lambda: numpy_sgd_momentum(wn, g, buf), repeat=repeat,
                                   warmup=1)[0]
    if torch is not None:
        for mode in ("fused", "foreach"):
            p = torch.nn.Parameter(torch.from_numpy(x.copy()))
            p.grad = torch.from_numpy(g)
            try:
                topt = torch.optim.SGD([p], lr=LR, momentum=0.9, **{mode: True})
                timings[f"torch {mode}"] = median_time(topt.step, repeat=repeat, warmup=1)[0]
            except (RuntimeError, TypeError, ValueError):
                pass
    rows.append(_row("SGD momentum", dtype, n, 5 * n * isz, bw, timings))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 1e6, 1e7 only, 3 repeats")
    parser.add_argument("--sizes", nargs="*", type=float, default=None)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sizes = args.sizes or ([1e6, 1e7] if args.quick else [1e6, 1e7, 1e8])
    repeat = args.repeat or (3 if args.quick else 7)
    if torch is not None:
        torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    columns = ["kernel", "n", "limit GB/s", "fastreg GB/s", "fastreg / limit", "numpy GB/s",
               "speedup vs numpy", "torch GB/s", "speedup vs torch", "speedup vs torch fused",
               "speedup vs torch foreach", "numpy formulation"]
    tables = []
    for dtype in (np.float32, np.float64):
        rows = []
        for n in sizes:
            rows += bench_size(int(n), dtype, repeat)
            print(f"done n={n:.0e} {np.dtype(dtype).name}", flush=True)
        cells = [[_fmt(r.get(c, "")) for c in columns] for r in rows]
        tables.append({"title": f"{np.dtype(dtype).name}", "columns": columns, "rows": cells})
    header = {
        "Machine": machine_info(),
        "Versions": versions(["fastreg", "numpy", "torch"]),
        "Protocol": (
            f"Median of {repeat} runs (after one warm-up) per cell, one thread "
            "(torch.set_num_threads(1), OMP_NUM_THREADS=1). GB/s = bytes the kernel must read "
            "and write (soft_threshold, l2_shrink: 2n; SGD momentum: 5n; Adam/AdamW: 7n "
            "elements) / median time. 'limit' is the same measure for np.copyto of n "
            "elements, measured in the same run: the memory-bandwidth limit. speedup = "
            "peer time / fastreg time (> 1: fastreg faster). numpy: the fastest of several "
            "out=-buffer formulations (named in the last column for soft_threshold). "
            "torch: softshrink(out=) for soft_threshold; torch.optim with fused=True and "
            "foreach=True for the optimizers."),
    }
    write_markdown(args.output, "Kernel benchmark: prox and optimizer steps", header, tables)
    print(f"wrote {args.output}")
    for table in tables:
        print(markdown_table(table["columns"], table["rows"]))


def _fmt(v):
    return f"{v:.3g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
