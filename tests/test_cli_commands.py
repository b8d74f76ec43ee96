"""The command line's fit / predict / path / bench subcommands, data readers and progress bar.

Most tests call ``fastreg.cli.main(argv)`` in-process (what the console script
runs), capturing stdout and stderr: one subprocess costs several seconds of
interpreter and scikit-learn start-up on a loaded 2-core machine. A few tests
run ``python -m fastreg`` in a real subprocess (entry point, no traceback,
missing matplotlib). Data files are written by the tests into ``tmp_path``;
the tests on ``/work/shared/data`` are skipped when the folder is missing.
"""
import bz2
import contextlib
import gzip
import io
import json
import os
import subprocess
import sys

import joblib
import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file
from sklearn.linear_model import Lasso as SkLasso

import fastreg
from fastreg import _progress
from fastreg.cli import MODELS, main
from fastreg.io import DataError, load_data
from fastreg.reference.objectives import enet_objective

SHARED = os.environ.get("FASTREG_SHARED_DATA", "/work/shared/data")
needs_shared = pytest.mark.skipif(not os.path.isdir(SHARED), reason="shared data folder missing")
try:
    import matplotlib  # noqa: F401
    HAS_MPL = True
except ImportError:
    HAS_MPL = False
# matplotlib is in the test extra: under CI the plot tests must run, not skip
needs_mpl = pytest.mark.skipif(not HAS_MPL and not os.environ.get("CI"),
                               reason="matplotlib not installed")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def cli(*argv):
    """Run the command line in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:   # argparse errors, --help
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def cli_json(*argv):
    code, out, err = cli(*argv, "--json")
    assert code == 0, err
    return json.loads(out)


def run_cli(*argv, env=None, timeout=300):
    full_env = dict(os.environ, **(env or {}))
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastreg.__file__)))
    full_env["PYTHONPATH"] = os.pathsep.join(
        [p for p in (full_env.get("PYTHONPATH"), root) if p])
    return subprocess.run([sys.executable, "-m", "fastreg", *map(str, argv)],
                          capture_output=True, text=True, timeout=timeout, env=full_env)


def assert_one_line_error(err, *fragments):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], lines[0]


# -- data ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reg():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 8))
    w = np.array([3.0, -2.0, 1.5, 0, 0, 0, 0, 0])
    y = X @ w + 1.0 + 0.1 * rng.standard_normal(80)
    return X, y


@pytest.fixture(scope="module")
def files(reg, tmp_path_factory):
    """The same regression data in every format, plus broken files."""
    X, y = reg
    d = tmp_path_factory.mktemp("data")
    f = {}
    f["svm"] = d / "reg.svm"
    dump_svmlight_file(X, y, str(f["svm"]))
    raw = f["svm"].read_bytes()
    f["svm.bz2"] = d / "reg.bz2"      # no telling extension: recognized from content
    f["svm.bz2"].write_bytes(bz2.compress(raw))
    f["svm.gz"] = d / "reg.svm.gz"
    f["svm.gz"].write_bytes(gzip.compress(raw))
    f["npz"] = d / "reg.npz"
    np.savez(f["npz"], X=X, y=y)
    f["npy"] = d / "reg.npy"
    np.save(f["npy"], np.column_stack([X, y]))
    f["sparse"] = d / "reg_sparse.npz"
    sp.save_npz(f["sparse"], sp.csr_matrix(np.column_stack([X, y])))
    header = ",".join([f"f{j}" for j in range(8)] + ["target"])
    f["csv"] = d / "reg.csv"
    np.savetxt(f["csv"], np.column_stack([X, y]), delimiter=",", header=header, comments="")
    f["csv.gz"] = d / "reg_noheader.csv.gz"
    with gzip.open(f["csv.gz"], "wt") as fh:
        np.savetxt(fh, np.column_stack([y, X]), delimiter=" ")   # target FIRST, spaces
    f["mat"] = d / "reg.mat"
    scipy.io.savemat(f["mat"], {"X": X, "y": y[:, None]})
    return f


@pytest.fixture(scope="module")
def model_file(files, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "lasso.joblib"
    code, _, err = cli("fit", files["npz"], "--alpha", 0.05, "--tol", 1e-10, "-o", path, "-q")
    assert code == 0, err
    return path


FORMAT_ARGS = {"svm": [], "svm.bz2": [], "svm.gz": [], "npz": [], "npy": [], "sparse": [],
               "csv": [], "csv.gz": ["--target", "0"], "mat": []}


@pytest.mark.parametrize("fmt", list(FORMAT_ARGS))
def test_load_data_same_content_in_every_format(files, reg, fmt):
    X, y = reg
    data = load_data(files[fmt], target=(FORMAT_ARGS[fmt] or [None])[-1])
    dense = data.X.toarray() if sp.issparse(data.X) else data.X
    assert dense.shape == X.shape
    exact = fmt in ("npz", "npy", "sparse", "mat")
    np.testing.assert_allclose(dense, X, rtol=1e-12 if exact else 1e-7)
    np.testing.assert_allclose(data.y, y, rtol=1e-7)
    if fmt == "csv":
        assert data.feature_names == [f"f{j}" for j in range(8)]


@pytest.mark.parametrize("fmt", ["svm.bz2", "npz", "csv", "sparse"])
def test_fit_reports_sklearn_objective_and_scores(files, reg, fmt):
    X, y = reg
    res = cli_json("fit", files[fmt], "--model", "lasso", "--alpha", 0.1, "--tol", 1e-10,
                   *FORMAT_ARGS[fmt])
    ref = SkLasso(alpha=0.1, tol=1e-12, max_iter=100_000).fit(X, y)
    p_ref = enet_objective(X, y, ref.coef_, ref.intercept_, alpha=0.1)
    assert res["estimator"] == "Lasso"
    assert (res["n_samples"], res["n_features"]) == (80, 8)
    assert res["objective"] == pytest.approx(p_ref, rel=1e-7)
    assert 0 <= res["duality_gap"] < 1e-6
    assert res["nnz"] == np.count_nonzero(ref.coef_) == 3
    assert res["train_score"] == pytest.approx(ref.score(X, y), rel=1e-6)
    assert res["score"] == "r2" and res["test_score"] is None
    assert res["time_s"] > 0 and res["params"] == {"alpha": 0.1, "tol": 1e-10}


def test_fit_text_output_and_quiet(files):
    code, out, err = cli("fit", files["npz"], "--alpha", 0.1)
    assert code == 0 and err == ""
    for key in ("time_s", "objective", "duality_gap", "nnz", "train_score"):
        assert key in out
    code, out, _ = cli("fit", files["npz"], "--alpha", 0.1, "-q")
    assert [ln.split()[0] for ln in out.splitlines()] == ["objective", "duality_gap", "nnz",
                                                          "train_score"]


def test_fit_test_file_and_npz_test_part(files, reg, tmp_path):
    X, y = reg
    res = cli_json("fit", files["svm"], "--alpha", 0.1, "--test", files["csv"])
    ref = SkLasso(alpha=0.1).fit(X, y)
    assert res["test_score"] == pytest.approx(ref.score(X, y), rel=1e-4)
    split = tmp_path / "split.npz"
    np.savez(split, X_train=X[:60], y_train=y[:60], X_test=X[60:], y_test=y[60:])
    res = cli_json("fit", split, "--alpha", 0.1)
    ref = SkLasso(alpha=0.1).fit(X[:60], y[:60])
    assert res["n_samples"] == 60
    assert res["test_score"] == pytest.approx(ref.score(X[60:], y[60:]), rel=1e-4)
    model = tmp_path / "m.joblib"
    cli("fit", split, "--alpha", 0.1, "-o", model)
    res = cli_json("predict", model, split)          # predicts the test part
    np.testing.assert_allclose(res["predictions"], ref.predict(X[60:]), rtol=1e-4)
    assert res["data_score"] == pytest.approx(ref.score(X[60:], y[60:]), rel=1e-4)


def test_fit_svmlight_test_file_with_fewer_features_is_padded(files, reg, tmp_path):
    X, y = reg
    test = tmp_path / "test.svm"
    X_test = X[:10].copy()
    X_test[:, -1] = 0.0                       # the last feature never appears in the file
    dump_svmlight_file(X_test[:, :-1], y[:10], str(test))
    res = cli_json("fit", files["svm"], "--alpha", 0.1, "--test", test)
    assert res["test_score"] is not None


def test_fit_cv_elasticnet(files):
    res = cli_json("fit", files["npz"], "--model", "elasticnet", "--l1-ratio", 0.7,
                   "--cv", 3, "--n-alphas", 8)
    assert res["estimator"] == "ElasticNetCV"
    assert res["l1_ratio"] == 0.7
    assert res["alpha_1se"] >= res["alpha_min"] > 0
    assert res["alpha"] == res["alpha_min"]
    assert res["params"] == {"l1_ratio": 0.7, "cv": 3, "alphas": 8}
    assert res["train_score"] > 0.95


def test_fit_sgd_models(files, reg, tmp_path):
    res = cli_json("fit", files["npz"], "--model", "sgd-regressor", "--optimizer", "adam",
                   "--lr", 0.05, "--alpha", 1e-4, "--max-iter", 30, "--seed", 0,
                   "--batch-size", 8)
    assert res["estimator"] == "SGDRegressor" and res["params"]["optimizer"] == "adam"
    assert 1 <= res["n_iter"] <= 30
    assert res["train_score"] > 0.95
    assert res["objective"] is None and res["last_epoch_loss"] > 0
    X, y = reg
    labels = tmp_path / "clf.svm"
    dump_svmlight_file(X, np.where(X[:, 0] - X[:, 1] > 0, 1, -1), str(labels))
    res = cli_json("fit", labels, "--model", "sgd-classifier", "--loss", "log_loss",
                   "--max-iter", 20, "--seed", 0, "--param", "tol=None")
    assert res["score"] == "accuracy" and res["n_iter"] == 20
    assert res["train_score"] > 0.9


def test_fit_string_labels_from_csv(reg, tmp_path):
    X, _ = reg
    path = tmp_path / "labels.csv"
    with open(path, "w") as fh:
        fh.write("a,b,kind\n")
        for row in X[:, :2]:
            fh.write(f"{row[0]},{row[1]},{'up' if row[0] > row[1] else 'down'}\n")
    res = cli_json("fit", path, "--model", "sgd-classifier", "--max-iter", 20, "--seed", 0)
    assert res["train_score"] > 0.9
    code, _, err = cli("fit", path, "--model", "lasso")
    assert code == 1
    assert_one_line_error(err, "target holds labels", "regression")


def test_logistic_slot_works_once_the_estimator_exists(files, reg, tmp_path, monkeypatch):
    """The registry line for 'logistic' drives any scikit-learn-compatible class."""
    from sklearn.linear_model import LogisticRegression

    from fastreg.reference.objectives import logistic_objective

    X, y = reg
    labels = tmp_path / "clf.npz"
    yc = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)
    np.savez(labels, X=X, y=yc)
    if not hasattr(fastreg, "LogisticRegression"):
        code, _, err = cli("fit", labels, "--model", "logistic")
        assert code == 2
        assert_one_line_error(err, "model 'logistic' is not available in this fastreg version")
        monkeypatch.setattr(fastreg, "LogisticRegression", LogisticRegression, raising=False)
    res = cli_json("fit", labels, "--model", "logistic", "--C", 0.5, "--tol", 1e-10,
                   "--max-iter", 1000)
    ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=1000).fit(X, yc)
    expected = logistic_objective(X, yc, ref.coef_[0], ref.intercept_[0], C=0.5, penalty="l2")
    assert res["objective"] == pytest.approx(expected, rel=1e-6)
    assert res["score"] == "accuracy" and res["train_score"] > 0.9
    code, _, err = cli("fit", labels, "--model", "logistic", "--alpha", 1.0)
    assert code == 2
    assert_one_line_error(err, "--alpha does not apply to model 'logistic' (use --C)")


# -- predict ----------------------------------------------------------------------------
def test_predict_roundtrip(files, reg, model_file, tmp_path):
    X, y = reg
    model = joblib.load(model_file)
    expected = model.predict(X)
    ref = SkLasso(alpha=0.05, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(expected, ref.predict(X), rtol=1e-6, atol=1e-8)
    code, out, err = cli("predict", model_file, files["svm.bz2"])
    assert code == 0
    np.testing.assert_allclose(np.array(out.split(), dtype=float), expected, rtol=1e-12)
    assert err.startswith("r2 on ")
    out_csv = tmp_path / "pred.csv"
    res = cli_json("predict", model_file, files["csv"], "-o", out_csv)
    assert res["data_score"] == pytest.approx(model.score(X, y))
    lines = out_csv.read_text().splitlines()
    assert lines[0] == "prediction"
    np.testing.assert_allclose(np.array(lines[1:], dtype=float), expected, rtol=1e-12)
    res = cli_json("predict", model_file, files["sparse"])
    np.testing.assert_allclose(res["predictions"], expected, rtol=1e-12)


def test_predict_without_target(files, reg, model_file, tmp_path):
    X, _ = reg
    only_x = tmp_path / "x.npy"
    np.save(only_x, X)
    res = cli_json("predict", model_file, only_x)
    assert res["data_score"] is None and len(res["predictions"]) == 80
    out = tmp_path / "p.npy"
    code, _, _ = cli("predict", model_file, only_x, "-o", out, "-q")
    assert code == 0
    np.testing.assert_allclose(np.load(out), joblib.load(model_file).predict(X))


def test_predict_wrong_number_of_features(files, reg, model_file, tmp_path):
    X, y = reg
    for name, write in [("wide.csv", lambda p: np.savetxt(p, np.hstack([X, X]), delimiter=",")),
                        ("narrow.npy", lambda p: np.save(p, X[:, :3])),
                        ("wide.svm", lambda p: dump_svmlight_file(np.hstack([X, X]), y, str(p))),
                        ("wide.npz", lambda p: np.savez(p, X=X[:, :5], y=y))]:
        path = tmp_path / name
        write(path)
        code, out, err = cli("predict", model_file, path)
        assert code == 1 and out == ""
        assert_one_line_error(err, "wrong number of features", "the model expects 8")


# -- error paths ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, reg):
    X, y = reg
    d = tmp_path_factory.mktemp("bad")
    f = {"binary": d / "noise.bin", "empty": d / "empty.csv", "nan": d / "nan.csv",
         "text": d / "words.csv", "pickle": d / "obj.npz", "1d": d / "vec.npy",
         "nan_svm": d / "nan.svm", "badsvm": d / "bad.svm"}
    f["binary"].write_bytes(bytes(range(256)) * 4)
    f["empty"].write_text("\n\n")
    f["nan"].write_text("a,b,y\n1,2,3\n4,,6\n")
    f["text"].write_text("a,b,y\n1,2,3\n4,abc,6\n")
    np.savez(f["pickle"], X=np.array([{"a": 1}], dtype=object), y=np.ones(1))
    np.save(f["1d"], np.ones(5))
    f["nan_svm"].write_text("1 1:0.5 2:nan\n0 1:1\n")
    f["badsvm"].write_text("1 1:0.5 2:1\n0 x:1 2:3\n")
    return f


@pytest.mark.parametrize("argv, code, fragments", [
    (["fit", "{missing}"], 1, ["no such file"]),
    (["fit", "{binary}"], 1, ["unreadable format"]),
    (["fit", "{empty}"], 1, ["empty"]),
    (["fit", "{nan}"], 1, ["NaN (missing value) in X at row 1, column 1"]),
    (["fit", "{nan_svm}"], 1, ["NaN", "row 0, column 1"]),
    (["fit", "{text}"], 1, ["cannot read 'abc' as a number", "'b'"]),
    (["fit", "{pickle}"], 1, ["without pickle"]),
    (["fit", "{1d}"], 1, ["2-D array"]),
    (["fit", "{badsvm}", "--format", "svmlight"], 1, ["not a valid svmlight/libsvm file"]),
    (["fit", "{csv}", "--target", "nope"], 1, ["no column named 'nope'"]),
    (["fit", "{csv}", "--target", "12"], 1, ["out of range"]),
    (["fit", "{npz}", "--model", "foo"], 2, ["unknown model 'foo'", "lasso"]),
    (["fit", "{npz}", "--alpha", "-1"], 2, ["'alpha' parameter of Lasso"]),
    (["fit", "{npz}", "--alpha", "abc"], 2, ["invalid float value: 'abc'"]),
    (["fit", "{npz}", "--C", "1"], 2, ["--C does not apply to model 'lasso'"]),
    (["fit", "{npz}", "--optimizer", "adam"], 2, ["--optimizer does not apply"]),
    (["fit", "{npz}", "--alpha", "1", "--cv", "3"], 2, ["--alpha and --cv are exclusive"]),
    (["fit", "{npz}", "--cv", "1"], 2, ["--cv must be >= 2"]),
    (["fit", "{npz}", "--n-alphas", "5"], 2, ["--n-alphas needs --cv"]),
    (["fit", "{npz}", "--model", "sgd-regressor", "--cv", "3"], 2,
     ["--cv is not available for model 'sgd-regressor'"]),
    (["fit", "{npz}", "--model", "sgd-regressor", "--optimizer", "nope"], 2,
     ["'optimizer' parameter of SGDRegressor"]),
    (["fit", "{npz}", "--param", "nope=1"], 2, ["Lasso has no parameter 'nope'"]),
    (["fit", "{npz}", "--param", "oops"], 2, ["KEY=VALUE"]),
    (["fit", "{npz}", "-o", "/nonexistent/dir/m.joblib"], 1, ["no such folder"]),
    (["predict", "{missing}", "{npz}"], 1, ["no such file"]),
    (["predict", "{binary}", "{npz}"], 1, ["not a model saved by `fastreg fit`"]),
    (["path", "{npz}", "--model", "sgd-regressor"], 2, ["fastreg path supports lasso"]),
    (["path", "{npz}", "--l1-ratio", "0.5"], 2, ["--l1-ratio does not apply"]),
    (["path", "{npz}", "--model", "elasticnet", "--l1-ratio", "2"], 1, ["l1_ratio"]),
    (["path", "{npz}", "--n-alphas", "1"], 2, ["--n-alphas must be >= 2"]),
    (["bench", "--bench-dir", "{missing}"], 1, ["no benchmark scripts", "--bench-dir"]),
    (["nope"], 2, ["invalid choice: 'nope'"]),
])
def test_errors_are_one_line_with_exit_code(files, bad_files, argv, code, fragments, tmp_path):
    names = {**{k: str(v) for k, v in files.items()}, **{k: str(v) for k, v in bad_files.items()},
             "missing": str(tmp_path / "missing.csv")}
    got, out, err = cli(*[a.format(**names) for a in argv])
    assert got == code, err
    assert out == ""
    assert_one_line_error(err, *fragments)


def test_debug_shows_the_traceback(bad_files):
    with pytest.raises(DataError, match="NaN"):
        main(["fit", str(bad_files["nan"]), "--debug"])


# -- path -------------------------------------------------------------------------------
def test_path_json_and_csv(files, reg, tmp_path):
    X, y = reg
    out = tmp_path / "path.csv"
    res = cli_json("path", files["npz"], "--n-alphas", 12, "-o", out)
    alphas = np.array(res["alphas"])
    assert len(alphas) == res["n_alphas"] == 12 and np.all(np.diff(alphas) < 0)
    assert res["nnz"][0] == 0 and res["nnz"][-1] >= 3
    assert alphas[-1] == pytest.approx(1e-3 * alphas[0])
    assert res["cv"] is None and res["plot"] is None
    table = np.genfromtxt(out, delimiter=",", names=True)
    assert table.shape == (12,)
    np.testing.assert_allclose(table["alpha"], alphas)
    # last coefficients: the Lasso at the smallest alpha (with intercept), as scikit-learn
    ref = SkLasso(alpha=alphas[-1], tol=1e-12, max_iter=100_000).fit(X, y)
    coef = np.array([table[f"coef_x{j}"][-1] for j in range(8)])
    np.testing.assert_allclose(coef, ref.coef_, atol=1e-2)


@pytest.mark.parametrize("plot", [False, pytest.param(True, marks=needs_mpl)])
def test_path_cv(files, tmp_path, plot):
    png = tmp_path / "path.png"
    res = cli_json("path", files["csv"], "--model", "elasticnet", "--l1-ratio", 0.5,
                   "--n-alphas", 10, "--cv", 3, *(["--plot", png] if plot else []))
    cv = res["cv"]
    assert cv["n_folds"] == 3
    assert len(cv["mse_mean"]) == len(cv["mse_se"]) == 10
    assert all(s >= 0 for s in cv["mse_se"])
    i_min = int(np.argmin(cv["mse_mean"]))
    assert cv["alpha_min"] == pytest.approx(res["alphas"][i_min])
    assert cv["alpha_1se"] >= cv["alpha_min"]
    if plot:
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5000


@needs_mpl
def test_path_text_and_plot(files, tmp_path):
    png = tmp_path / "p.png"
    code, out, err = cli("path", files["svm"], "--n-alphas", 8, "--plot", png)
    assert code == 0, err
    assert "alpha_max" in out and "dual_gap" in out
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_path_plot_without_matplotlib(files, tmp_path):
    fake = tmp_path / "fake"
    (fake / "matplotlib").mkdir(parents=True)
    (fake / "matplotlib" / "__init__.py").write_text("raise ImportError('no matplotlib')\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastreg.__file__)))
    res = run_cli("path", files["npz"], "--plot", tmp_path / "p.png",
                  env={"PYTHONPATH": os.pathsep.join([str(fake), root])})
    assert res.returncode == 1
    assert_one_line_error(res.stderr, "--plot needs matplotlib", "pip install matplotlib")
    assert not (tmp_path / "p.png").exists()


# -- bench ------------------------------------------------------------------------------
TINY_PNG = PNG_MAGIC + b"tiny"


@pytest.fixture
def bench_dir(tmp_path):
    d = tmp_path / "bench"
    d.mkdir()
    (d / "lasso.py").write_text(
        "import argparse, os\n"
        "p = argparse.ArgumentParser(); p.add_argument('--out'); "
        "p.add_argument('--quick', action='store_true')\n"
        "a = p.parse_args()\n"
        "print('== quick' if a.quick else '== full', flush=True)\n"
        f"open(os.path.join(a.out, 'lasso_a.png'), 'wb').write({TINY_PNG!r})\n"
        "open(os.path.join(a.out, 'lasso.md'), 'w').write("
        "'# Lasso\\n\\n| solver | time |\\n|---|---|\\n| fastreg | 1 s |\\n\\n"
        "![a](lasso_a.png)\\n')\n")
    (d / "path.py").write_text("import sys\nprint('something went wrong')\nsys.exit(3)\n")
    return d


def test_bench_finds_the_installed_suite(monkeypatch):
    """Without --bench-dir, `fastreg bench` runs the suite installed with the package
    (fastreg/bench), or the checkout's bench/ for an in-place build."""
    import os

    import fastreg
    from fastreg.cli import BENCH_SCRIPTS, find_bench_dir

    monkeypatch.delenv("FASTREG_BENCH_DIR", raising=False)
    found = find_bench_dir()
    for script, _ in BENCH_SCRIPTS.values():
        assert os.path.isfile(os.path.join(found, script)), script
    package = os.path.dirname(os.path.abspath(fastreg.__file__))
    in_place = os.path.isfile(os.path.join(os.path.dirname(package), "setup.py"))
    if not in_place:  # a pip install: the suite lives inside the package
        assert found == os.path.join(package, "bench")


