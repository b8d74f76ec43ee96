"""Shared helpers for fastreg's benchmark scripts (lasso, path, kernels).

Small, documented API, meant to be reused by every script under ``bench/``:

- :func:`machine_info` -> dict: CPU model, core counts, memory, OS, BLAS/OpenMP
  thread pools.
- :func:`versions` (pkgs) -> dict: installed version of each package (or
  ``"not installed"``), plus Python's.
- :func:`median_time` (fn, repeat, warmup) -> (median, all): wall-clock timing
  with :func:`time.perf_counter`.
- :func:`write_markdown` (path, title, header_dict, tables): a results file with
  a header (machine, versions, date, free text) and markdown tables.
- :func:`markdown_table` (columns, rows) -> str, :func:`fmt_time` (seconds) -> str.
- :func:`use_repo_fastreg` () -> str: import fastreg from this checkout (in-place
  build) when it has one, else the installed package; returns its location.
- :func:`unset_openblas_overrides` (): re-exec the current script without
  ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` if they are set (benchmark
  scripts only; tests never do this).
"""
import datetime
import importlib
import importlib.metadata
import os
import platform
import statistics
import sys
import time

__all__ = ["machine_info", "versions", "median_time", "write_markdown",
           "markdown_table", "fmt_time", "unset_openblas_overrides", "use_repo_fastreg"]

_OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def unset_openblas_overrides():
    """Re-exec the running script once without OpenBLAS core-type/L2 overrides.

    These variables change which kernels OpenBLAS picks and can distort
    timings. They must be removed before numpy is first imported, hence the
    re-exec (``os.execve``) of ``sys.argv`` with a cleaned environment. A
    no-op when neither variable is set.
    """
    if not any(k in os.environ for k in _OPENBLAS_OVERRIDES):
        return
    env = {k: v for k, v in os.environ.items() if k not in _OPENBLAS_OVERRIDES}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def use_repo_fastreg():
    """Put this checkout first on ``sys.path`` so its in-place build is benchmarked.

    Returns the location of the imported ``fastreg`` package, or a message when
    it cannot be imported (the fastreg solver is then skipped by the scripts).
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.isdir(os.path.join(root, "fastreg")) and root not in sys.path:
        sys.path.insert(0, root)
    try:
        import fastreg
    except Exception as exc:
        return f"not importable ({type(exc).__name__}: {exc})"
    return os.path.dirname(fastreg.__file__)


def _read_first(path, key):
    try:
        with open(path) as fh:
            for line in fh:
                if line.lower().startswith(key.lower()):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_info():
    """Describe the machine the benchmark runs on.

    Returns
    -------
    dict
        ``cpu`` (model name), ``logical_cores`` (``os.cpu_count()``),
        ``usable_cores`` (scheduler affinity), ``physical_cores`` (from
        ``/proc/cpuinfo`` when available), ``memory_gb``, ``os``, ``machine``,
        and ``thread_pools`` (BLAS/OpenMP libraries and their thread counts,
        from threadpoolctl when installed).
    """
    info = {}
    cpu = _read_first("/proc/cpuinfo", "model name") or platform.processor() or "unknown"
    info["cpu"] = cpu
    info["logical_cores"] = os.cpu_count()
    try:
        info["usable_cores"] = len(os.sched_getaffinity(0))
    except AttributeError:
        info["usable_cores"] = os.cpu_count()
    try:
        cores = set()
        phys = core = None
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("physical id"):
                    phys = line.split(":")[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":")[1].strip()
                    cores.add((phys, core))
        info["physical_cores"] = len(cores) or None
    except OSError:
        info["physical_cores"] = None
    mem = _read_first("/proc/meminfo", "MemTotal")
    if mem:
        info["memory_gb"] = round(int(mem.split()[0]) / 2**20, 1)
    info["os"] = platform.platform()
    info["machine"] = platform.machine()
    try:
        from threadpoolctl import threadpool_info
        info["thread_pools"] = "; ".join(
            f"{p.get('internal_api')} {p.get('version') or ''} ({p.get('num_threads')} threads)"
            for p in threadpool_info())
    except Exception:  # threadpoolctl missing or failing: not essential
        info["thread_pools"] = "unknown"
    return info


def versions(pkgs):
    """Installed versions of ``pkgs`` (import names), with Python's first.

    Parameters
    ----------
    pkgs : iterable of str
        Import names, e.g. ``["numpy", "sklearn", "celer"]``.

    Returns
    -------
    dict
        ``{"python": "3.11.x", "numpy": "2.4.0", ..., "celer": "not installed"}``.
        The version is the module's ``__version__`` when it has one, else the
        distribution metadata's.
    """
    out = {"python": platform.python_version()}
    dist_names = {"sklearn": "scikit-learn"}
    for name in pkgs:
        try:
            mod = importlib.import_module(name)
        except Exception:
            out[name] = "not installed"
            continue
        ver = getattr(mod, "__version__", None)
        if ver is None:
            try:
                ver = importlib.metadata.version(dist_names.get(name, name))
            except importlib.metadata.PackageNotFoundError:
                ver = "unknown"
        out[name] = str(ver)
    return out


def median_time(fn, repeat=3, warmup=1):
    """Median wall-clock time of ``fn()`` over ``repeat`` calls after ``warmup`` calls.

    Parameters
    ----------
    fn : callable
        Called with no argument; its return value is ignored.
    repeat : int
        Number of timed calls (>= 1).
    warmup : int
        Number of untimed calls made first (compilation, caches, page faults).

    Returns
    -------
    median : float
        Median of the timed calls, in seconds.
    all : list of float
        Every timed call, in call order.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def fmt_time(seconds):
    """Format a duration for a table: 3 significant digits, unit s/ms/us."""
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def markdown_table(columns, rows):
    """Return a GitHub markdown table; cells are converted with ``str``.

    Numeric-looking columns are not aligned specially: format cells before.
    """
    lines = ["| " + " | ".join(str(c) for c in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def write_markdown(path, title, header_dict, tables):
    """Write a results file: title, date, header items, then tables.

    Parameters
    ----------
    path : str or path-like
        Output file (parent folders are created).
    title : str
        First-level heading.
    header_dict : dict
        ``{section name: content}``. A dict content is rendered as a bullet list
        ``- key: value`` (e.g. ``machine_info()``, ``versions(...)``), a string
        as a paragraph (e.g. the protocol).
    tables : list of dict
        Each ``{"title": str, "columns": list, "rows": list of lists}`` with an
        optional ``"notes": str`` printed under the table and an optional
        ``"image": str`` (relative path of a PNG to embed).
    """
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"# {title}", "", f"Date: {now}", ""]
    for name, content in header_dict.items():
        parts.append(f"## {name}")
        parts.append("")
        if isinstance(content, dict):
            parts.extend(f"- {k}: {v}" for k, v in content.items())
        else:
            parts.append(str(content).strip())
        parts.append("")
    for table in tables:
        parts.append(f"## {table['title']}")
        parts.append("")
        parts.append(markdown_table(table["columns"], table["rows"]))
        parts.append("")
        if table.get("notes"):
            parts.append(table["notes"].strip())
            parts.append("")
        if table.get("image"):
            parts.append(f"![{table['title']}]({table['image']})")
            parts.append("")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as fh:
        fh.write("\n".join(parts))
    return path
