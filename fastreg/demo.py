"""The main job on built-in data: what fastreg does, next to the reference and scikit-learn.

Every section returns a small table (a list of dicts) so that the command line
can print it or emit JSON. Data come from datasets that ship with scikit-learn
(no download) or are generated with a fixed seed.
"""
import time

import numpy as np
from sklearn.datasets import load_diabetes, make_regression
from sklearn.preprocessing import StandardScaler

from . import optim, prox
from .reference import objectives as ref_obj
from .reference import solvers as ref_solvers


def _timeit(fn, repeat=3):
    """Median wall time of ``fn()`` over ``repeat`` runs, and its last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return np.asfortranarray(X), y - y.mean()


def kernels_section(n=2_000_000, seed=0):
    """soft_threshold and l2_shrink against their best numpy formulations."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    out = np.empty_like(x)
    out_fr = np.empty_like(x)  # separate buffers: neither side pays for an allocation
    t = 0.5

    def numpy_soft():
        np.subtract(np.abs(x, out=out), t, out=out)
        np.maximum(out, 0.0, out=out)
        return np.copysign(out, x, out=out)

    rows = []
    t_np, ref = _timeit(numpy_soft, 5)
    t_fr, got = _timeit(lambda: prox.soft_threshold(x, t, out=out_fr), 5)
    rows.append(dict(kernel="soft_threshold", n=n, numpy_ms=1e3 * t_np, fastreg_ms=1e3 * t_fr,
                     speedup=t_np / t_fr, max_abs_diff=float(np.max(np.abs(got - ref)))))
    t_np, ref = _timeit(lambda: np.divide(x, 1.0 + t, out=out), 5)
    t_fr, got = _timeit(lambda: prox.l2_shrink(x, t, out=out_fr), 5)
    rows.append(dict(kernel="l2_shrink", n=n, numpy_ms=1e3 * t_np, fastreg_ms=1e3 * t_fr,
                     speedup=t_np / t_fr, max_abs_diff=float(np.max(np.abs(got - ref)))))
    return rows


def proximal_adam_section(alpha=1.0, n_steps=3000, lr=0.05):
    """Proximal Adam (full-batch gradients, L1 prox) on diabetes vs the scipy reference Lasso."""
    X, y = _diabetes()
    n = X.shape[0]
    w_ref, b_ref = ref_solvers.enet_lbfgsb(X, y, alpha=alpha, l1_ratio=1.0, fit_intercept=False)
    p_ref = ref_obj.enet_objective(X, y, w_ref, 0.0, alpha=alpha, l1_ratio=1.0)
    rows = []
    for name, make in [
        ("prox-SGD", lambda w: optim.SGD(w, lr=lr, l1=alpha)),
        ("prox-Adam", lambda w: optim.Adam(w, lr=lr, l1=alpha, l1_scaling="effective")),
    ]:
        w = np.zeros(X.shape[1])
        opt = make(w)
        t0 = time.perf_counter()
        for _ in range(n_steps):
            grad = X.T @ (X @ w - y) / n
            opt.step(grad)
        elapsed = time.perf_counter() - t0
        p = ref_obj.enet_objective(X, y, w, 0.0, alpha=alpha, l1_ratio=1.0)
        rows.append(dict(method=name, steps=n_steps, time_s=elapsed, objective=p,
                         rel_subopt=(p - p_ref) / abs(p_ref), nnz=int(np.count_nonzero(w)),
                         nnz_reference=int(np.count_nonzero(np.abs(w_ref) > 1e-10))))
    return rows


def weight_decay_section(lam=0.1, lr=0.05, n_steps=50, seed=0):
    """L2 regularization vs decoupled weight decay: equal for plain SGD only."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((50, 5))
    y = X @ rng.standard_normal(5) + 0.1 * rng.standard_normal(50)
    rows = []
    cases = [
        ("SGD", optim.SGD, dict(lr=lr)),
        ("SGD momentum=0.9", optim.SGD, dict(lr=lr, momentum=0.9)),
        ("SGD nesterov", optim.SGD, dict(lr=lr, momentum=0.9, nesterov=True)),
        ("Adam", optim.Adam, dict(lr=lr)),
    ]
    for name, cls, kw in cases:
        ws = {}
        for decoupled in (False, True):
            w = np.ones(5)
            opt = cls(w, weight_decay=lam, decoupled_weight_decay=decoupled, **kw)
            for _ in range(n_steps):
                opt.step(X.T @ (X @ w - y) / len(y))
            ws[decoupled] = w
        diff = float(np.max(np.abs(ws[False] - ws[True])))
        rows.append(dict(optimizer=name, max_abs_diff=diff,
                         same_iterates="yes" if diff < 1e-12 else "no"))
    return rows


def _sparse_regression(seed, n=20_000, p=50_000, density=1e-3, n_informative=50):
    """A generated large sparse regression problem (CSC, Gaussian entries)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csc", random_state=rng,
                  data_rvs=rng.standard_normal)
    w = np.zeros(p)
    w[rng.choice(p, n_informative, replace=False)] = rng.standard_normal(n_informative)
    return X, X @ w + 0.1 * rng.standard_normal(n)


