"""Input checks and block creation: dask arrays (row chunks) or numpy/scipy input -> an engine.

Each row chunk of ``X`` (dense numpy or scipy.sparse), with the matching
chunks of ``y`` and ``sample_weight``, becomes one
:class:`fastreg.dask._block.RowBlock` computed on a worker from the input
graph (so that a block lost with its worker is recomputed), validated there
(NaN, shapes). Plain numpy/scipy input is first wrapped in a dask array of
row chunks (a few per worker thread). Building the blocks, their statistics,
the classes of a classifier's labels and (for a Newton solver) the first
step's Gram take one round (:func:`build_engine`); the sums of that round are
computed by the build tasks, as each block is built (:func:`make_block`).

Placement: every round waits for the busiest worker, so the blocks should be
spread evenly (by rows) over the workers. When the input's chunks are in the
workers' memory (persisted), each block is asked for (a loose restriction) on
the worker holding its chunk while that worker is under its share, and the
excess on the least loaded workers (:func:`balanced_workers`): the chunks of a
persisted 16-chunk array were seen 7/9 and 2/14 over two workers, the blocks
then 8/8 and 5/11 (a loose restriction lets the scheduler's work stealing run
a build where its chunk is; a hard one would hang the build if that worker
died). Input not in memory yet is placed by the scheduler alone.
"""
import math

import numpy as np
import scipy.sparse as sp

from ..solvers.design import blas_controller
from ._block import built_stats, encode_labels, make_block
from ._engine import DaskEngine


def get_client(client=None):
    """The given client, else the current one (``distributed.get_client``), else a new local one."""
    if client is not None:
        return client
    from distributed import Client, get_client as current
    try:
        return current()
    except ValueError:
        return Client(processes=False)


def _as_dask(a, name, row_chunks, n_rows):
    """``a`` as a dask array with the row chunks ``row_chunks`` (ValueError if they differ)."""
    import dask.array as da
    if isinstance(a, da.Array):
        if a.shape[0] != n_rows:
            raise ValueError(f"{name} has {a.shape[0]} rows, X has {n_rows}")
        if a.ndim > 2 or (a.ndim == 2 and a.shape[1] != 1):
            raise ValueError(f"{name} must be 1-dimensional, got shape {a.shape}")
        if a.chunks[0] != row_chunks:
            raise ValueError(f"{name} and X have mismatched row chunks: {a.chunks[0]} vs "
                             f"{row_chunks} (rechunk {name} with {name}.rechunk(X.chunks[0]))")
        return a.reshape(-1) if a.ndim == 2 else a
    arr = np.asarray(a)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {arr.shape}")
    if arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} entries, X has {n_rows} rows")
    return da.from_array(arr, chunks=(row_chunks,))


def as_row_chunked(X, client):
    """``X`` as a dask array chunked by rows only, with its dtype (float32 kept, else float64)."""
    import dask.array as da
    if isinstance(X, da.Array):
        if X.ndim != 2:
            raise ValueError(f"X must be 2-dimensional, got a {X.ndim}-d dask array")
        if any(math.isnan(c) for c in X.chunks[0]):
            raise ValueError("X has unknown chunk sizes: call X.compute_chunk_sizes() first")
        if X.numblocks[1] != 1:
            raise ValueError(f"X is chunked along columns ({X.numblocks[1]} column chunks): "
                             "fastreg.dask needs row chunks holding all the features; use "
                             "X.rechunk({1: -1})")
    else:
        if sp.issparse(X):
            X = sp.csr_matrix(X)
        else:
            X = np.asarray(X)
            if X.ndim != 2:
                raise ValueError(f"X must be 2-dimensional, got shape {X.shape}")
        n_parts = max(1, 2 * sum(client.nthreads().values()))
        rows = max(1, math.ceil(X.shape[0] / n_parts))
        X = da.from_array(X, chunks=(rows, X.shape[1]), asarray=not sp.issparse(X))
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X has shape {X.shape}: at least one sample and one feature needed")
    dtype = np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)
    if X.dtype.kind not in "fiub":
        raise ValueError(f"X must be numeric, got dtype {X.dtype}")
    return X, dtype


def balanced_workers(rows, holders, workers):
    """A worker per row chunk (list), each worker getting about ``sum(rows) / len(workers)`` rows.

    ``holders[k]``: the addresses holding chunk ``k`` (empty if none). A chunk stays on a
    holder while that holder's rows stay within its share plus half the largest chunk; the
    other chunks go, in order, to the least loaded worker (ties: the first in ``workers``).
    Deterministic for given arguments.
    """
    share = sum(rows) / len(workers) + 0.5 * max(rows)
    load = dict.fromkeys(workers, 0)
    out = [None] * len(rows)
    for k, r in enumerate(rows):
        held = sorted((load[a], a) for a in holders[k] if a in load)
        if held and held[0][0] + r <= share:
            out[k] = held[0][1]
            load[out[k]] += r
    for k, r in enumerate(rows):
        if out[k] is None:
            out[k] = min(workers, key=lambda a: load[a])
            load[out[k]] += r
    return out


