"""The installed package: importable from anywhere, versioned, public names present."""
import subprocess
import sys


def test_import_from_other_directory(tmp_path):
    code = "import fastreg, fastreg._prox; print(fastreg.__version__)"
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, env={"PYTHONPATH": ":".join(p for p in sys.path if p)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().count(".") >= 1


def test_public_names():
    import fastreg

    for name in fastreg.__all__:
        assert hasattr(fastreg, name), name


def _repo_root():
    """The source checkout holding this test file (tests/..)."""
    import os

    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_pyproject_lists_every_package():
    """The explicit package list in pyproject.toml (needed to install bench/ as
    fastreg.bench) names every folder that holds an ``__init__.py``."""
    import os

    import pytest

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    root = _repo_root()
    with open(os.path.join(root, "pyproject.toml"), "rb") as fh:
        conf = tomllib.load(fh)["tool"]["setuptools"]
    listed = set(conf["packages"])
    found = set()
    for top, name in (("fastreg", "fastreg"), ("bench", "fastreg.bench")):
        for folder, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = [d for d in dirs if not d.startswith((".", "__"))]
            if "__init__.py" in files:
                rel = os.path.relpath(folder, os.path.join(root, top))
                found.add(name if rel == "." else f"{name}.{rel.replace(os.sep, '.')}")
    assert found == listed, f"missing {sorted(found - listed)}, stale {sorted(listed - found)}"
    assert conf["package-dir"] == {"fastreg.bench": "bench"}
