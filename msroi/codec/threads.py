"""The encoder's threads: ``MSROI_THREADS`` (default: all cores this process may use).

Kernels are compiled with ``nogil`` and run on fixed chunks of blocks; a thread pool
hands contiguous runs of chunks to the threads. Chunk boundaries and the order in which
partial sums are added never depend on the thread count, so the output bytes do not.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def count() -> int:
    """Threads to use: ``MSROI_THREADS`` if set (>= 1), else the cores available."""
    env = os.environ.get("MSROI_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_chunks(fn, nchunks: int, *args) -> None:
    """Call ``fn(*args, c0, c1)`` on contiguous ranges of chunk indices covering
    ``0..nchunks`` (one range per thread, or one call with a single thread)."""
    global _pool, _pool_size
    n = min(count(), nchunks)
    if n <= 1:
        fn(*args, 0, nchunks)
        return
    if _pool is None or _pool_size < n:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool, _pool_size = ThreadPoolExecutor(n, thread_name_prefix="msroi"), n
    bounds = [nchunks * i // n for i in range(n + 1)]
    futures = [_pool.submit(fn, *args, bounds[i], bounds[i + 1]) for i in range(n)]
    for f in futures:
        f.result()
