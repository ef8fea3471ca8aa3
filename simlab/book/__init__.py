"""Order-book building blocks shared by readers and engines.

``simlab.book._levels`` holds a dense price-grid L2 level book for numba kernels (see its module docstring).
"""