def lasso_section(seed=0):
    """fastreg Lasso / ElasticNet next to scikit-learn: time, objective, gap, sparsity.

    On diabetes, a dense generated problem and a generated large sparse one
    (CSC, fitted with its intercept by implicit centering on both sides).
    """
    from sklearn import linear_model as sk

    from . import ElasticNet, Lasso

    rows = []
    Xd, yd = _diabetes()
    Xs, ys = make_regression(n_samples=2000, n_features=5000, n_informative=50, noise=1.0,
                             random_state=seed)
    Xs = np.asfortranarray(Xs)
    Xsp, ysp = _sparse_regression(seed)
    problems = [("diabetes", Xd, yd), ("make_regression 2000x5000", Xs, ys),
                ("sparse 20000x50000 (0.1%)", Xsp, ysp)]
    for pname, X, y in problems:
        alpha_max = np.max(np.abs(X.T @ (y - y.mean()))) / X.shape[0]
        for model, l1_ratio in (("Lasso", 1.0), ("ElasticNet", 0.5)):
            alpha = alpha_max / (50 * l1_ratio)
            for lib, est in (
                ("fastreg", (Lasso(alpha=alpha, tol=1e-8) if l1_ratio == 1.0
                             else ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-8))),
                ("sklearn", (sk.Lasso(alpha=alpha, tol=1e-8, max_iter=100_000) if l1_ratio == 1.0
                             else sk.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-8,
                                                max_iter=100_000))),
            ):
                # the large problems are timed once: the demo must stay short
                t, _ = _timeit(lambda: est.fit(X, y), 3 if X.shape[0] * X.shape[1] < 1e7 else 1)
                p, d, gap = ref_obj.enet_duality_gap(X, y, est.coef_, est.intercept_,
                                                     alpha=alpha, l1_ratio=l1_ratio)
                rows.append(dict(problem=pname, model=model, library=lib, time_s=t,
                                 objective=p, gap=gap, nnz=int(np.count_nonzero(est.coef_))))
    return rows


def adam_vs_adamw_section(lam=0.1, seed=0):
    """SGDRegressor on diabetes: L2 (``alpha``) vs decoupled decay (``weight_decay``), per optimizer."""
    from . import SGDRegressor

    X, y = _diabetes()
    y = y / y.std()
    common = dict(learning_rate="constant", max_iter=30, tol=None, shuffle=True,
                  random_state=seed, batch_size=16)
    rows = []
    for optimizer, eta0 in (("sgd", 0.01), ("adam", 0.01)):
        fits = {
            "L2 (alpha)": SGDRegressor(optimizer=optimizer, eta0=eta0, penalty="l2", alpha=lam,
                                       weight_decay=0.0, **common),
            "decoupled (weight_decay)": SGDRegressor(optimizer=optimizer, eta0=eta0, penalty=None,
                                                     weight_decay=lam, **common),
        }
        coefs = {}
        for name, est in fits.items():
            est.fit(X, y)
            coefs[name] = est.coef_
            rows.append(dict(optimizer=optimizer if optimizer == "sgd" else "adam / adamw",
                             regularization=name, coef_norm=float(np.linalg.norm(est.coef_)),
                             r2=float(est.score(X, y))))
        diff = float(np.max(np.abs(coefs["L2 (alpha)"] - coefs["decoupled (weight_decay)"])))
        for row in rows[-2:]:
            row["max_coef_diff"] = diff
    return rows


def logistic_l1_section(seed=0):
    """L1 logistic regression on breast_cancer: fastreg vs scikit-learn's liblinear (no intercept)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    from . import LogisticRegression
    from .reference.objectives import logistic_duality_gap

    X, y = load_breast_cancer(return_X_y=True)
    X = np.asfortranarray(StandardScaler().fit_transform(X))
    rows = []
    # liblinear penalizes its intercept: both fit without one, for the same objective
    for C in (0.05, 1.0):
        for lib, est in (
            ("fastreg", LogisticRegression(penalty="l1", C=C, fit_intercept=False, tol=1e-8)),
            ("sklearn liblinear", SkLogisticRegression(l1_ratio=1.0, C=C, solver="liblinear",
                                                       fit_intercept=False, tol=1e-8,
                                                       max_iter=100_000)),
        ):
            t, _ = _timeit(lambda: est.fit(X, y), 3)
            p, d, gap = logistic_duality_gap(X, y, est.coef_, None, C=C, penalty="l1")
            rows.append(dict(C=C, library=lib, time_s=t, objective=p, gap=gap,
                             nnz=int(np.count_nonzero(est.coef_))))
    return rows


SECTIONS = {
    "kernels": ("Compiled prox kernels vs numpy", kernels_section),
    "proximal_adam": ("Proximal optimizers on diabetes (L1, alpha=1) vs scipy reference",
                      proximal_adam_section),
    "weight_decay": ("L2 regularization vs decoupled weight decay", weight_decay_section),
    "adam_vs_adamw": ("SGDRegressor: Adam + L2 vs AdamW (decoupled decay), SGD for contrast",
                      adam_vs_adamw_section),
    "lasso": ("Lasso / ElasticNet: fastreg vs scikit-learn (tol 1e-8)", lasso_section),
    "logistic_l1": ("L1 logistic regression on breast_cancer: fastreg vs liblinear (tol 1e-8)",
                    logistic_l1_section),
}


def run(sections=None):
    """Run the demo sections; return ``{name: (title, rows)}``."""
    names = list(SECTIONS) if sections is None else sections
    return {name: (SECTIONS[name][0], SECTIONS[name][1]()) for name in names}
