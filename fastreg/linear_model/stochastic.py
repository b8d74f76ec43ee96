"""SGDRegressor and SGDClassifier: minibatch SGD / momentum / Nesterov / Adam / AdamW / AMSGrad.

Objective (scikit-learn's SGD objective)::

    1/n sum_i s_i L(y_i, x_i^T w + b) + alpha * ((1 - l1_ratio)/2 ||w||_2^2 + l1_ratio ||w||_1)

trained by compiled minibatch epochs (:mod:`fastreg._sgd`, driven by
:mod:`fastreg.solvers.stochastic`), with per-batch updates that are exactly
those of :mod:`fastreg.optim` on the minibatch gradient
``1/|B| sum_{i in B} s_i dL_i x_i``.

Streaming out-of-core data with ``partial_fit``
-----------------------------------------------
A file too large for memory is opened as a memory map and fed chunk by chunk;
only the current chunk is read from disk (``tests/test_stochastic_streaming.py``
runs this example)::

    import numpy as np
    from fastreg.linear_model.stochastic import SGDRegressor

    n_samples, n_features, chunk = 10_000_000, 100, 100_000
    X = np.memmap("X.f32", dtype=np.float32, mode="r", shape=(n_samples, n_features))
    y = np.memmap("y.f32", dtype=np.float32, mode="r", shape=(n_samples,))
    model = SGDRegressor(optimizer="adam", eta0=1e-3, batch_size=64, random_state=0)
    for epoch in range(3):
        for start in range(0, n_samples, chunk):
            stop = min(start + chunk, n_samples)
            model.partial_fit(X[start:stop], y[start:stop])   # one pass over the chunk
            done = stop / n_samples
            print(f"\\repoch {epoch + 1}: [{'#' * int(40 * done):<40}] {100 * done:5.1f}%",
                  end="", flush=True)
        print()

The optimizer state, the step counter (schedules) and the random generator
(shuffling inside each chunk) persist across ``partial_fit`` calls: ``fit``
for ``E`` epochs equals ``E`` calls of ``partial_fit`` on the same data (with
``tol=None``), and one epoch of ``fit`` equals ``partial_fit`` on consecutive
chunks when ``shuffle=False`` and the chunk sizes are multiples of
``batch_size``.
"""
import math
from functools import partial
from numbers import Integral, Real

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.linear_model._base import LinearClassifierMixin, SparseCoefMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import compute_class_weight
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .._validation import check_sample_weight, check_X, check_X_y
from ..solvers.stochastic import OPTIMIZERS, StochasticSolver, run_epochs
from ._base import ValidatedDecisionMixin, VersionedPickleMixin

__all__ = ["SGDRegressor", "SGDClassifier"]

_REGRESSION_LOSSES = ("squared_error", "huber", "epsilon_insensitive",
                      "squared_epsilon_insensitive")
_CLASSIFICATION_LOSSES = ("hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron")
_SCHEDULES = ("constant", "invscaling", "optimal", "adaptive", "cosine")

