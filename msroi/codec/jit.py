"""numba's ``njit`` for the codec's kernels, with a start-up cost the kernels do not need
skipped in processes that are msroi's own.

numba's CPU target imports ``scipy.linalg`` (0.25-0.45 s here) only to find a BLAS for
``np.dot`` and ``np.linalg``; the codec's kernels call neither. When :data:`SKIP_BLAS` is
set (by ``msroi``'s command line and its worker processes, never by importing msroi),
numba is started with that import made to fail, so it finds no BLAS: numba's linear
algebra is then unavailable for the rest of the process. Nothing changes when scipy.linalg
or numba's array functions are already loaded.
"""

from __future__ import annotations

import sys

#: Start numba without looking for a BLAS (see the module's docstring).
SKIP_BLAS = False


def njit(*args, **kwargs):
    """``numba.njit``, after starting numba as :data:`SKIP_BLAS` says."""
    if SKIP_BLAS and "scipy.linalg" not in sys.modules and "numba.np.arraymath" not in sys.modules:
        sys.modules["scipy.linalg.cython_blas"] = None  # "import" raises ImportError
        try:
            import numba.np.arraymath  # noqa: F401 - checks for the BLAS once, now
        finally:
            del sys.modules["scipy.linalg.cython_blas"]
    from numba import njit as numba_njit

    return numba_njit(*args, **kwargs)
