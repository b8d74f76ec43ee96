"""Estimators (floor 4): Lasso / ElasticNet and their paths."""
from .path import alpha_max, enet_path, lasso_path
from .regression import ElasticNet, Lasso
from .cv import LassoCV, ElasticNetCV

__all__ = ["Lasso", "ElasticNet", "lasso_path", "enet_path", "alpha_max"]