_EQUIVALENCES = """
    L2 regularization (``alpha``) vs decoupled weight decay (``weight_decay``)
    ---------------------------------------------------------------------------
    Per step, with ``lambda = alpha * (1 - l1_ratio)`` (``penalty='l2'``:
    ``l1_ratio`` is 0) and ``lr_t`` the learning rate, ``alpha`` adds
    ``lambda * w`` to the minibatch gradient *before* the optimizer sees it,
    ``weight_decay = wd`` shrinks ``w <- (1 - lr_t * wd) w`` before the update,
    outside momentum buffers and Adam's scaling (torch's ``AdamW``). Exactly:

    * ``optimizer='sgd'``: ``w - lr (g + lambda w) = (1 - lr lambda) w - lr g``:
      ``penalty='l2', alpha=lambda`` and ``penalty=None, weight_decay=lambda``
      give the same coefficients (to rounding), for every schedule.
    * ``'momentum'``/``'nesterov'``: not equal: the L2 term enters the momentum
      buffer; only the fixed points coincide, for ``wd = lambda / (1 - momentum)``.
    * ``'adam'``/``'adamw'``/``'amsgrad'``: not equal: the L2 term is divided by
      ``sqrt(v_hat) + eps`` coordinate by coordinate; the decoupled decay is not.
      ``'adamw'`` is ``'adam'`` whose ``weight_decay`` defaults to 0.01.

    L1 (``penalty='l1'`` or ``'elasticnet'``): with ``l1_mode='prox'`` a
    soft-thresholding ``w <- sign(w) max(|w| - tau, 0)`` follows each update
    (exact zeros), ``tau = lr_t * l1`` for SGD, ``lr_t l1 / (1 - momentum)`` for
    momentum / Nesterov, ``lr_t l1 / (sqrt(v_hat) + eps)`` for Adam (the prox in
    Adam's metric): the fixed points are the stationary points of the
    objective, as in ``fastreg.optim`` with ``l1_scaling='effective'``.
    ``l1_mode='cumulative'`` (``optimizer='sgd'`` only) applies instead the
    cumulative penalty of Tsuruoka, Tsujii & Ananiadou (2009) to the
    coordinates present in the batch (non-zero ``x_ij``), which keeps sparse
    streaming updates sparse and gives exact zeros too.

    Sparse input: with ``optimizer='sgd'`` (no averaging) a batch costs
    O(nnz of its rows): the coordinates absent from it are updated lazily in
    closed form (``fastreg._sgd``: weight scaling plus accumulated soft
    thresholds), with the same result as dense updates. Momentum and Adam
    without coupled L2 (``penalty=None`` or 'l1', any ``weight_decay``) use an
    exact active set: an idle coordinate's moments decay in closed form, but
    Adam keeps moving ``w`` by ``m_hat / (sqrt(v_hat) + eps)``, a sum without a
    closed form; it is updated until a bound on that remaining drift is below
    ``2^-52 |w|`` (~300 steps), then frozen until touched again. This helps
    when ``nnz per batch x 300`` is small next to ``n_features``. With coupled
    L2 (``alpha``) or averaging every coordinate is updated at every step
    (without averaging, when batches touch few of many features, the steps of
    the untouched coordinates are deferred and taken several at a time per
    pass over memory: the same arithmetic, fewer memory passes).
"""

