"""Solvers (floor 3): Python outer loops over the compiled kernels."""
from .cd import CDResult, column_stats, enet_cd, weighted_quadratic_cd
from .design import Design, n_threads_default

__all__ = ["CDResult", "Design", "column_stats", "enet_cd", "n_threads_default",
           "weighted_quadratic_cd"]
