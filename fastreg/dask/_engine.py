"""Engine-neutral block interface: map a function over persisted row blocks, sum in a tree.

A driver solver only talks to a :class:`BlockEngine`:

* ``engine.map_sum(fn, *args)`` runs ``fn(block, *args)`` on every block and
  returns the sum of the results (tuples of floats and arrays are summed
  entry by entry), reduced in a fixed tree, so the result is deterministic
  whatever worker ran what;
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
    """Entry-wise sum of two results (floats, arrays, or tuples of them)."""
    if isinstance(a, tuple):
        return tuple(_add(x, y) for x, y in zip(a, b))
    return a + b


def sum_results(*parts):
    """Sum of results in the order given (the fixed order makes the tree deterministic)."""
    total = parts[0]
    for part in parts[1:]:
        total = _add(total, part)
    return total


class BlockEngine:
    """Interface of an engine over row blocks (see the module docstring)."""

    n_blocks = 0
    stats = None      # the sums of :func:`fastreg.dask._block.block_stats`, when known

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
        parts = [fn(block, *args) for block in self.blocks]
        while len(parts) > 1:
            parts = [sum_results(*parts[i:i + self.fan_in])
                     for i in range(0, len(parts), self.fan_in)]
        return parts[0]

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

    def map_sum(self, fn, *args):
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


def token(w, b=0.0):
    """A cheap identifier of an iterate (for the per-block ``X w`` caches)."""
    w = np.asarray(w, dtype=np.float64)
    return hash((w.tobytes(), float(b)))