_COMMON_PARAMS = """
    penalty : {'l2', 'l1', 'elasticnet'} or None, default='l2'
    alpha : float >= 0, default=1e-4
        Regularization strength (also sets the 'optimal' schedule).
    l1_ratio : float in [0, 1], default=0.15
        Used by 'elasticnet'.
    fit_intercept : bool, default=True
        Unpenalized intercept, updated by the same optimizer (its own state).
    max_iter : int, default=1000
        Maximum number of epochs of ``fit``.
    tol : float or None, default=1e-3
        Stop after ``n_iter_no_change`` epochs whose mean training loss is
        ``> best - tol`` (with ``early_stopping``: validation score ``< best + tol``).
    shuffle : bool, default=True
        Visit the rows in a new random order at each epoch (and inside each
        ``partial_fit`` chunk), from ``numpy.random.default_rng(random_state)``.
    verbose : int, default=0
    epsilon : float, default=0.1
        Of the 'huber' and epsilon-insensitive losses.
    random_state : int, RandomState, Generator or None
    learning_rate : {'constant', 'invscaling', 'optimal', 'adaptive', 'cosine'}
        Schedule over optimizer steps ``t`` (see :mod:`fastreg.solvers.stochastic`):
        ``eta0``, ``eta0 / t^power_t``, ``1 / (alpha (t0 + t - 1))``, ``eta0 / 5^k``
        (divided by 5 when ``n_iter_no_change`` epochs do not improve), cosine
        decay from ``eta0`` to 0 over ``schedule_steps`` steps after ``warmup``.
    eta0 : float > 0, default=0.01
        Base learning rate (for Adam ``1e-3`` is the usual value).
    power_t : float, default=0.25
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for classifiers)
        and stop on its score (R^2 or accuracy).
    validation_fraction : float in (0, 1), default=0.1
    n_iter_no_change : int >= 1, default=5
    warm_start : bool, default=False
        ``fit`` starts from the previous ``coef_``/``intercept_`` (the optimizer
        state and the step counter restart).
    average : bool or int, default=False
        True: ``coef_``/``intercept_`` are the running average of the iterates
        (Polyak-Ruppert); an int ``k``: average from optimizer step ``k`` on.
    optimizer : {'sgd', 'momentum', 'nesterov', 'adam', 'adamw', 'amsgrad'}, default='sgd'
    momentum : float in [0, 1), default=0.9
        For 'momentum' and 'nesterov' (torch's form, no dampening).
    betas : (float, float), default=(0.9, 0.999)
        Adam's moment decay rates.
    eps : float > 0, default=1e-8
        Adam's denominator ``sqrt(v_hat) + eps``.
    batch_size : int >= 1, default=1
        Rows per step (1: classic SGD); the minibatch gradient is the mean.
    weight_decay : float >= 0 or None, default=None
        Decoupled weight decay (None: 0.01 for 'adamw', else 0).
    l1_mode : {'prox', 'cumulative'}, default='prox'
    warmup : int >= 0, default=0
        Linear warmup over the first ``warmup`` optimizer steps (any schedule).
    schedule_steps : int or None, default=None
        Horizon ``T`` (in steps) of the cosine schedule; None in ``fit``:
        ``max_iter * ceil(n_train / batch_size)`` (required by ``partial_fit``).
"""

_COMMON_ATTRS = """
    n_iter_ : int
        Epochs run by the last ``fit`` (1 after ``partial_fit``).
    t_ : int
        Optimizer steps taken since the model was initialized.
    loss_curve_ : list of float
        Mean training loss of each epoch (computed before each update).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
"""


def _sample_weight(sample_weight, X):
    sw = check_sample_weight(sample_weight, X.shape[0], X.dtype, allow_all_zero=True)
    if not np.any(sw > 0):
        raise ValueError("all sample weights are zero: sample_weight must have at least "
                         "one positive entry")
    return sw


def _same_params(a, b):
    """``a == b`` for two ``get_params()`` dicts (False when not comparable)."""
    try:
        return b is not None and bool(a == b)
    except (TypeError, ValueError):
        return False


