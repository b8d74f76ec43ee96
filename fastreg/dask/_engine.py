"""Engine-neutral block interface: map a function over persisted row blocks, sum in a tree.

A driver solver only talks to a :class:`BlockEngine`:

* ``engine.map_sum(fn, *args)`` runs ``fn(block, *args)`` on every block and
  returns the sum of the results (tuples of floats and arrays are summed
  entry by entry), reduced in a fixed tree, so the result is deterministic
  whatever worker ran what (the Dask engine sends one task per worker per
  round, over the blocks that worker holds: the fixed cost of a task, not
  the kernels, dominates a round of moderate size);
* ``engine.map(fn, args_per_block, *args)`` returns the per-block results as
  a list (ADMM's local solves, one ``n_features`` vector per block).

Two engines: :class:`DaskEngine` (dask.distributed; blocks persisted on the
workers as futures; ``client.map`` plus a tree of ``client.submit`` sums, so
only the arguments and the ``n_features``-sized results travel) and
:class:`SerialEngine` (the blocks in this process; for tests and debugging).
Another engine (Ray, Spark, ...) implements the same three methods.
"""
import numpy as np


def _add(a, b):
    """Entry-wise sum of two results (floats, arrays, objects with ``+``, or tuples of them;
    None is the neutral element)."""
    if isinstance(a, tuple):
        return tuple(_add(x, y) for x, y in zip(a, b))
    if a is None or b is None:
        return b if a is None else a
    return a + b


def sum_results(*parts):
    """Sum of results in the order given (the fixed order makes the tree deterministic)."""
    total = parts[0]
    for part in parts[1:]:
        total = _add(total, part)
    return total


def tree_sum(parts, fan_in):
    """Sum ``parts`` level by level, ``fan_in`` consecutive ones per node (the engines'
    fixed summation tree, so the result does not depend on where the parts were computed)."""
    while len(parts) > 1:
        parts = [sum_results(*parts[i:i + fan_in]) for i in range(0, len(parts), fan_in)]
    return parts[0]


class BlockEngine:
    """Interface of an engine over row blocks (see the module docstring)."""

    n_blocks = 0
    stats = None      # the sums of :func:`fastreg.dask._block.block_stats`, when known
    first = None      # (X^T s y, X^T diag(s) X) from the build round, when computed
    classes = None    # the sorted labels of a classifier's y, when the blocks encode them

    def map_sum(self, fn, *args):
        raise NotImplementedError

    def map(self, fn, per_block, *args):
        raise NotImplementedError

    def close(self):
        """Release the blocks."""


class SerialEngine(BlockEngine):
    """All blocks in this process; the same tree-shaped summation as the Dask engine."""

    def __init__(self, blocks, fan_in=8):
        self.blocks = list(blocks)
        self.n_blocks = len(self.blocks)
        self.fan_in = fan_in

    def map_sum(self, fn, *args):
        return tree_sum([fn(block, *args) for block in self.blocks], self.fan_in)

    def map(self, fn, per_block, *args):
        return [fn(block, extra, *args) for block, extra in zip(self.blocks, per_block)]


class DaskEngine(BlockEngine):
    """Blocks persisted on dask.distributed workers (a list of futures).

    Parameters
    ----------
    client : distributed.Client
    blocks : list of distributed.Future
        One future per row block (results of
        :func:`fastreg.dask._block.make_block`, computed from the input graph,
        so that a block lost with its worker is recomputed by the scheduler).
    fan_in : int
        Arity of the summation tree.
    retries : int
        Retries of a task that raised (a worker that dies is handled by the
        scheduler: its tasks and the blocks it held are recomputed elsewhere).
    """

    def __init__(self, client, blocks, fan_in=8, retries=3):
        self.client = client
        self.blocks = list(blocks)
        self.n_blocks = len(self.blocks)
        self.fan_in = fan_in
        self.retries = retries
        self._where = None

    def map_sum(self, fn, *args):
        groups = self._groups()
        if groups is None:                  # blocks not placed yet: one task per block
            return self._map_sum_per_block(fn, *args)
        futures = [self.client.submit(_run_group, fn, idx, self.fan_in, self.n_blocks, args,
                                      *[self.blocks[k] for k in idx], workers=[addr],
                                      allow_other_workers=True, pure=False,
                                      retries=self.retries)
                   for addr, idx in groups]
        nodes, loose = {}, {}
        for (addr, idx), (ran_on, items) in zip(groups, self.client.gather(futures)):
            if ran_on != addr:              # moved (a lost worker): look again next round
                self._where = None
            for kind, k, value in items:
                (nodes if kind == "node" else loose)[k] = value
        f = self.fan_in
        parts = [nodes[j] if j in nodes else
                 sum_results(*[loose[k] for k in range(j * f, min((j + 1) * f, self.n_blocks))])
                 for j in range(-(-self.n_blocks // f))]
        return tree_sum(parts, f)           # the upper levels of the tree: here

    def _groups(self):
        """``[(worker address, [block indices])]`` from the scheduler (cached), or None."""
        if self._where is None or self._where[0] is not self.blocks:
            who = self.client.who_has(self.blocks)
            holders = [who.get(f.key) for f in self.blocks]
            if not all(holders):
                return None
            by = {}
            for k, h in enumerate(holders):
                by.setdefault(sorted(h)[0], []).append(k)
            self._where = (self.blocks, sorted(by.items(), key=lambda item: item[1][0]))
        return self._where[1]

    def _map_sum_per_block(self, fn, *args):
        futures = self.client.map(fn, self.blocks, *[[a] * self.n_blocks for a in args],
                                  pure=False, retries=self.retries)
        while len(futures) > self.fan_in:
            futures = [self.client.submit(sum_results, *futures[i:i + self.fan_in], pure=False,
                                          retries=self.retries)
                       for i in range(0, len(futures), self.fan_in)]
        return sum_results(*self.client.gather(futures))   # the root of the tree: here

    def map(self, fn, per_block, *args):
        futures = self.client.map(fn, self.blocks, list(per_block),
                                  *[[a] * self.n_blocks for a in args],
                                  pure=False, retries=self.retries)
        return self.client.gather(futures)

    def close(self):
        for f in self.blocks:
            f.release()
        self.blocks = []


def _run_group(fn, indices, fan_in, n_blocks, args, *blocks):
    """On one worker: ``fn`` over the blocks it holds; ``(address, items)``.

    The tree's first-level nodes (``fan_in`` consecutive blocks) held entirely
    here are summed here, ``("node", j, sum)``; the blocks of the other nodes
    come back alone, ``("block", k, result)``: the driver completes the same
    tree, so the sum does not depend on which worker holds which block.
    """
    from distributed import get_worker
    results = dict(zip(indices, (fn(block, *args) for block in blocks)))
    items, done = [], set()
    for k in indices:
        j = k // fan_in
        if j in done:
            continue
        members = range(j * fan_in, min((j + 1) * fan_in, n_blocks))
        if all(m in results for m in members):
            items.append(("node", j, sum_results(*[results[m] for m in members])))
            done.add(j)
        else:
            items.append(("block", k, results[k]))
    try:
        address = get_worker().address
    except ValueError:                      # pragma: no cover - not on a worker
        address = None
    return address, items


def token(w, b=0.0):
    """A cheap identifier of an iterate (for the per-block ``X w`` caches)."""
    w = np.asarray(w, dtype=np.float64)
    return hash((w.tobytes(), float(b)))
