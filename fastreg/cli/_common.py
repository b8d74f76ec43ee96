"""Shared pieces of the command line: errors, output formatting, warnings, data loading."""
import contextlib
import json
import math
import os
import sys
import warnings

from .._progress import Progress, progress_enabled


EXIT_ERROR, EXIT_USAGE = 1, 2


class CLIError(Exception):
    """An error reported as one line on stderr, with exit code ``code``."""

    def __init__(self, message, code=EXIT_ERROR):
        super().__init__(message)
        self.code = code


def format_value(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def format_table(rows):
    """Render a list of dicts (same keys) as an aligned plain-text table."""
    if not rows:
        return "(no rows)"
    keys = list(rows[0])
    cells = [[format_value(r.get(k, "")) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    line = "  ".join(k.ljust(w) for k, w in zip(keys, widths))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join([line, sep, *body])


def format_fields(fields):
    """``key  value`` lines, aligned; None values are left out."""
    items = [(k, v) for k, v in fields.items() if v is not None and not isinstance(v, dict)]
    width = max(len(k) for k, _ in items)
    return "\n".join(f"{k.ljust(width)}  {format_value(v)}" for k, v in items)


def jsonable(obj):
    """Plain JSON types (numpy scalars and arrays converted; NaN and inf -> None)."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def emit_json(result):
    json.dump(jsonable(result), sys.stdout, indent=2, allow_nan=False)
    print()


def progress_bar(args, total=None, desc=""):
    return Progress(total, desc, enabled=progress_enabled(args.quiet, args.progress),
                    force=args.progress)


@contextlib.contextmanager
def collect_warnings(sink):
    """Record warnings into ``sink`` (messages, deduplicated); printed by the caller."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        msg = f"{w.category.__name__}: {' '.join(str(w.message).split())}"
        if msg not in sink:
            sink.append(msg)


def print_warnings(args, messages):
    if not args.quiet and not args.json:
        for msg in messages:
            print(f"warning: {msg}", file=sys.stderr)


def load_data_file(args, path, **kwargs):
    from ..io import load_data

    return load_data(path, fmt=args.format, target=args.target, **kwargs)


def score_name(est):
    from sklearn.base import is_classifier

    return "accuracy" if is_classifier(est) else "r2"


def scalar_or_none(v):
    import numpy as np

    if v is None:
        return None
    a = np.asarray(v)
    if a.dtype == object:
        return None
    return a.item() if a.size == 1 else a.tolist()


def check_writable(path):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"cannot write {path}: no such folder {folder}")


def import_pyplot(option="--plot"):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CLIError(f"{option} needs matplotlib, which is not installed "
                       "(pip install matplotlib)") from None
    return plt
