"""``fastreg bench``: run the benchmark scripts and gather a Markdown report."""
import os
import re
import subprocess
import sys
import time

from ._common import CLIError, EXIT_ERROR, EXIT_USAGE, emit_json, format_table, progress_bar


# Benchmark scripts of the repository's bench/ folder: name -> (script, arguments(out, quick)).
BENCH_SCRIPTS = {
    "kernels": ("kernels.py", lambda out: ["--output", os.path.join(out, "kernels.md")]),
    "lasso": ("lasso.py", lambda out: ["--out", out]),
    "path": ("path.py", lambda out: ["--out", out]),
    "stochastic": ("stochastic.py", lambda out: ["--out", out]),
    "logreg": ("logreg.py", lambda out: ["--out", out]),
    "memory": ("memory.py", lambda out: ["--out", os.path.join(out, "memory.md")]),
    "threads": ("threads.py", lambda out: ["--out", os.path.join(out, "threads.md")]),
}


def find_bench_dir(explicit=None):
    """The benchmark folder: ``explicit``, else ``$FASTREG_BENCH_DIR``, else the
    suite installed with the package (``fastreg/bench``), else the ``bench/``
    folder of a source checkout with an in-place build. Raises
    :class:`CLIError` when none holds the scripts."""
    import fastreg

    if explicit:
        candidates = [explicit]
    elif os.environ.get("FASTREG_BENCH_DIR"):
        candidates = [os.environ["FASTREG_BENCH_DIR"]]
    else:
        package = os.path.dirname(os.path.abspath(fastreg.__file__))
        candidates = [os.path.join(package, "bench"),
                      os.path.join(os.path.dirname(package), "bench")]
    for folder in candidates:
        if any(os.path.isfile(os.path.join(folder, s)) for s, _ in BENCH_SCRIPTS.values()):
            return os.path.abspath(folder)
    raise CLIError(f"no benchmark scripts in {' or '.join(candidates)}: reinstall fastreg, "
                   "or pass --bench-dir PATH/TO/fastreg/bench (or set FASTREG_BENCH_DIR)")


def cmd_bench(args):
    bench_dir = find_bench_dir(args.bench_dir)
    names = list(BENCH_SCRIPTS) if not args.only else [s.strip() for s in args.only.split(",")]
    for name in names:
        if name not in BENCH_SCRIPTS:
            raise CLIError(f"unknown benchmark {name!r} "
                           f"(choose from {', '.join(BENCH_SCRIPTS)})", EXIT_USAGE)
    names = [n for n in names if os.path.isfile(os.path.join(bench_dir, BENCH_SCRIPTS[n][0]))]
    if not names:
        raise CLIError(f"none of the selected benchmark scripts is in {bench_dir}")
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    runs = []
    with progress_bar(args, total=len(names), desc="bench") as bar:
        for i, name in enumerate(names):
            bar.set(i, desc=f"bench {name}")
            runs.append(_run_bench_script(args, bench_dir, name, out, bar))
        bar.set(len(names))
    report = _write_bench_report(args, out, bench_dir, runs)
    result = dict(command="bench", bench_dir=bench_dir, quick=args.quick, out=out,
                  report=report, scripts=runs)
    if args.json:
        emit_json(result)
    else:
        if not args.quiet:
            print(format_table([{k: r[k] for k in ("name", "status", "time_s", "markdown")}
                                for r in runs]))
        print(f"wrote {report}")
    failed = [r["name"] for r in runs if r["status"] != "ok"]
    if failed:
        print(f"fastreg bench: error: benchmark(s) failed: {', '.join(failed)} "
              f"(see {report})", file=sys.stderr)
        return EXIT_ERROR
    return 0


def _run_bench_script(args, bench_dir, name, out, bar):
    script, extra = BENCH_SCRIPTS[name]
    cmd = [sys.executable, os.path.join(bench_dir, script), *extra(out)]
    if args.quick:
        cmd.append("--quick")
    before = _listing(out)
    tail = []
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, cwd=bench_dir, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
    except OSError as exc:
        raise CLIError(f"cannot run {script}: {exc}") from None
    for line in proc.stdout:
        tail = (tail + [line.rstrip()])[-20:]
        if not args.quiet and not args.json:
            bar.write(f"[{name}] {line.rstrip()}")
    code = proc.wait()
    elapsed = time.perf_counter() - t0
    produced = sorted(f for f, mtime in _listing(out).items() if before.get(f) != mtime)
    return dict(name=name, script=script, command=" ".join(cmd), returncode=code,
                status="ok" if code == 0 else f"failed (exit code {code})", time_s=elapsed,
                markdown=[f for f in produced if f.endswith(".md")],
                images=[f for f in produced if f.endswith(".png")],
                output_tail=tail if code else [])


def _listing(folder):
    return {f: os.path.getmtime(os.path.join(folder, f)) for f in os.listdir(folder)}


def _write_bench_report(args, out, bench_dir, runs):
    import datetime

    import fastreg

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    quick = " (quick run: small problems, not the benchmark's numbers)" if args.quick else ""
    lines = ["# fastreg benchmark report", "",
             f"Date: {now}. fastreg {fastreg.__version__}, Python {sys.version.split()[0]}. "
             f"Scripts from `{bench_dir}`{quick}.", "",
             "| benchmark | status | time | results |", "|---|---|---|---|"]
    for r in runs:
        links = ", ".join(f"[{m}]({m})" for m in r["markdown"]) or "-"
        lines.append(f"| {r['name']} | {r['status']} | {r['time_s']:.1f} s | {links} |")
    lines.append("")
    for r in runs:
        lines += [f"## {r['name']}", "", f"`{r['command']}`", ""]
        if r["output_tail"]:
            lines += ["Last lines of its output:", "", "```", *r["output_tail"], "```", ""]
        for md in r["markdown"]:
            with open(os.path.join(out, md)) as fh:
                body = fh.read()
            # demote the script's headings by two levels (its title becomes a subsection)
            body = re.sub(r"^(#+) ", r"##\1 ", body, flags=re.M)
            lines += [body.strip(), ""]
        embedded = set(re.findall(r"\]\(([^)]+\.png)\)", "\n".join(lines)))
        lines += [f"![{img}]({img})" for img in r["images"] if img not in embedded]
        lines.append("")
    path = os.path.join(out, "report.md")
    with open(path, "w") as fh:
        fh.write("\n".join(lines))
    return path