def _placement(X, client, workers):
    """:func:`balanced_workers` for the row chunks of ``X`` over ``workers`` (sorted
    addresses) when some of them are in the workers' memory (persisted), else None (the
    scheduler places them)."""
    if len(workers) < 2 or not client.futures_of(X):
        return None
    who = client.who_has(X)
    holders = [who.get(key[0], ()) if isinstance(key, list) else who.get(key, ())
               for key in X.__dask_keys__()]
    if not any(holders):
        return None
    return balanced_workers([int(r) for r in X.chunks[0]], holders, workers)


def build_engine(X, y, sample_weight, client, labels=False, gram_max_features=0):
    """Persist validated blocks on the workers; returns ``(engine, n_features, dtype)``.

    One round: the blocks are built and their sums (:func:`block_stats`) come
    back. ``labels=True`` (classification): the same round returns the
    distinct labels of ``y`` with their total weights, the blocks then map
    ``y`` to ``+-1`` (``+1`` for the second class) in place on the workers,
    at the start of the next round (``engine.prepare``); ``engine.classes``
    holds the sorted labels and ``engine.stats`` the sums of the encoded blocks. A bad block raises its
    ValueError here. ``n_features <= gram_max_features``: the same round also returns
    ``engine.first = (X^T (s y), X^T diag(s) X)`` (``y = +-1`` for labels; see
    :func:`block_stats`): a Newton solver started at 0 takes its first step
    from these (no Newton round at the start point); else ``engine.first`` is None and
    ``engine.sq`` holds the weighted column sums of squares ``X^T (s x^2)`` (L-BFGS's scaling).
    """
    from dask import annotate, delayed
    X, dtype = as_row_chunked(X, client)
    n, p = X.shape
    rows = X.chunks[0]
    y = _as_dask(y, "y", rows, n)
    if not labels and y.dtype.kind not in "fiub":
        raise ValueError(f"y must be numeric, got dtype {y.dtype}")
    xs, ys = X.to_delayed().ravel(), y.to_delayed().ravel()
    if sample_weight is None or np.isscalar(sample_weight):
        ss = [None] * len(xs)
    else:
        ss = _as_dask(sample_weight, "sample_weight", rows, n).to_delayed().ravel()
    workers = sorted(client.scheduler_info()["workers"])      # one request per fit
    where = _placement(X, client, workers)
    gram = p <= gram_max_features
    parts = []
    for k, (xk, yk, sk) in enumerate(zip(xs, ys, ss)):
        with annotate(**({} if where is None else
                         dict(workers=[where[k]], allow_other_workers=True))):
            # pure=False: every engine builds its own blocks (they hold per-fit state: the
            # encoded labels, the X w cache), never those of another fit on the same input
            parts.append(delayed(make_block, pure=False)(xk, yk, sk, dtype, k, labels,
                                                         (gram,)))
    # one BLAS thread: in-process (threaded) workers share this process's BLAS, whose
    # threads make the Gram's many small syrk calls tens of times slower on a busy machine
    # (worker processes get OPENBLAS_NUM_THREADS=1 from dask's nanny)
    with blas_controller().limit(limits=1, user_api="blas"):
        # the chunks' graphs were optimized by to_delayed: not again (a third of the
        # driver's time before the first build starts)
        engine = DaskEngine(client, client.compute(parts, optimize_graph=False),
                            rows=[int(r) for r in rows], workers=workers)
        # the sums were computed with the blocks: only these n_features-sized results
        # travel, the blocks stay on the workers
        n_rows, S, Sy, Syy, m, Spos, counts, first, sq = engine.map_sum(built_stats, gram)
    engine.classes, engine.first, engine.sq = None, first, sq
    if labels:
        engine.classes = counts.values
        engine.first = None
        if counts.values.shape[0] == 2 and first is not None and counts.xs is not None:
            engine.first = (2 * counts.xs[1] - m, first[1])          # X^T (s y), y = +-1
        if counts.values.shape[0] == 2:
            engine.prepare = (encode_labels, (counts.values,))   # in place, on the workers
            Spos = float(counts.weights[1])
            Sy, Syy = 2 * Spos - S, S            # y = +-1
    engine.stats = (n_rows, S, Sy, Syy, m, Spos)
    return engine, p, dtype
