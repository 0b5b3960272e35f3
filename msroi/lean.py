"""Start-up shortcuts (and one malloc setting) for processes that are msroi's own: its
command line and the worker processes it starts (they set :data:`OWN_PROCESS`; importing
msroi as a library does not), and the workflow's jobs (:func:`reuse_freed_memory` also).

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


def skip_numba_extensions() -> None:
    """In msroi's own processes, mark numba's extension entry points as loaded before its
    first compilation: finding them reads the metadata of every installed package (about
    20 ms of a 0.8 s start) and msroi's kernels use no numba extension."""
    if OWN_PROCESS:
        from numba.core import entrypoints

        entrypoints._already_initialized = True


def reuse_freed_memory() -> None:
    """Let glibc's malloc serve arrays up to 32 MiB from its heap and keep freed memory
    there, instead of mapping fresh zeroed pages for every large temporary and unmapping
    them on free: the metrics allocate hundreds of megabytes of short-lived 4 MP planes per
    image pair, and on this VM the page faults cost as much as the arithmetic (SSIM and
    MS-SSIM: 1.1 s system time of 1.6 s per 4 MP pair, 0.07 s after; a third of a 24 MP
    semantic encode). Freed memory stays with the process until it exits, so this is for
    msroi's own processes (the command, its workers, the workflow's jobs), whose peak it
    does not raise (41 B/px at 24 MP either way). A no-op without glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    mallopt(m_mmap_threshold, 32 * 2**20)
    mallopt(m_trim_threshold, 2**30)