def _generator(random_state):
    """A numpy Generator from an int, None, RandomState or Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    return np.random.default_rng(random_state)


class _BaseSGD(VersionedPickleMixin, BaseEstimator):
    """Shared parameters, validation and training loop."""

    _parameter_constraints: dict = {
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, None, None, closed="neither"), None],
        "shuffle": ["boolean"],
        "verbose": ["verbose"],
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state", np.random.Generator],
        "learning_rate": [StrOptions(set(_SCHEDULES))],
        "eta0": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, None, None, closed="neither")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "average": [Interval(Integral, 0, None, closed="left"), "boolean"],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "betas": [tuple, list],
        "eps": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left"), None],
        "l1_mode": [StrOptions({"prox", "cumulative"})],
        "warmup": [Interval(Integral, 0, None, closed="left")],
        "schedule_steps": [Interval(Integral, 1, None, closed="left"), None],
    }

    # scikit-learn requires each estimator's ``__init__`` to spell out its parameters
    # (get_params / clone read the signature); the two signatures only differ in
    # their defaults and SGDClassifier's ``class_weight``, and both store their
    # arguments through this one method.
    def _param_values(self):
        """The ``__init__`` parameters' current values (``get_params(deep=False)``
        without its signature inspection at every ``partial_fit`` call)."""
        cls = type(self)
        names = cls.__dict__.get("_init_param_names")
        if names is None:
            names = cls._init_param_names = tuple(cls._get_param_names())
        return {name: getattr(self, name) for name in names}

    def _set_init_params(self, params):
        """Store the ``__init__`` arguments unchanged (``params``: its ``locals()``)."""
        for name, value in params.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # -- hyperparameters --------------------------------------------------------------
    def _penalty_terms(self):
        """``(l2, l1)`` strengths of the objective."""
        if self.penalty is None:
            return 0.0, 0.0
        if self.penalty == "l2":
            return float(self.alpha), 0.0
        if self.penalty == "l1":
            return 0.0, float(self.alpha)
        return float(self.alpha) * (1.0 - self.l1_ratio), float(self.alpha) * self.l1_ratio

    def _check_hyperparameters(self):
        if len(self.betas) != 2 or not all(isinstance(b, Real) and 0 <= b < 1
                                           for b in self.betas):
            raise ValueError(f"betas must be a pair of floats in [0, 1), got {self.betas!r}")
        if self.learning_rate == "optimal" and self.alpha == 0:
            raise ValueError("alpha must be > 0 since learning_rate is 'optimal'")
        if self.l1_mode == "cumulative" and self.optimizer != "sgd":
            raise ValueError("l1_mode='cumulative' requires optimizer='sgd', got "
                             f"optimizer={self.optimizer!r}")

    def _new_solver(self, n_outputs, n_features, dtype, mode, horizon):
        self._check_hyperparameters()
        l2, l1 = self._penalty_terms()
        wd = self.weight_decay
        if wd is None:
            wd = 0.01 if self.optimizer == "adamw" else 0.0
        average = int(self.average)   # True: from step 1; k: from step k
        return StochasticSolver(
            n_outputs, n_features, dtype, loss=self._solver_loss(), mode=mode,
            optimizer=self.optimizer, batch_size=self.batch_size,
            learning_rate=self.learning_rate, eta0=self.eta0, power_t=self.power_t,
            warmup=self.warmup, horizon=horizon, alpha=self.alpha, l2=l2, l1=l1,
            l1_mode=self.l1_mode, weight_decay=wd, momentum=self.momentum,
            betas=tuple(self.betas), eps=self.eps, fit_intercept=self.fit_intercept,
            average=average, epsilon=self.epsilon)

    def _solver_loss(self):
        return self.loss

    # -- training -------------------------------------------------------------------
    def _set_fitted(self, solver):
        coef, intercept = solver.parameters()
        self._store_parameters(coef, intercept)
        self.t_ = solver.t
        self._solver = solver

    def _fit(self, X, y, sample_weight, mode, n_outputs, coef_init, intercept_init,
             stratify=None):
        n, p = X.shape
        rng = _generator(self.random_state)
        train = np.arange(n)
        validation_score = None
        if self.early_stopping:
            seed = int(rng.integers(np.iinfo(np.int32).max))
            splitter = (StratifiedShuffleSplit if stratify is not None else ShuffleSplit)(
                n_splits=1, test_size=self.validation_fraction, random_state=seed)
            train, val = next(splitter.split(np.zeros((n, 1)), stratify))
            if val.shape[0] < 2:
                raise ValueError(f"The validation set ({val.shape[0]} samples) is too small: "
                                 "increase validation_fraction or the number of samples")
            validation = X[val], y[val], sample_weight[val]
            X, y, sample_weight = X[train], np.ascontiguousarray(y[train]), \
                np.ascontiguousarray(sample_weight[train])
        horizon = self.schedule_steps
        if horizon is None:
            horizon = self.max_iter * math.ceil(X.shape[0] / self.batch_size)
        solver = self._new_solver(n_outputs, p, X.dtype, mode, horizon)
        if self.early_stopping:
            validation_score = partial(self._validation_score, solver, *validation)
        if coef_init is not None or intercept_init is not None:
            coef, intercept = solver.parameters(averaged=False)
            if coef_init is not None:
                coef = np.asarray(coef_init, dtype=X.dtype).reshape(n_outputs, p)
            if intercept_init is not None:
                intercept = np.asarray(intercept_init, dtype=X.dtype).reshape(n_outputs)
            solver.set_parameters(coef, intercept)
        try:
            self.n_iter_, self.loss_curve_ = run_epochs(
                solver, X, y, sample_weight, max_iter=self.max_iter, rng=rng,
                shuffle=self.shuffle, tol=self.tol, n_iter_no_change=self.n_iter_no_change,
                validation_score=validation_score, verbose=self.verbose)
        except FloatingPointError:
            self._set_fitted(solver)   # the last finite coefficients
            self.n_iter_ = 0
            raise
        self._set_fitted(solver)
        self._rng = rng
        return self

    def _partial_fit(self, X, y, sample_weight, mode, n_outputs, first):
        if first:
            if self.learning_rate == "cosine" and self.schedule_steps is None:
                raise ValueError("learning_rate='cosine' with partial_fit needs "
                                 "schedule_steps (the total number of optimizer steps)")
            self._solver = self._new_solver(n_outputs, X.shape[1], X.dtype, mode,
                                            self.schedule_steps or math.inf)
            self._rng = _generator(self.random_state)
            self.loss_curve_ = []
        solver = self._solver
        params = self._param_values()
        if not first and not _same_params(params, getattr(self, "_solver_params", None)):
            # the parameters changed (set_params) since the last call: new hyperparameters
            fresh = self._new_solver(n_outputs, X.shape[1], solver.dtype, mode,
                                     self.schedule_steps or math.inf)
            if fresh.state.shape != solver.state.shape or fresh.slots != solver.slots:
                raise ValueError("optimizer, average or l1_mode changed since the first "
                                 "call to partial_fit: the optimizer state does not match")
            if self.schedule_steps is None:
                fresh.hyper["horizon"] = solver.hyper["horizon"]
            solver.hyper, solver.eta, solver._work = fresh.hyper, fresh.eta, fresh._work
        self._solver_params = params
        if X.dtype != solver.dtype:
            X = X.astype(solver.dtype)
            y = y.astype(solver.dtype)
            sample_weight = sample_weight.astype(solver.dtype)
        n = X.shape[0]
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        try:
            loss = solver.epoch(X, y, sample_weight, order)
        finally:
            self._set_fitted(solver)
        self.loss_curve_.append(loss)
        self.n_iter_ = 1
        return self

    def _first_partial_fit(self):
        return not hasattr(self, "_solver") or not hasattr(self, "coef_")

    def _check_X_predict(self, X):
        check_is_fitted(self)
        return check_X(X, estimator=self, reset=False, accept_sparse="csr", order=None)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class SGDRegressor(RegressorMixin, _BaseSGD):
    __doc__ = """Linear regression by minibatch SGD, momentum, Nesterov, Adam, AdamW or AMSGrad.

    Minimizes ``1/n sum_i s_i L(y_i, x_i^T w + b) + alpha ((1 - l1_ratio)/2 ||w||^2
    + l1_ratio ||w||_1)`` with the compiled epochs of :mod:`fastreg._sgd`;
    scikit-learn's ``SGDRegressor`` parameters plus ``optimizer``,
    ``batch_size``, ``weight_decay``, ``l1_mode``, ``warmup`` and
    ``schedule_steps``. One step on the batch ``B`` is the update of
    :mod:`fastreg.optim` (``SGD``/``Adam`` with ``l1_scaling='effective'``) on
    the gradient ``1/|B| sum_{i in B} s_i dL_i x_i``, with ``weight_decay`` as
    the decoupled decay, ``alpha (1 - l1_ratio)`` as the coupled L2 term and
    ``alpha l1_ratio`` as the L1 prox.