def test_bench_runs_scripts_and_writes_report(bench_dir, tmp_path):
    out = tmp_path / "results"
    res = cli_json("bench", "--quick", "--only", "lasso", "--bench-dir", bench_dir,
                   "--out", out)
    assert res["quick"] is True
    (run,) = res["scripts"]
    assert run["status"] == "ok" and run["markdown"] == ["lasso.md"]
    assert run["images"] == ["lasso_a.png"]
    assert run["command"].endswith("--quick")
    report = (out / "report.md").read_text()
    assert res["report"] == str(out / "report.md")
    assert "| lasso | ok |" in report and "### Lasso" in report
    assert "| fastreg | 1 s |" in report and "![a](lasso_a.png)" in report
    assert (out / "lasso_a.png").read_bytes().startswith(PNG_MAGIC)


def test_bench_failing_script_and_env_dir(bench_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FASTREG_BENCH_DIR", str(bench_dir))
    out = tmp_path / "results"
    code, stdout, err = cli("bench", "--out", out)     # kernels.py absent: skipped
    assert code == 1
    assert "[path] something went wrong" in err
    assert "benchmark(s) failed: path" in err
    report = (out / "report.md").read_text()
    assert "failed (exit code 3)" in report and "something went wrong" in report
    code, _, err = cli("bench", "--only", "nope", "--out", out)
    assert code == 2
    assert_one_line_error(err, "unknown benchmark 'nope'")


# -- progress ---------------------------------------------------------------------------
def test_progress_on_path_cv_and_epochs(files):
    code, _, err = cli("path", files["npz"], "--n-alphas", 10, "--cv", 3, "--progress", "-q")
    assert code == 0 and err == ""                    # -q wins
    code, _, err = cli("path", files["npz"], "--n-alphas", 10, "--cv", 3, "--progress",
                       "--json")
    assert code == 0
    assert "path (alphas) [" in err and "/10" in err
    assert "cross-validation (CV folds) [" in err and "/3" in err
    code, _, err = cli("fit", files["npz"], "--model", "sgd-regressor", "--max-iter", 5,
                       "--progress", "--param", "tol=None")
    assert code == 0
    assert "fit sgd-regressor (epochs) [" in err and "/5" in err
    code, _, err = cli("path", files["npz"], "--n-alphas", 10)
    assert code == 0 and err == ""                    # not a terminal: no bar


def test_progress_rules_and_rendering(monkeypatch):
    monkeypatch.delenv("FASTREG_PROGRESS", raising=False)
    assert not _progress.progress_enabled(stream=io.StringIO())
    assert _progress.progress_enabled(force=True)
    assert not _progress.progress_enabled(quiet=True, force=True)
    monkeypatch.setenv("FASTREG_PROGRESS", "1")
    assert _progress.progress_enabled(stream=io.StringIO())
    stream = io.StringIO()
    with _progress.Progress(4, "job", stream=stream, delay=0.0) as bar:
        assert bar.render().startswith("job [" + "." * 30 + "] 0/4")
        bar.update(2)
        assert "[" + "#" * 15 + "." * 15 + "] 2/4" in stream.getvalue()
        bar.write("a message")
    text = stream.getvalue()
    assert "a message\n" in text and text.endswith("\r")   # erased at the end
    silent = io.StringIO()
    with _progress.Progress(3, "x", stream=silent, enabled=False) as bar:
        bar.update(3)
    assert silent.getvalue() == ""
    lines = []
    watcher = _progress.LineWatcher(lines.append)
    watcher.write("-- Epoch 1: loss\n-- Epo")
    watcher.write("ch 2: loss\npartial")
    assert lines == ["-- Epoch 1: loss", "-- Epoch 2: loss"]


# -- subprocess, entry point ------------------------------------------------------------
def test_subprocess_fit_predict(files, tmp_path):
    model = tmp_path / "m.joblib"
    res = run_cli("fit", files["svm.bz2"], "--alpha", 0.1, "-o", model, "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["output"] == str(model)
    res = run_cli("predict", model, files["npy"], "-q", "--target", "-1")
    assert res.returncode == 0 and len(res.stdout.split()) == 80 and res.stderr == ""


def test_subprocess_help_lists_every_command():
    res = run_cli("--help")
    assert res.returncode == 0
    for command in ("fit", "predict", "path", "bench", "demo"):
        assert command in res.stdout
    assert set(MODELS) == {"lasso", "elasticnet", "logistic", "sgd-regressor", "sgd-classifier"}


# -- shared real data --------------------------------------------------------------------
@needs_shared
def test_shared_diabetes_cv(tmp_path):
    res = cli_json("fit", os.path.join(SHARED, "diabetes_lars.npz"), "--cv", 5,
                   "--n-alphas", 20)
    assert (res["n_samples"], res["n_features"]) == (442, 10)
    assert 0.45 < res["train_score"] < 0.6          # the classic diabetes R^2 (~0.52)
    assert res["alpha_1se"] >= res["alpha_min"]


@needs_shared
def test_shared_a9a_sgd_classifier():
    res = cli_json("fit", os.path.join(SHARED, "a9a.bz2"), "--model", "sgd-classifier",
                   "--loss", "log_loss", "--max-iter", 3, "--seed", 0, "--param", "tol=None",
                   "--test", os.path.join(SHARED, "a9a.t.bz2"))
    assert (res["n_samples"], res["n_features"]) == (32561, 123) and res["sparse"]
    assert res["test_score"] > 0.8                  # liblinear's a9a test accuracy is ~0.85


@needs_shared
def test_shared_mushrooms_logistic_cv():
    """``--model logistic --cv K`` fits LogisticRegressionCV and reports its objective at C_."""
    res = cli_json("fit", os.path.join(SHARED, "mushrooms.bz2"), "--model", "logistic",
                   "--cv", 3, "--n-alphas", 4)
    assert res["estimator"] == "LogisticRegressionCV"
    assert res["params"] == {"cv": 3, "Cs": 4}
    assert np.isfinite(res["objective"]) and res["objective"] > 0
    assert res["train_score"] > 0.95
