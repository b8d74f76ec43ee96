"""Estimators (floor 4): Lasso / ElasticNet and their paths and CV, logistic and stochastic models."""
from .cv import ElasticNetCV, LassoCV
from .logistic import LogisticRegression
from .logistic_path import LogisticRegressionCV, logistic_regression_path
from .path import alpha_max, enet_path, lasso_path
from .regression import ElasticNet, Lasso
from .stochastic import SGDClassifier, SGDRegressor

__all__ = ["Lasso", "ElasticNet", "lasso_path", "enet_path", "alpha_max", "LassoCV",
           "ElasticNetCV", "LogisticRegression", "LogisticRegressionCV",
           "logistic_regression_path", "SGDRegressor", "SGDClassifier"]
