"""The command line, driven in a subprocess as users run it."""
import json
import subprocess
import sys

import pytest


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "fastreg", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_help():
    res = run_cli("--help")
    assert res.returncode == 0
    assert "demo" in res.stdout


def _console_script():
    """The ``fastreg`` console script pip installed next to this interpreter, or None."""
    import os
    import shutil

    path = os.path.join(os.path.dirname(sys.executable), "fastreg")
    return path if os.path.isfile(path) else shutil.which("fastreg")


@pytest.mark.parametrize("command", [None, "fit", "predict", "path", "bench", "demo"])
def test_console_script_help(command):
    """The ``fastreg`` entry point (not only ``python -m fastreg``) answers --help on
    every subcommand. CI installs the package, so the script must exist there."""
    import os

    script = _console_script()
    if script is None:
        if os.environ.get("CI"):
            pytest.fail("the fastreg console script is not installed")
        pytest.skip("fastreg is not pip-installed here (in-place build): no console script")
    res = subprocess.run([script, *([command] if command else []), "--help"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: fastreg" + (f" {command}" if command else ""))


def test_demo_weight_decay_json():
    res = run_cli("demo", "weight_decay", "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["optimizer"]: r for r in json.loads(res.stdout)["weight_decay"]}
    assert rows["SGD"]["same_iterates"] == "yes"
    for name in ("SGD momentum=0.9", "SGD nesterov", "Adam"):
        assert rows[name]["same_iterates"] == "no"
        assert rows[name]["max_abs_diff"] > 1e-6


def test_demo_proximal_adam_reaches_reference():
    res = run_cli("demo", "proximal_adam", "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)["proximal_adam"]
    for row in rows:
        assert row["rel_subopt"] < 1e-3, row
        assert row["rel_subopt"] > -1e-9, row  # the reference is the optimum
        assert row["nnz"] < 10  # exact zeros from the L1 prox


def test_demo_unknown_section():
    res = run_cli("demo", "nope")
    assert res.returncode != 0
    assert "unknown section 'nope'" in res.stderr


@pytest.mark.slow
def test_demo_all_sections_text():
    res = run_cli("demo", timeout=900)
    assert res.returncode == 0, res.stderr
    for title in ("L2 regularization vs decoupled weight decay", "Lasso / ElasticNet"):
        assert title in res.stdout


def test_demo_adam_vs_adamw_json():
    res = run_cli("demo", "adam_vs_adamw", "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)["adam_vs_adamw"]
    sgd = [r for r in rows if r["optimizer"] == "sgd"]
    adam = [r for r in rows if r["optimizer"] != "sgd"]
    assert sgd[0]["max_coef_diff"] < 1e-12  # plain SGD: L2 == decoupled decay
    assert adam[0]["max_coef_diff"] > 1e-3  # Adam: they differ by design
    assert all(0.3 < r["r2"] < 0.7 for r in rows)
