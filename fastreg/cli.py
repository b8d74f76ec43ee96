"""The ``fastreg`` command line (also ``python -m fastreg``)."""
import argparse
import json
import sys


def _format_value(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def format_table(rows):
    """Render a list of dicts (same keys) as an aligned plain-text table."""
    if not rows:
        return "(no rows)"
    keys = list(rows[0])
    cells = [[_format_value(r.get(k, "")) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    line = "  ".join(k.ljust(w) for k, w in zip(keys, widths))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join([line, sep, *body])


def _cmd_demo(args):
    from . import demo

    names = args.sections or list(demo.SECTIONS)
    unknown = [n for n in names if n not in demo.SECTIONS]
    if unknown:
        raise SystemExit(f"fastreg demo: unknown section {unknown[0]!r} "
                         f"(choose from {', '.join(demo.SECTIONS)})")
    results = {}
    for name in names:
        title, fn = demo.SECTIONS[name]
        if not args.quiet and not args.json:
            print(f"\n== {title}", flush=True)
        rows = fn()
        results[name] = rows
        if not args.json:
            print(format_table(rows), flush=True)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastreg",
        description="Fast, certified solvers for sparse and regularized linear models.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run the main job on built-in datasets (no file needed)",
                       description="Fit fastreg's kernels, optimizers and models next to the "
                                   "scipy reference and scikit-learn on built-in data.")
    p.add_argument("sections", nargs="*", help="sections to run (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-q", "--quiet", action="store_true", help="tables only")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv=None):
    """Entry point of the ``fastreg`` console script."""
    args = build_parser().parse_args(argv)
    return args.func(args)
