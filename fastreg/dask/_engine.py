"""Engine-neutral block interface: map a function over persisted row blocks, sum in a tree.

A driver solver only talks to a :class:`BlockEngine`:

* ``engine.map_sum(fn, *args)`` runs ``fn(block, *args)`` on every block and
  returns the sum of the results (tuples of floats and arrays are summed
  entry by entry), reduced in a fixed tree, so the result is deterministic
  whatever worker ran what (the Dask engine makes one call per worker per
  round, over the blocks that worker holds: the fixed cost of a call, not
  the kernels, dominates a round of moderate size);
* ``engine.map(fn, args_per_block, *args)`` returns the per-block results as
  a list (ADMM's local solves, one ``n_features`` vector per block).

Two engines: :class:`DaskEngine` (dask.distributed; blocks persisted on the
workers as futures; a round is one call per worker to a :class:`BlockHost`
actor there, which reads the blocks from the worker's memory: an actor call
costs a few milliseconds of scheduler and worker CPU, a task several times
more, which on a small cluster is most of a round; any failure of an actor
call (a lost worker, a moved block) reruns the round as tasks, which the
scheduler retries and recomputes; only the arguments and the
``n_features``-sized results travel) and
:class:`SerialEngine` (the blocks in this process; for tests and debugging).
Another engine (Ray, Spark, ...) implements the same three methods.
"""
import functools

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
    sq = None         # X^T (s x^2) from the build round, when computed
    classes = None    # the sorted labels of a classifier's y, when the blocks encode them
    prepare = None    # (fn, args): ``fn(block, *args)`` runs before every mapped function

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
        fn = _with_prepare(self.prepare, fn)
        return tree_sum([fn(block, *args) for block in self.blocks], self.fan_in)

    def map(self, fn, per_block, *args):
        fn = _with_prepare(self.prepare, fn)
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
    hosts : bool
        Start one :class:`BlockHost` actor per worker and run the rounds through them
        (else every round is tasks). Only with the default client: an actor handle binds
        itself to the default client (``distributed.Actor``), whose calls on another
        client's actors never return.
    rows : list of int, optional
        Rows per block: the weights that balance the rounds when a block is held by
        several workers (a copy made for a task): each round runs it where the load is
        lowest so far (default: equal weights).
    workers : list of str, optional
        The workers' addresses, one actor each (default: asked from the scheduler).

    The first round waits until the blocks are built and the actors started, then
    looks the blocks up where the scheduler put them: a round is never a task that
    the scheduler could run on another worker (work stealing), copying a block there
    and unbalancing the later rounds. The actors are requested first in their workers'
    queues (:data:`ACTOR_PRIORITY`, ahead of the block builds) and known by the
    address they run at: a worker that finished its builds early once stole the
    actor queued behind another worker's builds, whose round then failed and was rerun,
    whole, as tasks. A worker without an actor runs its part of a round as a task, the
    others stay actor calls.
    """

    def __init__(self, client, blocks, fan_in=8, retries=3, hosts=True, rows=None,
                 workers=None):
        self.client = client
        self.blocks = list(blocks)
        self.n_blocks = len(self.blocks)
        self.rows = [1] * self.n_blocks if rows is None else list(rows)
        self.fan_in = fan_in
        self.retries = retries
        self._where = None
        self._fresh = True                  # no round yet: the blocks are still being built
        hosts = hosts and _is_default(client)
        self._hosts = None if hosts else {}
        self._host_futures = []
        if hosts:                           # started with the blocks, collected by the first round
            try:
                if workers is None:
                    workers = client.scheduler_info()["workers"]
                self._host_futures = [
                    (addr, client.submit(BlockHost, actor=True, workers=[addr],
                                         allow_other_workers=True, pure=False,
                                         priority=ACTOR_PRIORITY))
                    for addr in sorted(workers)]
            except Exception:               # pragma: no cover - no actors: every round is tasks
                self._hosts = {}

    def map_sum(self, fn, *args):
        fn = _with_prepare(self.prepare, fn)
        if self._fresh:
            self._fresh = False
            self._start()
        groups = self._groups()
        if groups is None:                  # a block not in memory (failed): one task per block
            return self._map_sum_per_block(fn, *args)
        results = self._run_groups(fn, groups, args)
        nodes, loose = {}, {}
        for (addr, idx), (ran_on, items) in zip(groups, results):
            if ran_on != addr:              # moved (a lost worker): look again next round
                self._where = None
            for kind, k, value in items:
                (nodes if kind == "node" else loose)[k] = value
        f = self.fan_in
        parts = [nodes[j] if j in nodes else
                 sum_results(*[loose[k] for k in range(j * f, min((j + 1) * f, self.n_blocks))])
                 for j in range(-(-self.n_blocks // f))]
        return tree_sum(parts, f)           # the upper levels of the tree: here

    def _run_groups(self, fn, groups, args):
        """The round's per-worker results ``(address, items)``, in the order of ``groups``:
        one :class:`BlockHost` actor call per worker that has an actor, one task (retried
        by the scheduler) per worker that has none. If an actor call fails (a lost
        worker, a moved block), the actors are dropped, the placement is looked up again
        and the whole round is rerun as tasks; every call is waited for first, so no call
        still runs on a block when the tasks start."""
        hosts = self._hosts or {}

        def task(addr, idx):
            return self.client.submit(_run_group, fn, idx, self.fan_in, self.n_blocks, args,
                                      *[self.blocks[k] for k in idx], workers=[addr],
                                      allow_other_workers=True, pure=False,
                                      retries=self.retries)

        tasks = {i: task(addr, idx) for i, (addr, idx) in enumerate(groups)
                 if addr not in hosts}
        results, calls, failed = [None] * len(groups), {}, False
        try:
            for i, (addr, idx) in enumerate(groups):
                if addr in hosts:
                    calls[i] = hosts[addr].run(fn, [self.blocks[k].key for k in idx], idx,
                                               self.fan_in, self.n_blocks, args)
        except Exception:                   # a lost actor: noticed when calling it
            failed = True
        for i, call in calls.items():
            try:
                results[i] = call.result()
            except Exception:
                failed = True
        if failed:
            self._hosts, self._where = {}, None
            tasks.update({i: task(addr, idx) for i, (addr, idx) in enumerate(groups)
                          if i not in tasks})
        for i, out in zip(tasks, self.client.gather(list(tasks.values()))):
            results[i] = out
        return results

    def _groups(self):
        """``[(worker address, [block indices])]`` from the scheduler (cached), or None."""
        if self._where is None or self._where[0] is not self.blocks:
            who = self.client.who_has(self.blocks)
            holders = [who.get(f.key) for f in self.blocks]
            if not all(holders):
                return None
            self._place(least_loaded_holders(holders, self.rows))
        return self._where[1]

    def _place(self, addresses):
        """Record block ``k`` as held by ``addresses[k]``."""
        by = {}
        for k, addr in enumerate(addresses):
            by.setdefault(addr, []).append(k)
        self._where = (self.blocks, sorted(by.items(), key=lambda item: item[1][0]))

    def _map_sum_per_block(self, fn, *args):
        """One task per block and a tree of sums on the workers; the leaves also report where
        they ran, which places the blocks for the next rounds."""
        located = functools.partial(_located, fn)
        futures = self.client.map(located, self.blocks, *[[a] * self.n_blocks for a in args],
                                  range(self.n_blocks), pure=False, retries=self.retries)
        while len(futures) > self.fan_in:
            futures = [self.client.submit(_sum_located, *futures[i:i + self.fan_in], pure=False,
                                          retries=self.retries)
                       for i in range(0, len(futures), self.fan_in)]
        where, total = _sum_located(*self.client.gather(futures))
        if len(where) == self.n_blocks and all(where.values()):
            self._place([where[k] for k in range(self.n_blocks)])
        return total

    def _start(self):
        """Wait until the blocks are built (a block that failed to build raises in the round
        that follows) and collect the actors (a lost actor leaves the engine without actors:
        every round is then tasks)."""
        from distributed import wait
        pending, self._host_futures = self._host_futures, []
        if pending:                         # first in the queues: ready while blocks build
            try:
                got = self.client.gather([fut for _, fut in pending])
                # keyed by where each actor runs (a loose restriction: maybe not where asked)
                self._hosts = {getattr(actor, "_address", addr): actor
                               for (addr, _), actor in zip(pending, got)}
            except Exception:               # a lost actor
                self._hosts = {}
        wait(self.blocks)

    def map(self, fn, per_block, *args):
        fn = _with_prepare(self.prepare, fn)
        futures = self.client.map(fn, self.blocks, list(per_block),
                                  *[[a] * self.n_blocks for a in args],
                                  pure=False, retries=self.retries)
        return self.client.gather(futures)

    def close(self):
        for f in self.blocks:
            f.release()
        self.blocks = []
        self._hosts, self._host_futures = None, []


ACTOR_PRIORITY = 100        # above the block builds' (0): actors start first on their worker


class BlockHost:
    """Actor on one worker: a round over the blocks this worker holds, read from its memory.

    An actor call goes from the client to the worker without the scheduler's task
    bookkeeping (the blocks stay futures of the client, so a lost worker's blocks are
    still recomputed by the scheduler: :class:`DaskEngine` then reruns the round as tasks).
    """

    def __init__(self):
        from distributed import get_worker
        self._worker = get_worker()

    def run(self, fn, keys, indices, fan_in, n_blocks, args):
        """:func:`_run_group` over the blocks ``keys`` (KeyError if one is not held here)."""
        data = self._worker.data
        blocks = [data[key] for key in keys]
        return self._worker.address, _group_items(fn, indices, fan_in, n_blocks, args, blocks)


def _is_default(client):
    """Whether ``client`` is the one ``distributed.default_client()`` returns."""
    from distributed import default_client
    try:
        return default_client() is client
    except ValueError:
        return False


def least_loaded_holders(holders, rows):
    """One holder per block (``holders[k]``: the addresses holding block ``k``): a block
    held once stays there; a block held by several workers goes to the holder with the
    fewest rows so far (blocks in order; ties: the smallest address)."""
    load = {}
    for h, r in zip(holders, rows):
        if len(h) == 1:
            a = next(iter(h))
            load[a] = load.get(a, 0) + r
    out = []
    for h, r in zip(holders, rows):
        a = next(iter(h))
        if len(h) > 1:
            a = min(sorted(h), key=lambda x: load.get(x, 0))
            load[a] = load.get(a, 0) + r
        out.append(a)
    return out


def _prepared(prepare, fn, block, *args):
    prepare[0](block, *prepare[1])
    return fn(block, *args)


def _with_prepare(prepare, fn):
    """``fn`` preceded by ``prepare = (g, args)``: ``g(block, *args)`` (None: ``fn``)."""
    return fn if prepare is None else functools.partial(_prepared, prepare, fn)


def _address():
    from distributed import get_worker
    try:
        return get_worker().address
    except ValueError:                      # pragma: no cover - not on a worker
        return None


def _located(fn, block, *args):
    """``({k: worker address}, fn(block, *args[:-1]))`` (``k = args[-1]``, the block index)."""
    return {args[-1]: _address()}, fn(block, *args[:-1])


def _sum_located(*parts):
    where = {}
    for part in parts:
        where.update(part[0])
    return where, sum_results(*[part[1] for part in parts])


def _group_items(fn, indices, fan_in, n_blocks, args, blocks):
    """``fn`` over ``blocks`` (indices ``indices``): the tree's first-level nodes
    (``fan_in`` consecutive blocks) held entirely here are summed here, ``("node", j, sum)``;
    the blocks of the other nodes come back alone, ``("block", k, result)``: the driver
    completes the same tree, so the sum does not depend on which worker holds which block."""
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
    return items


def _run_group(fn, indices, fan_in, n_blocks, args, *blocks):
    """On one worker (a task): ``(address, items)`` of :func:`_group_items`."""
    return _address(), _group_items(fn, indices, fan_in, n_blocks, args, blocks)


def token(w, b=0.0):
    """A cheap identifier of an iterate (for the per-block ``X w`` caches)."""
    w = np.asarray(w, dtype=np.float64)
    return hash((w.tobytes(), float(b)))
