"""What the Prometheus exporter reads: monotonic debate counters and the supervisor's snapshot.

Counters count from the process start, as Prometheus expects of a counter (``rate()`` handles
the reset at a restart). Finished debates leave the live schedule after two days, so the tally
remembers which ones it has counted only while they are there to be seen again.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Iterable

from .models import DebateStatus, ScheduledDebate


class FinishedTally:
    """Completed and failed debates that ended after ``since``, and their durations."""

    def __init__(self, since: datetime) -> None:
        self.since = since
        self.completed = 0
        self.failed = 0
        self.durations: list[float] = []
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def update(self, debates: Iterable[ScheduledDebate]) -> None:
        with self._lock:
            present = set()
            for debate in debates:
                if debate.status not in (DebateStatus.COMPLETED, DebateStatus.FAILED):
                    continue
                if debate.actual_end_time is None or debate.actual_end_time < self.since:
                    continue
                present.add(debate.debate_id)
                if debate.debate_id in self._seen:
                    continue
                if debate.status is DebateStatus.COMPLETED:
                    self.completed += 1
                else:
                    self.failed += 1
                if debate.actual_start_time is not None:
                    self.durations.append((debate.actual_end_time - debate.actual_start_time).total_seconds())
            self._seen = present  # forget what left the schedule: it cannot come back

    def doc(self, running: int) -> dict[str, Any]:
        with self._lock:
            return {"completed": self.completed, "failed": self.failed, "running": running,
                    "durations_seconds": list(self.durations)}
