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