""" + _EQUIVALENCES + """
    Parameters
    ----------
    loss : {'squared_error', 'huber', 'epsilon_insensitive',
            'squared_epsilon_insensitive'}, default='squared_error'
        ``(p - y)^2 / 2``; Huber with threshold ``epsilon``; ``max(0, |p - y| - epsilon)``
        (squared).""" + _COMMON_PARAMS + """
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        X's dtype (float32 stays float32). The averaged coefficients with ``average``.
    intercept_ : ndarray of shape (1,)""" + _COMMON_ATTRS + """
    Notes
    -----
    Dense rows are used C-ordered (an F-ordered array is copied once); sparse
    input is used as CSR (converted once otherwise). Sample weights multiply
    each sample's gradient (not equivalent to repeating rows in a stochastic
    method). Divergence (a non-finite score or loss, the learning rate being
    too large) raises ``FloatingPointError``; the model then keeps the
    coefficients of the end of the last finite epoch.

    References
    ----------
    Bottou (2012), "Stochastic Gradient Descent Tricks".
    Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization", ICLR.
    Loshchilov & Hutter (2019), "Decoupled Weight Decay Regularization", ICLR.
    Tsuruoka, Tsujii & Ananiadou (2009), "Stochastic Gradient Descent Training for
    L1-regularized Log-linear Models with Cumulative Penalty", ACL.
    """

    _parameter_constraints: dict = {
        **_BaseSGD._parameter_constraints,
        "loss": [StrOptions(set(_REGRESSION_LOSSES))],
    }

    def __init__(self, loss="squared_error", *, penalty="l2", alpha=1e-4, l1_ratio=0.15,
                 fit_intercept=True, max_iter=1000, tol=1e-3, shuffle=True, verbose=0,
                 epsilon=0.1, random_state=None, learning_rate="invscaling", eta0=0.01,
                 power_t=0.25, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=5, warm_start=False, average=False, optimizer="sgd",
                 momentum=0.9, betas=(0.9, 0.999), eps=1e-8, batch_size=1,
                 weight_decay=None, l1_mode="prox", warmup=0, schedule_steps=None):
        self._set_init_params(locals())

    def _validate(self, X, y, sample_weight, reset):
        if y is None:
            raise ValueError("requires y to be passed, but the target y is None")
        y = column_or_1d(y, warn=True) if hasattr(y, "shape") and np.ndim(y) == 2 else y
        X, y = check_X_y(X, y, estimator=self, reset=reset, accept_sparse="csr", order="C")
        sw = _sample_weight(sample_weight, X)
        return X, y, sw

    def _store_parameters(self, coef, intercept):
        self.coef_ = coef[0]
        self.intercept_ = intercept

    def _validation_score(self, solver, X, y, sw):
        coef, intercept = solver.parameters()
        return r2_score(y, safe_sparse_dot(X, coef[0]) + intercept[0], sample_weight=sw)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit by ``max_iter`` epochs at most (see the class docstring).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        coef_init : array-like of shape (n_features,), optional
        intercept_init : float or array of shape (1,), optional
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        X, y, sw = self._validate(X, y, sample_weight, reset=True)
        if self.warm_start and hasattr(self, "coef_") and coef_init is None:
            coef_init, intercept_init = self.coef_, self.intercept_
        return self._fit(X, y, sw, "single", 1, coef_init, intercept_init)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)``, continuing from the current state.

        The optimizer state, step counter and random generator persist across
        calls; ``X`` must have the number of features of the first call.
        """
        first = self._first_partial_fit()
        X, y, sw = self._validate(X, y, sample_weight, reset=first)
        return self._partial_fit(X, y, sw, "single", 1, first)

    def predict(self, X):
        """``X @ coef_ + intercept_``."""
        X = self._check_X_predict(X)
        return np.asarray(safe_sparse_dot(X, self.coef_)) + self.intercept_[0]


