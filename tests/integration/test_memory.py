"""backend.memory against the real C library, each case in a fresh interpreter: freed 64 KB chunks
(the fan-out's size) made in another thread, with a few survivors among them, stay resident unless
big buffers are kept out of the heap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from backend import memory

ROOT = Path(__file__).resolve().parents[2]
CHURN = """
import sys, threading, psutil
from backend import memory
from backend.streaming import CHUNK_BYTES
if sys.argv[1] == "kept-out":
    assert memory.keep_big_buffers_out_of_the_heap()
rss = lambda: psutil.Process().memory_info().rss / 2**20
kept = []
def churn():  # like a debate: chunks made in a thread of its own and mostly dropped
    chunks = [bytes([n % 256]) * CHUNK_BYTES for n in range(3000)]  # about 190 MB, every page written
    kept.extend(chunks[::50])  # a few survivors, scattered, as the GOP cache keeps some
before = rss()
worker = threading.Thread(target=churn)
worker.start()
worker.join()
print(rss() - before - len(kept) * CHUNK_BYTES / 2**20)
"""


def retained_mb(mode: str) -> float:
    answer = subprocess.run([sys.executable, "-c", CHURN, mode], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert answer.returncode == 0, answer.stderr
    return float(answer.stdout)


def test_freed_chunks_leave_the_process_when_big_buffers_are_kept_out_of_the_heap() -> None:
    if memory._libc() is None:  # noqa: SLF001
        pytest.skip("not glibc: no mallopt to call")
    in_heap, kept_out = retained_mb("heap"), retained_mb("kept-out")
    assert in_heap > 10, f"only {in_heap:.1f} MB stayed resident in the heap: the case guarded against did not arise"
    assert kept_out < 3, f"{kept_out:.1f} MB freed memory stayed resident (heap: {in_heap:.1f} MB)"
