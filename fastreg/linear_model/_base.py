"""Shared code of the linear estimators: validated prediction, version-tagged pickles."""
import warnings

from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted

from .._validation import check_X

__all__ = ["ValidatedDecisionMixin", "VersionedPickleMixin", "InconsistentVersionWarning"]


class ValidatedDecisionMixin:
    """``X @ coef_.T + intercept_`` on an ``X`` validated by :func:`fastreg._validation.check_X`.

    scikit-learn's own prediction path does not check the structure of sparse
    input, and a malformed matrix (``indptr`` beyond the data, indices out of
    range) can crash the interpreter in the sparse product; here it raises
    ``ValueError`` instead. Dense input in any memory order is used without a
    copy; sparse input is used as CSR or CSC.
    """

    def _decision_function(self, X):
        check_is_fitted(self)
        X = check_X(X, estimator=self, reset=False, accept_sparse=("csr", "csc"), order=None)
        return safe_sparse_dot(X, self.coef_.T, dense_output=True) + self.intercept_


class InconsistentVersionWarning(UserWarning):
    """An estimator was unpickled by a fastreg version other than the one that pickled it.

    The fitted attributes of a model may change meaning, shape or dtype between
    versions, so predictions of such a model are not guaranteed. Refit the
    model with the running version, or install the version that pickled it.

    Attributes
    ----------
    estimator_name : str
    current_fastreg_version : str
        The running version (``fastreg.__version__``).
    original_fastreg_version : str
        The version that pickled the estimator (``"unknown"`` for pickles made
        before fastreg recorded it).
    """

    def __init__(self, *, estimator_name, current_fastreg_version, original_fastreg_version):
        self.estimator_name = estimator_name
        self.current_fastreg_version = current_fastreg_version
        self.original_fastreg_version = original_fastreg_version

    def __str__(self):
        return (f"Trying to unpickle estimator {self.estimator_name} from fastreg version "
                f"{self.original_fastreg_version} when using version "
                f"{self.current_fastreg_version}. This might lead to breaking code or invalid "
                "results. Use at your own risk: refit the model with this version, or load it "
                "with the version that saved it.")


class VersionedPickleMixin:
    """Record ``fastreg.__version__`` in pickles and warn when another version loads them.

    ``__getstate__`` adds the key ``"__fastreg_version__"`` to the state that the
    next class in the MRO (scikit-learn's ``BaseEstimator``, which records its
    own ``_sklearn_version`` the same way) returns; ``__setstate__`` removes it
    and emits :class:`InconsistentVersionWarning` when it differs from the
    running version or is missing. Put this mixin before ``BaseEstimator`` in
    the bases. Covers ``pickle``, ``joblib`` and ``copy.deepcopy``.
    """

    def __getstate__(self):
        state = super().__getstate__()
        state = dict(state if state is not None else self.__dict__)
        state["__fastreg_version__"] = _version()
        return state

    def __setstate__(self, state):
        original = state.pop("__fastreg_version__", "unknown")
        if original != _version():
            warnings.warn(InconsistentVersionWarning(
                estimator_name=type(self).__name__, current_fastreg_version=_version(),
                original_fastreg_version=original), stacklevel=2)
        parent = getattr(super(), "__setstate__", None)
        if parent is not None:
            parent(state)
        else:   # pragma: no cover (every estimator has BaseEstimator.__setstate__)
            self.__dict__.update(state)


def _version():
    from .. import __version__
    return __version__
