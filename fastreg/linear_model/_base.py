"""Shared prediction code of the linear estimators."""
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted

from .._validation import check_X


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
