"""Time to reach a target duality gap by a sweep of stopping levels (lasso.py, path.py).

A solver is run cold at decreasing stopping levels (decades of ``tol``, or
doublings of ``n_iter``); once a level reaches the target, the geometric
midpoint with the previous level is tried too, so that the resolution is half
a decade of tol (or a factor 1.41 of iterations) for half the cost of trying
every fine level. The level found is re-run so that its time is a median of
``repeat`` runs.
"""
import statistics

import numpy as np


def stop_levels(strategy, first_tol=1e-1, last_tol=1e-14):
    """Coarse levels in order: tol first_tol .. last_tol by decades, or n_iter 1, 2, 4, ..."""
    if strategy == "tolerance":
        k0, k1 = -np.log10(first_tol), -np.log10(last_tol)
        return list(10.0 ** -np.arange(k0, k1 + 0.5))
    return [2 ** k for k in range(24)]


def midpoint(strategy, previous, level):
    """Level halfway (geometrically) between two coarse levels, or None if none."""
    if strategy == "tolerance":
        return float(np.sqrt(previous * level))
    mid = int(round(np.sqrt(previous * level)))
    return mid if previous < mid < level else None


def search_to_target(run_once, strategy, target, budget, repeat, levels=None):
    """Sweep stopping levels until ``run_once(stop) -> (seconds, gap)`` gives gap <= target.

    The sweep stops early when the cumulative time exceeds ``budget``, or when
    the next level (assumed twice as long as the last) would end beyond
    ``2 * budget``.

    Returns
    -------
    dict
        ``curve``: (stop, seconds, gap) of every run, loosest level first;
        ``stop``: the loosest level that reached the target (or None);
        ``times``: the ``repeat`` timings of that level; ``time``: their median
        (None if not reached); ``best_gap``: that level's gap, or the smallest
        gap seen; ``spent``: total seconds run.
    """
    curve, spent = [], 0.0

    def one(stop):
        nonlocal spent
        elapsed, gap = run_once(stop)
        curve.append((stop, elapsed, gap))
        spent += elapsed
        return elapsed, gap

    found, previous = None, None
    for stop in levels or stop_levels(strategy):
        elapsed, gap = one(stop)
        if gap <= target:
            found = (stop, elapsed, gap)
            mid = midpoint(strategy, previous, stop) if previous is not None else None
            if mid is not None:
                m_elapsed, m_gap = one(mid)
                if m_gap <= target:
                    found = (mid, m_elapsed, m_gap)
            break
        if spent > budget or spent + 2 * elapsed > 2 * budget:
            break
        previous = stop
    curve.sort(key=lambda c: c[0] if strategy == "iteration" else -c[0])
    if found is None:
        best = min((g for _, _, g in curve), default=np.inf)
        return dict(curve=curve, stop=None, times=None, time=None, best_gap=best, spent=spent)
    stop, first, gap = found
    times = [first]
    for _ in range(repeat - 1):
        times.append(run_once(stop)[0])
    spent += sum(times[1:])
    return dict(curve=curve, stop=stop, times=times, time=statistics.median(times),
                best_gap=gap, spent=spent)
