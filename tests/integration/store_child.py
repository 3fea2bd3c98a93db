"""A second process for the storage tests: upserts debate docs and prints each id once it is stored.

Usage: python store_child.py DATA_DIR PREFIX COUNT [--wait]
COUNT 0 upserts until the process is killed. With --wait the child opens the store, prints
"ready" and waits for a line on stdin, so several children can start writing together.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from backend.storage import Store


def main(data_dir: str, prefix: str, count: int, wait: bool) -> None:
    store = Store(Path(data_dir))
    if wait:
        print("ready", flush=True)
        sys.stdin.readline()
    numbers = itertools.count() if count == 0 else range(count)
    for number in numbers:
        debate_id = f"{prefix}_{number}"
        store.debates.upsert(
            {"debate_id": debate_id, "scheduled_time": "2026-12-03T16:00:00+00:00", "topic": prefix}
        )
        print(debate_id, flush=True)  # only after the upsert returned: a printed id must be on disk


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), "--wait" in sys.argv[4:])
