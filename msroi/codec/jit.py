"""numba's ``njit`` for the codec's kernels, started without its BLAS lookup and its
extension scan in msroi's own processes (:mod:`msroi.lean`: the kernels call no ``np.dot``
or ``np.linalg``, whose lookup imports ``scipy.linalg``, and no numba extension)."""

from __future__ import annotations

import sys


def njit(*args, **kwargs):
    """``numba.njit``; the first call starts numba's array functions as :mod:`msroi.lean` says."""
    if "numba.np.arraymath" not in sys.modules and "scipy.linalg" not in sys.modules:
        from msroi import lean

        with lean.without("scipy.linalg.cython_blas"):
            import numba.np.arraymath  # noqa: F401 - looks for the BLAS once, now
        lean.skip_numba_extensions()
    from numba import njit as numba_njit

    return numba_njit(*args, **kwargs)
