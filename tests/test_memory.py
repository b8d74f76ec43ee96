"""Memory (issue 7): repeated fits keep resident memory flat; a fit does not copy X.

- ``test_repeated_fits_flat_rss``: 1000 fits of a small model (Lasso,
  ElasticNet, LogisticRegression, SGDClassifier; alternately on dense F-order X
  and on CSC (CSR for SGD) X) after 50 warm-up fits must grow the resident set by less than
  ``RSS_BOUND`` (2 MiB), and so must the bytes glibc's malloc has in use. X is 200 x 20 float64 (31 KiB): a leaked copy of X,
  of a residual or of any per-fit buffer of a few KiB per fit exceeds the bound;
  ``test_rss_probe_detects_a_leak`` checks that the probe sees a 4 KiB C-level
  (``malloc``) leak per iteration.
- ``test_repeated_fits_no_python_growth``: tracemalloc (numpy reports its buffers
  to it) over 100 Lasso fits on 400 x 20: growth < 64 KiB, i.e. less than one
  retained 400-vector (3.2 KiB) per fit.
- ``test_peak_memory_medium``: the peak resident memory of one fit above the data
  (``bench/memory.py``'s child measurement, in a fresh interpreter) stays below a
  loose bound, ``0.1 size(X) + 32 float64 vectors of length n + p + 1 MiB``, for
  the solvers' native layouts. The benchmark measures 5-23 such vectors
  (residuals, weights, Anderson history) and no multiple of size(X) (see
  ``bench/results/reliability.md``, Memory). A copy of X fails it.
"""
import ctypes
import ctypes.util
import gc
import json
import os
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import fastreg

RSS_BOUND = 2 * 2**20
N_WARMUP, N_FITS = 50, 1000

FAMILIES = {
    "Lasso": (lambda: fastreg.Lasso(alpha=0.05), False, "csc"),
    "ElasticNet": (lambda: fastreg.ElasticNet(alpha=0.05, l1_ratio=0.5), False, "csc"),
    "LogisticRegression": (lambda: fastreg.LogisticRegression(C=1.0), True, "csc"),
    "SGDClassifier": (lambda: fastreg.SGDClassifier(max_iter=5, tol=None, random_state=0),
                      True, "csr"),
}


def _rss():
    """Current resident set size in bytes (/proc/self/statm, else psutil)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        psutil = pytest.importorskip("psutil")
        return psutil.Process().memory_info().rss


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _malloc_in_use():
    """Bytes handed out by glibc's malloc and not freed (``mallinfo2``), or None.

    A long-lived process (the test session) keeps freed heap pages resident, so
    a new leak may reuse them without growing the RSS; the allocator's own count
    of bytes in use sees it anyway.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError, TypeError):
        return None
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return info.uordblks + info.hblkhd


def _growth(step, n, warmup=N_WARMUP):
    """Memory growth (bytes) over ``n`` calls of ``step`` after ``warmup`` calls: the
    larger of the RSS growth and the growth of malloc's bytes in use."""
    for _ in range(warmup):
        step()
    gc.collect()
    before, heap_before = _rss(), _malloc_in_use()
    for _ in range(n):
        step()
    gc.collect()
    grew, heap_after = _rss() - before, _malloc_in_use()
    if heap_before is not None and heap_after is not None:
        grew = max(grew, heap_after - heap_before)
    return grew


def _problem(classifier, n=200, p=20, seed=0):
    rng = np.random.default_rng(seed)
    X = np.asfortranarray(rng.standard_normal((n, p)))
    X[rng.random((n, p)) < 0.3] = 0.0
    t = X[:, :3] @ np.array([1.5, -2.0, 1.0]) + 0.1 * rng.standard_normal(n)
    return X, ((t > 0).astype(np.float64) if classifier else t)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_repeated_fits_flat_rss(family):
    """1000 fits (dense and sparse alternately) and predictions of one small model."""
    make, classifier, fmt = FAMILIES[family]
    X, y = _problem(classifier)
    Xs = sp.csc_matrix(X) if fmt == "csc" else sp.csr_matrix(X)
    data = [X, Xs]
    count = [0]

    def step():
        Xi = data[count[0] % 2]
        count[0] += 1
        make().fit(Xi, y).predict(Xi)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # ConvergenceWarning of SGD's 5 epochs
        grew = _growth(step, N_FITS)
    assert count[0] == N_WARMUP + N_FITS
    assert grew < RSS_BOUND, f"{family}: RSS grew by {grew / 2**20:.2f} MiB over {N_FITS} fits"


def test_rss_probe_detects_a_leak():
    """The probe is not blind: 1000 leaked 4 KiB malloc blocks (touched) exceed the bound."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = []

    def leak():
        ptr = libc.malloc(4096)
        ctypes.memset(ptr, 1, 4096)
        blocks.append(ptr)

    try:
        grew = _growth(leak, N_FITS, warmup=0)
    finally:
        for ptr in blocks:
            libc.free(ptr)
    assert grew >= RSS_BOUND, f"a 4 MiB leak was seen as {grew / 2**20:.2f} MiB"


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_repeated_fits_no_python_growth(sparse):
    X, y = _problem(False, n=400)
    X = sp.csc_matrix(X) if sparse else X
    for _ in range(20):
        fastreg.Lasso(alpha=0.05).fit(X, y)
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(100):
            fastreg.Lasso(alpha=0.05).fit(X, y).predict(X)
        gc.collect()
        grew = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grew < 64 * 2**10, f"traced memory grew by {grew} bytes over 100 fits"


# ---------------------------------------------------------------------------
# peak memory of one fit (fresh interpreter, bench/memory.py's measurement)
# ---------------------------------------------------------------------------
BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
#: (estimator, layout, n, p, density): medium problems, the solvers' native layouts
PEAK_CELLS = [("lasso", "F", 4000, 500, 1.0), ("lasso", "csc", 20000, 2000, 0.05),
              ("logreg", "F", 4000, 500, 1.0), ("sgd", "C", 4000, 500, 1.0)]
_CHILD = """
import json, sys
sys.path.append({bench!r})
import memory
print(json.dumps([memory.child(*cell) for cell in {cells!r}]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_peak_memory_medium():
    if not os.path.isfile(os.path.join(BENCH, "memory.py")):
        pytest.skip("bench/memory.py is not next to tests/ (installed test files only)")
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    proc = subprocess.run([sys.executable, "-c", _CHILD.format(bench=BENCH, cells=PEAK_CELLS)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    bad = []
    for r in json.loads(proc.stdout.strip().splitlines()[-1]):
        bound = 0.1 * r["x_bytes"] + 32 * 8 * (r["n"] + r["p"]) + 2**20
        if r["extra"] > bound:
            bad.append(f"{r['estimator']} {r['layout']} {r['n']}x{r['p']}: extra peak "
                       f"{r['extra'] / 2**20:.1f} MiB > {bound / 2**20:.1f} MiB "
                       f"(size(X) {r['x_bytes'] / 2**20:.1f} MiB)")
    assert not bad, "\n".join(bad)
