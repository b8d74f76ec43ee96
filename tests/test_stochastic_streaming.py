"""The out-of-core example of fastreg.linear_model.stochastic, run on a temporary memmap."""
import numpy as np
import scipy.sparse as sp

from fastreg import SGDClassifier, SGDRegressor


def _write_memmap(path, n_samples, n_features, seed=0, block=5_000):
    """Write X (float32) and y to disk block by block (never all in memory at once)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(n_features).astype(np.float32)
    X = np.memmap(path / "X.f32", dtype=np.float32, mode="w+", shape=(n_samples, n_features))
    y = np.memmap(path / "y.f32", dtype=np.float32, mode="w+", shape=(n_samples,))
    for start in range(0, n_samples, block):
        stop = min(start + block, n_samples)
        Xb = rng.standard_normal((stop - start, n_features)).astype(np.float32)
        X[start:stop] = Xb
        y[start:stop] = Xb @ w + 0.5 + 0.1 * rng.standard_normal(stop - start)
    X.flush()
    y.flush()
    del X, y
    return w


def train_streaming(model, X, y, chunk, epochs, out=print):
    """The README example: partial_fit chunk by chunk with a progress bar."""
    n_samples = X.shape[0]
    for epoch in range(epochs):
        for start in range(0, n_samples, chunk):
            stop = min(start + chunk, n_samples)
            model.partial_fit(X[start:stop], y[start:stop])
            done = stop / n_samples
            out(f"\repoch {epoch + 1}: [{'#' * int(40 * done):<40}] {100 * done:5.1f}%", end="")
        out()
    return model


def test_memmap_streaming(tmp_path, capsys):
    n_samples, n_features, chunk = 20_000, 20, 3_000
    w = _write_memmap(tmp_path, n_samples, n_features)
    X = np.memmap(tmp_path / "X.f32", dtype=np.float32, mode="r", shape=(n_samples, n_features))
    y = np.memmap(tmp_path / "y.f32", dtype=np.float32, mode="r", shape=(n_samples,))
    model = train_streaming(SGDRegressor(optimizer="adam", eta0=0.05, batch_size=64,
                                         random_state=0), X, y, chunk, epochs=2)
    printed = capsys.readouterr().out
    assert "epoch 2: [########################################] 100.0%" in printed
    assert model.coef_.dtype == np.float32
    np.testing.assert_allclose(model.coef_, w, atol=0.05)
    assert abs(model.intercept_[0] - 0.5) < 0.05
    assert model.t_ == 2 * sum(-(-min(chunk, n_samples - s) // 64)
                               for s in range(0, n_samples, chunk))
    # the same stream from memory gives the same model, bit for bit
    Xm, ym = np.array(X), np.array(y)
    again = train_streaming(SGDRegressor(optimizer="adam", eta0=0.05, batch_size=64,
                                         random_state=0), Xm, ym, chunk, 2,
                            out=lambda *a, **k: None)
    np.testing.assert_array_equal(again.coef_, model.coef_)


def test_memmap_chunks_equal_one_epoch_of_fit(tmp_path):
    """shuffle=False, chunk sizes multiple of batch_size: partial_fit over the chunks is
    one epoch of fit over the whole file."""
    n_samples, n_features = 4_096, 8
    _write_memmap(tmp_path, n_samples, n_features, seed=1)
    X = np.memmap(tmp_path / "X.f32", dtype=np.float32, mode="r", shape=(n_samples, n_features))
    y = np.memmap(tmp_path / "y.f32", dtype=np.float32, mode="r", shape=(n_samples,))
    kw = dict(optimizer="sgd", penalty="elasticnet", alpha=1e-3, batch_size=16, shuffle=False,
              tol=None)
    streamed = train_streaming(SGDRegressor(**kw), X, y, 1_024, 1, out=lambda *a, **k: None)
    full = SGDRegressor(max_iter=1, **kw).fit(np.array(X), np.array(y))
    np.testing.assert_array_equal(streamed.coef_, full.coef_)
    np.testing.assert_array_equal(streamed.intercept_, full.intercept_)


def test_sparse_stream_classifier():
    """A sparse stream of CSR chunks with the cumulative L1 penalty and a fixed label set."""
    rng = np.random.default_rng(2)
    n_samples, n_features = 6_000, 500
    X = sp.random(n_samples, n_features, density=0.02, format="csr", random_state=2)
    w = np.zeros(n_features)
    w[:20] = rng.standard_normal(20) * 5
    y = np.where(X @ w > 0, "pos", "neg")
    model = SGDClassifier(loss="log_loss", penalty="l1", alpha=1e-4, l1_mode="cumulative",
                          random_state=0)
    for _ in range(3):
        for start in range(0, n_samples, 1_000):
            model.partial_fit(X[start:start + 1_000], y[start:start + 1_000],
                              classes=["neg", "pos"])
    assert model.score(X, y) > 0.9
    assert np.count_nonzero(model.coef_ == 0.0) > 0
