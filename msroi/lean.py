"""Start-up shortcuts for processes that are msroi's own: its command line and the worker
processes it starts (they set :data:`OWN_PROCESS`; importing msroi as a library does not).

Some libraries import heavy optional packages they only need for features msroi never
calls: numba imports ``scipy.linalg`` (0.25-0.45 s) to find a BLAS for ``np.dot``, Keras
imports scikit-learn (0.5-1 s on a loaded machine) for its scikit-learn wrappers. Both
treat an ImportError as "not installed", so in msroi's own processes :func:`without`
makes those imports fail while the library starts. The features they back stay
unavailable for the rest of the process; nothing in msroi uses them.
"""

from __future__ import annotations

import contextlib
import sys

#: Set by ``msroi``'s command line and its worker processes.
OWN_PROCESS = False


@contextlib.contextmanager
def without(*modules: str):
    """Inside the block, ``import`` of any of ``modules`` raises ImportError, when this is
    msroi's own process and none of them is loaded yet; otherwise a no-op."""
    if not OWN_PROCESS or any(m in sys.modules for m in modules):
        yield
        return
    for m in modules:
        sys.modules[m] = None  # the import system raises ModuleNotFoundError for these
    try:
        yield
    finally:
        for m in modules:
            if sys.modules.get(m, 0) is None:
                del sys.modules[m]