class SGDClassifier(ValidatedDecisionMixin, LinearClassifierMixin, SparseCoefMixin, _BaseSGD):
    __doc__ = """Linear classification by minibatch SGD, momentum, Nesterov, Adam, AdamW or AMSGrad.

    Binary problems train one output with labels ``-1`` (``classes_[0]``) and
    ``+1``. With three or more classes, ``loss='log_loss'`` trains the
    multinomial (softmax) model, one coefficient row per class, on the loss
    ``logsumexp(s) - s_y``; the other losses train one-vs-rest binary outputs
    on the same rows in the same order. Objective and updates as in
    :class:`SGDRegressor`.
""" + _EQUIVALENCES + """
    Parameters
    ----------
    loss : {'hinge', 'log_loss', 'modified_huber', 'squared_hinge', 'perceptron'},
        default='hinge'""" + _COMMON_PARAMS + """
    class_weight : dict, 'balanced' or None, default=None
        Multiplies the sample weight of every sample of a class (for
        one-vs-rest too: scikit-learn weighs only the positive class of each
        binary problem). 'balanced': ``n / (n_classes * bincount(y))``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)""" + _COMMON_ATTRS + """
    References
    ----------
    As :class:`SGDRegressor`.
    """

    _parameter_constraints: dict = {
        **_BaseSGD._parameter_constraints,
        "loss": [StrOptions(set(_CLASSIFICATION_LOSSES))],
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(self, loss="hinge", *, penalty="l2", alpha=1e-4, l1_ratio=0.15,
                 fit_intercept=True, max_iter=1000, tol=1e-3, shuffle=True, verbose=0,
                 epsilon=0.1, random_state=None, learning_rate="optimal", eta0=0.01,
                 power_t=0.5, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=5, class_weight=None, warm_start=False, average=False,
                 optimizer="sgd", momentum=0.9, betas=(0.9, 0.999), eps=1e-8, batch_size=1,
                 weight_decay=None, l1_mode="prox", warmup=0, schedule_steps=None):
        self._set_init_params(locals())

    def _mode(self):
        if len(self.classes_) == 2:
            return "single", 1
        return ("softmax" if self.loss == "log_loss" else "ovr"), len(self.classes_)

    def _validate(self, X, y, sample_weight, reset):
        if y is None:
            raise ValueError("requires y to be passed, but the target y is None")
        if hasattr(y, "shape") and np.ndim(y) == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        X, y = check_X_y(X, y, estimator=self, reset=reset, accept_sparse="csr", order="C",
                         y_numeric=False)
        if reset:   # (later partial_fit chunks: _encode checks the labels against classes_)
            check_classification_targets(y)
        sw = _sample_weight(sample_weight, X)
        return X, y, sw

    def _encode(self, y, sw):
        """Targets for the kernels (+-1 or the class index) and class-weighted sample weights."""
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        unseen = self.classes_[idx] != y
        if np.any(unseen):
            raise ValueError(f"y contains labels not in classes_ {self.classes_.tolist()}: "
                             f"{np.unique(np.asarray(y)[unseen]).tolist()[:10]}")
        if self.class_weight is not None:
            if self.class_weight == "balanced" and not hasattr(self, "_balanced_weights"):
                cw = compute_class_weight("balanced", classes=self.classes_, y=y)
            elif self.class_weight == "balanced":
                cw = self._balanced_weights
            else:
                cw = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
            sw = sw * cw[idx].astype(sw.dtype)
        dtype = sw.dtype
        if len(self.classes_) == 2:
            target = np.where(idx == 1, 1.0, -1.0).astype(dtype)
        else:
            target = idx.astype(dtype)
        return target, np.ascontiguousarray(sw)

    def _store_parameters(self, coef, intercept):
        self.coef_ = coef
        self.intercept_ = intercept

    def _validation_score(self, solver, X, y, sw):
        coef, intercept = solver.parameters()
        scores = np.asarray(safe_sparse_dot(X, coef.T)) + intercept
        if scores.shape[1] == 1:
            pred = (scores[:, 0] > 0).astype(int)
        else:
            pred = scores.argmax(axis=1)
        truth = (y > 0).astype(int) if scores.shape[1] == 1 else y.astype(int)
        return accuracy_score(truth, pred, sample_weight=sw)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit by ``max_iter`` epochs at most (see the class docstring).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        coef_init : array of shape (n_outputs, n_features), optional
        intercept_init : array of shape (n_outputs,), optional
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        X, y, sw = self._validate(X, y, sample_weight, reset=True)
        warm = self.warm_start and hasattr(self, "coef_")
        old = (self.coef_, self.intercept_, self.classes_) if warm else None
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError("SGDClassifier needs samples of at least 2 classes in the data, "
                             f"but the data contains only one class: {self.classes_[0]!r}")
        if hasattr(self, "_balanced_weights"):
            del self._balanced_weights
        target, sw = self._encode(y, sw)
        mode, n_outputs = self._mode()
        if old is not None and coef_init is None and np.array_equal(old[2], self.classes_):
            coef_init, intercept_init = old[0], old[1]
        return self._fit(X, target, sw, mode, n_outputs, coef_init, intercept_init,
                         stratify=target)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over ``(X, y)``, continuing from the current state.

        ``classes`` (all labels of the stream) is required at the first call
        and must not change later; labels outside it raise ``ValueError``.
        ``class_weight='balanced'`` is computed on the first chunk.
        """
        first = self._first_partial_fit()
        X, y, sw = self._validate(X, y, sample_weight, reset=first)
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            classes = np.unique(np.asarray(classes))
            if len(classes) < 2:
                raise ValueError("SGDClassifier needs at least 2 classes, got "
                                 f"{classes.tolist()}")
            self.classes_ = classes
            if hasattr(self, "_balanced_weights"):
                del self._balanced_weights
            if self.class_weight == "balanced":
                present = np.isin(classes, y)
                if not present.all():
                    raise ValueError("class_weight='balanced' with partial_fit needs every "
                                     "class in the first chunk")
                self._balanced_weights = compute_class_weight("balanced", classes=classes, y=y)
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)),
                                                        self.classes_):
            raise ValueError(f"`classes={np.unique(np.asarray(classes)).tolist()}` is not "
                             f"the same as on the first call to partial_fit: "
                             f"{self.classes_.tolist()}")
        target, sw = self._encode(y, sw)
        mode, n_outputs = self._mode()
        return self._partial_fit(X, target, sw, mode, n_outputs, first)

    def _solver_loss(self):
        return self.loss

    def _check_proba(self):
        if self.loss not in ("log_loss", "modified_huber"):
            raise AttributeError(f"probability estimates are not available for loss={self.loss!r}")
        return True

    def decision_function(self, X):
        """Signed scores ``X @ coef_.T + intercept_``, shape (n_samples,) for binary
        problems, (n_samples, n_classes) otherwise (X validated by ``check_X``)."""
        scores = self._decision_function(X)
        return scores.ravel() if scores.shape[1] == 1 else scores

    @available_if(_check_proba)
    def predict_proba(self, X):
        """Class probabilities: sigmoid / softmax for 'log_loss'; for 'modified_huber'
        ``(clip(d, -1, 1) + 1) / 2`` (normalized over classes, as scikit-learn)."""
        check_is_fitted(self)
        scores = self.decision_function(X)
        binary = len(self.classes_) == 2
        if self.loss == "log_loss":
            if binary:
                prob = expit(scores)
                return np.column_stack([1 - prob, prob])
            return softmax(scores, axis=1)
        prob = (np.clip(scores, -1, 1) + 1) / 2
        if binary:
            return np.column_stack([1 - prob, prob])
        total = prob.sum(axis=1)
        zero = total == 0
        prob[zero] = 1.0
        total[zero] = prob.shape[1]
        return prob / total[:, None]

    @available_if(_check_proba)
    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))
