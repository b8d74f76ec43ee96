"""Read data files for the command line: svmlight/libsvm, .npz, .npy, .csv, .mat.

:func:`load_data` returns a :class:`Dataset` ``(X, y, feature_names, fmt, test)``.
The format is recognized from the file's content (after decompression of
``.gz``, ``.bz2`` or ``.xz``), not from its name; ``fmt=`` forces it.

Formats
-------
``svmlight``
    svmlight / libsvm text (``label idx:value ...``), read by scikit-learn's
    :func:`~sklearn.datasets.load_svmlight_file` (indices one-based unless an
    index 0 occurs, scikit-learn's ``zero_based='auto'``). ``X`` is a CSR
    matrix; when ``n_features`` is given (predict, test files) a file with
    fewer features is padded with zero columns.
``npz`` (numpy ``savez``)
    Keys ``X`` and ``y`` (``y`` optional where no target is needed), or
    ``X_train``/``y_train`` with optionally ``X_test``/``y_test``: the train
    part is the data, the test part is returned as ``Dataset.test`` (``fastreg
    fit`` scores on it when ``--test`` is not given; ``fastreg predict``
    predicts ``X``, else ``X_test``, else ``X_train``). An optional
    ``feature_names`` key names the columns. Files are read without pickle.
``npz`` (``scipy.sparse.save_npz``)
    One sparse matrix, with the same target convention as ``.npy``.
``npy``
    One 2-D array. Where a target is needed, it is the last column (or the
    column ``target``). In ``predict`` (``n_features`` given) an array with
    exactly ``n_features`` columns is ``X`` only, one with ``n_features + 1``
    columns holds the target in its last column (or in column ``target``).
``csv``
    Delimited text (``,``, ``;``, tab or spaces, from the first line). The
    first line is a header when one of its fields is not a number. The target
    is the last column unless ``target`` names a column (header name or
    index, negative indices count from the end); in ``predict`` the same rule
    as ``.npy`` applies. Empty, ``NA``, ``NaN`` and ``?`` fields are missing
    values, rejected as NaN. A target column of non-numbers is kept as
    strings (class labels).
``mat``
    A MATLAB file (read by :func:`scipy.io.loadmat`) with a variable ``X``
    (dense or sparse) and the target ``y`` or ``Y``.

Every value of ``X`` and ``y`` must be finite: NaN or infinity raises a
:class:`DataError` naming the first offending row and column.
"""
import bz2
import gzip
import lzma
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["DataError", "Dataset", "FORMATS", "detect_format", "load_data"]

FORMATS = ("svmlight", "npz", "npy", "csv", "mat")
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_MISSING = {"", "na", "nan", "n/a", "null", "none", "?"}
_SVM_TOKEN = re.compile(r"^(qid:)?-?\d+:\S+$")


class DataError(ValueError):
    """A data file could not be used; the message names the file and the problem."""


@dataclass
class Dataset:
    """A data file's content: ``X`` (dense array or CSR/CSC matrix), ``y`` (or None)."""

    X: Any
    y: Any
    feature_names: Any = None
    fmt: str = ""
    test: Any = None   # a Dataset: the X_test/y_test part of an npz file, or None

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def n_features(self):
        return self.X.shape[1]


def _open(path, mode="rb"):
    opener = _OPENERS.get(os.path.splitext(path)[1].lower())
    if opener is None:
        return open(path, mode)
    return opener(path, mode) if mode == "rb" else opener(path, "rt", encoding="utf-8",
                                                           errors="replace", newline="")


def _first_bytes(path, n=8192):
    try:
        with _open(path) as fh:
            return fh.read(n)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise DataError(f"{path}: cannot read the file ({exc})") from None


