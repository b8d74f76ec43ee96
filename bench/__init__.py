"""fastreg's benchmark suite.

The files here are scripts (``python bench/lasso.py``); they are also installed
as ``fastreg.bench`` so that ``fastreg bench`` finds them in any installation.
"""
