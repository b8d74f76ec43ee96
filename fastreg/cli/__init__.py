"""The ``fastreg`` command line (also ``python -m fastreg``).

Subcommands: ``fit``, ``predict``, ``path``, ``bench``, ``demo``; ``fastreg
SUBCOMMAND --help`` documents each. Data files are read by :mod:`fastreg.io`.

Exit codes: 0 success; 1 an error while running (missing or unreadable file,
NaN in the data, wrong number of features, an estimator's error, a failed
benchmark script); 2 a command-line error (unknown option or value, unknown
or unavailable model, an option that does not apply to the model, an invalid
hyperparameter value). Errors are one line on stderr, never a traceback
(``--debug`` shows it). ``--json`` prints one JSON object on stdout;
progress bars go to stderr (only on a terminal, see
:mod:`fastreg._progress`; ``--progress`` forces them, ``-q`` silences them).

Models come from :data:`MODELS`, one line per model: a model whose estimator
is not (yet) in the installed fastreg is reported as not available.

Modules: ``_models`` (the model table and how options become estimator
parameters), ``_fit`` (fit, predict), ``_path`` (path), ``_bench`` (bench),
``_common`` (errors, formatting, warnings, data loading), ``_main`` (the
parser and :func:`main`).
"""
from ._bench import BENCH_SCRIPTS, find_bench_dir
from ._common import EXIT_ERROR, EXIT_USAGE, CLIError, format_table
from ._main import build_parser, main
from ._models import MODELS, ModelSpec

__all__ = ["main", "build_parser", "MODELS", "ModelSpec", "BENCH_SCRIPTS", "find_bench_dir",
           "CLIError", "EXIT_ERROR", "EXIT_USAGE", "format_table"]
