"""Large buffers kept out of glibc's heap, so that a process that runs for months stays its size.

The broadcast moves its video through 64 KB chunks (``streaming.CHUNK_BYTES``), made by an
encoder's reader thread and dropped by the outputs' writer threads, hundreds of MB a debate.
Below glibc's mmap threshold (128 KB at first, and it rises as big blocks are freed) they come
from the malloc heaps, which fragment. In a rehearsal of hourly debates at 600x (a week), the
backend's RSS grew about 4 MB a clock day while Python's own heap (tracemalloc) stayed flat and
``malloc_trim`` gave little back. With the threshold fixed at 32 KB each chunk is a mapping of its
own, returned to the system when it is freed: side by side for 4 clock days, +3 MB instead of
+12 MB after the first debates. The cost is a mmap and a munmap per chunk (a few a second).

Elsewhere than glibc there is nothing to set, and nothing happens.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h
MMAP_THRESHOLD_BYTES = 32 * 1024


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "mallopt") else None


def keep_big_buffers_out_of_the_heap() -> bool:
    """Allocations of 32 KB and more get mappings of their own, for the whole process; True when set."""
    libc = _libc()
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) if libc is not None else False