def detect_format(path):
    """The format of ``path`` (one of :data:`FORMATS`), from its first bytes.

    Zip archives are ``npz``, numpy's magic string is ``npy``; text whose
    first data line is ``label idx:value ...`` is ``svmlight``, other text
    ``csv``.
    """
    head = _first_bytes(path)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "npz"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"MATLAB"):
        return "mat"
    if b"\x00" in head:
        raise DataError(f"{path}: unreadable format (binary data that is not .npy/.npz)")
    text = head.decode("utf-8", "replace")
    if len(head) == 8192:   # drop the partial last line (or the partial last token)
        cut = text.rfind("\n")
        text = text[:cut] if cut > 0 else text[:max(map(text.rfind, " ,;\t"))]
    lines = [ln.strip() for ln in text.splitlines()[:50]]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise DataError(f"{path}: the file is empty")
    svm_like = multi = 0
    for ln in lines[:20]:
        tokens = ln.split("#", 1)[0].split()
        if tokens and ":" not in tokens[0] and all(_SVM_TOKEN.match(t) for t in tokens[1:]):
            svm_like += 1
            multi += len(tokens) > 1
    return "svmlight" if svm_like == len(lines[:20]) and multi else "csv"


def load_data(path, *, fmt=None, target=None, n_features=None, require_target=True):
    """Read a data file.

    Parameters
    ----------
    path : str
        The file (``.gz``, ``.bz2`` and ``.xz`` are decompressed on the fly).
    fmt : {'svmlight', 'npz', 'npy', 'csv', 'mat'} or None
        Force the format; None recognizes it from the content.
    target : str, int or None
        csv/npy: the target column (name or index); None is the last column.
    n_features : int or None
        The number of features the data must have (``predict``, test files):
        decides whether a csv/npy file holds a target column, pads svmlight
        files, and raises :class:`DataError` on a mismatch.
    require_target : bool
        Raise :class:`DataError` when the file holds no target.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        Missing or unreadable file, unknown format, wrong number of features,
        NaN or infinite values, no target where one is required.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, not a data file")
    fmt = detect_format(path) if fmt is None else fmt
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    reader = {"svmlight": _read_svmlight, "npz": _read_npz, "npy": _read_npy,
              "csv": _read_csv, "mat": _read_mat}[fmt]
    data = reader(path, target=target, n_features=n_features, require_target=require_target)
    data.fmt = fmt
    for part, name in ((data, ""), (data.test, " (test part)")):
        if part is None:
            continue
        _check_features(path + name, part.X, n_features)
        _check_finite(path + name, part.X, "X")
        if part.y is not None and part.y.dtype.kind in "fc":
            _check_finite(path + name, part.y, "y")
        if part.y is not None and part.y.shape[0] != part.X.shape[0]:
            raise DataError(f"{path}{name}: X has {part.X.shape[0]} rows but y has "
                            f"{part.y.shape[0]}")
    if require_target and data.y is None:
        raise DataError(f"{path}: no target found (see `fastreg fit --help` for where "
                        "each format keeps its target)")
    if data.X.shape[0] == 0:
        raise DataError(f"{path}: no data rows")
    return data


def _check_features(path, X, n_features):
    if n_features is not None and X.shape[1] != n_features:
        raise DataError(f"{path}: wrong number of features: the data has {X.shape[1]}, "
                        f"the model expects {n_features}")


def _check_finite(path, A, name):
    values = A.data if sp.issparse(A) else A
    if values.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    kind = "NaN (missing value)" if np.isnan(values[bad]).any() else "infinite value"
    if sp.issparse(A):
        coo = A.tocoo()
        k = np.flatnonzero(~np.isfinite(coo.data))[0]
        where = f"row {coo.row[k]}, column {coo.col[k]}"
    else:
        idx = np.argwhere(bad)[0]
        where = f"row {idx[0]}" + (f", column {idx[1]}" if idx.size > 1 else "")
    raise DataError(f"{path}: {kind} in {name} at {where} (rows and columns counted from 0); "
                    "remove or impute missing values first")


# -- readers ----------------------------------------------------------------------------
def _read_svmlight(path, *, target, n_features, require_target):
    from sklearn.datasets import load_svmlight_file

    if target is not None:
        raise DataError(f"{path}: --target does not apply to svmlight files (the label "
                        "comes first on each line)")
    try:
        X, y = load_svmlight_file(path, dtype=np.float64)
    except (ValueError, OSError, EOFError, lzma.LZMAError) as exc:
        raise DataError(f"{path}: not a valid svmlight/libsvm file ({exc})") from None
    if n_features is not None and X.shape[1] < n_features:
        X = sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], n_features))
    return Dataset(X, y)


def _split_target(path, A, target, n_features, require_target, names=None):
    """Split the columns of ``A`` into X and y by the target rules of csv/npy."""
    n_cols = A.shape[1]
    if target is None and not require_target and n_features is not None:
        if n_cols == n_features:
            return A, None, names
        if n_cols != n_features + 1:
            raise DataError(f"{path}: wrong number of features: the data has {n_cols} "
                            f"columns, the model expects {n_features} (or {n_features + 1} "
                            "with the target last)")
    if target is None and not require_target and n_features is None:
        return A, None, names
    j = _target_index(path, target, n_cols, names)
    keep = [k for k in range(n_cols) if k != j]
    y = A[:, j]
    y = np.asarray(y.toarray()).ravel() if sp.issparse(y) else np.asarray(y)
    X = A.tocsc()[:, keep].tocsr() if sp.issparse(A) else A[:, keep]
    return X, y, None if names is None else [names[k] for k in keep]


def _target_index(path, target, n_cols, names):
    if n_cols < 2:
        raise DataError(f"{path}: {n_cols} column: need at least one feature and the target")
    if target is None:
        return n_cols - 1
    if names is not None and str(target) in names:
        return names.index(str(target))
    try:
        j = int(target)
    except ValueError:
        have = f"; columns: {', '.join(names[:20])}" if names else " (the file has no header)"
        raise DataError(f"{path}: no column named {target!r}{have}") from None
    if not -n_cols <= j < n_cols:
        raise DataError(f"{path}: target column {j} out of range ({n_cols} columns)")
    return j % n_cols


def _read_npy(path, *, target, n_features, require_target):
    try:
        with _open(path) as fh:
            A = np.load(fh, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy file ({exc})") from None
    if A.ndim != 2:
        raise DataError(f"{path}: a .npy file must hold a 2-D array, got shape {A.shape}")
    if A.dtype.kind not in "biuf":
        raise DataError(f"{path}: a .npy file must hold numbers, got dtype {A.dtype}")
    X, y, _ = _split_target(path, A.astype(np.float64, copy=False), target, n_features,
                            require_target)
    return Dataset(X, y)


def _read_npz(path, *, target, n_features, require_target):
    try:
        with _open(path) as fh:
            z = np.load(fh, allow_pickle=False)
            arrays = {k: z[k] for k in z.files}
    except ValueError as exc:
        raise DataError(f"{path}: cannot read the .npz file without pickle ({exc})") from None
    except (OSError, EOFError, KeyError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    if "format" in arrays and "shape" in arrays and "data" in arrays:   # scipy.sparse.save_npz
        try:
            with _open(path) as fh:
                A = sp.load_npz(fh).tocsr().astype(np.float64)
        except (ValueError, OSError) as exc:
            raise DataError(f"{path}: not a readable sparse .npz file ({exc})") from None
        X, y, _ = _split_target(path, A, target, n_features, require_target)
        return Dataset(X, y)
    if target is not None:
        raise DataError(f"{path}: --target does not apply to .npz files (the target is "
                        "the key 'y' or 'y_train')")
    names = arrays.get("feature_names")
    names = None if names is None else [str(s) for s in names]

    def part(xkey, ykey):
        X = _numeric(path, xkey, arrays[xkey])
        if X.ndim != 2:
            raise DataError(f"{path}: '{xkey}' must be a 2-D array, got shape {X.shape}")
        y = arrays.get(ykey)
        if y is not None:
            y = np.asarray(y).ravel() if y.ndim == 2 and 1 in y.shape else y
            if y.ndim != 1:
                raise DataError(f"{path}: '{ykey}' must be 1-D, got shape {y.shape}")
            if y.dtype.kind in "biu":
                y = y.astype(np.float64)
        return Dataset(X, y, names)

    if "X" in arrays:
        data = part("X", "y")
        if "X_test" in arrays:
            data.test = part("X_test", "y_test")
        return data
    if "X_train" in arrays:
        data = part("X_train", "y_train")
        if "X_test" in arrays:
            data.test = part("X_test", "y_test")
        if not require_target and data.test is not None:   # predict: the test part
            data.X, data.y = data.test.X, data.test.y
            data.test = None
        return data
    raise DataError(f"{path}: an .npz file needs the keys 'X' (and 'y'), or 'X_train' "
                    f"(and 'y_train'); found {', '.join(sorted(arrays)) or 'none'}")


def _read_mat(path, *, target, n_features, require_target):
    import scipy.io

    try:
        with _open(path) as fh:
            d = scipy.io.loadmat(fh)
    except (ValueError, OSError, NotImplementedError, TypeError) as exc:
        raise DataError(f"{path}: not a readable MATLAB .mat file ({exc})") from None
    if "X" not in d:
        raise DataError(f"{path}: a .mat file needs a variable 'X' (and 'y' or 'Y')")
    X = d["X"]
    X = X.tocsr().astype(np.float64) if sp.issparse(X) else _numeric(path, "X", X)
    y = d.get("y", d.get("Y"))
    if y is not None:
        y = _numeric(path, "y", np.asarray(y.toarray() if sp.issparse(y) else y)).ravel()
    return Dataset(X, y)


def _numeric(path, key, A):
    if A.dtype.kind not in "biuf":
        raise DataError(f"{path}: '{key}' must hold numbers, got dtype {A.dtype}")
    return A.astype(np.float64, copy=False)


def _read_csv(path, *, target, n_features, require_target):
    import csv

    try:
        with _open(path, "rt") as fh:
            text = fh.read()
    except (OSError, EOFError, lzma.LZMAError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the file ({exc})") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(f"{path}: the file is empty")
    first = lines[0]
    delim = next((d for d in (",", ";", "\t") if d in first), None)
    if delim is None:
        rows = [[c.strip('"') for c in ln.split()] for ln in lines]
    else:
        rows = [[c.strip() for c in r] for r in csv.reader(lines, delimiter=delim)]
    names = None
    if any(not _is_number(c) for c in rows[0]):
        names = [c.strip('"') for c in rows[0]]
        rows = rows[1:]
    if not rows:
        raise DataError(f"{path}: no data rows")
    n_cols = len(rows[0]) if names is None else len(names)
    for i, r in enumerate(rows):
        if len(r) != n_cols:
            raise DataError(f"{path}: line {i + 1 + (names is not None)} has {len(r)} fields, "
                            f"expected {n_cols}")
    try:   # fast path: all numbers
        A = np.loadtxt(lines[names is not None:], delimiter=delim, dtype=np.float64, ndmin=2,
                       comments=None, quotechar='"')
    except ValueError:
        A = None
    if A is not None and A.shape[1] == n_cols:
        X, y, names = _split_target(path, A, target, n_features, require_target, names)
        return Dataset(X, y, names)
    cells = np.array(rows, dtype=object)
    X_cells, y_cells, names = _split_target(path, cells, target, n_features, require_target,
                                            names)
    X = _parse_block(path, X_cells, names)
    y = None
    if y_cells is not None:
        try:
            y = _parse_block(path, y_cells[:, None], None)[:, 0]
        except DataError:
            if any(str(c).strip().lower() in _MISSING for c in y_cells):
                raise DataError(f"{path}: missing value in the target column") from None
            y = np.asarray([str(c).strip('"') for c in y_cells])     # class labels
    return Dataset(X, y, names)


def _is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return s.strip().lower() in _MISSING


def _parse_block(path, cells, names):
    try:
        return np.array(cells, dtype=np.float64)
    except ValueError:
        pass
    out = np.empty(cells.shape)
    for (i, j), c in np.ndenumerate(cells):
        s = str(c).strip()
        if s.lower() in _MISSING:
            out[i, j] = np.nan
            continue
        try:
            out[i, j] = float(s)
        except ValueError:
            col = f"column {j}" + (f" ({names[j]!r})" if names else "")
            raise DataError(f"{path}: cannot read {s!r} as a number (data row {i}, {col})"
                            ) from None
    return out
