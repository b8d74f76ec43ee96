"""Solvers (floor 3): Python outer loops over the compiled kernels."""
from .cd import CDResult, column_stats, enet_cd, weighted_quadratic_cd

__all__ = ["CDResult", "column_stats", "enet_cd", "weighted_quadratic_cd"]
