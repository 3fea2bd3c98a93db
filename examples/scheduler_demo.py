"""A short, unattended run of the scheduler through the seed README's API.

    .venv/bin/python examples/scheduler_demo.py

Plans three debates a few seconds apart, adds a breaking-news event, runs them with the offline
demo council (one second a turn), prints what happened, and exits 0 only if every debate completed.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend import DebateStatus, DemoCouncil, EventTriggeredScheduler, ScheduleConfig, ScheduleType, Store  # noqa: E402


async def main() -> int:
    config = ScheduleConfig(schedule_type=ScheduleType.EVENT_DRIVEN, min_interval_minutes=0)
    scheduler = EventTriggeredScheduler(config, store=Store(None), runner=DemoCouncil(turn_seconds=0.2, rounds=2))

    async def on_start(debate):
        print(f"  on air   {debate.topic}")

    async def on_complete(debate):
        outcome = debate.outcome
        print(f"  finished {debate.topic}: verdict {outcome['verdict']}, consensus {outcome['consensus_level']:.0%}")

    scheduler.set_callbacks(on_start=on_start, on_complete=on_complete)
    now = datetime.now()
    for seconds, topic in ((1, "AI Regulation"), (3, "Universal basic income"), (5, "Remote work")):
        scheduler.schedule_debate(now + timedelta(seconds=seconds), topic)
    scheduler.trigger_debate_from_event({"topic": "Breaking News Event", "urgency": "high"})
    print("Scheduled:", ", ".join(d.topic for d in scheduler.get_schedule()))

    task = asyncio.create_task(scheduler.start())
    while any(d.status in (DebateStatus.PENDING, DebateStatus.RUNNING) for d in scheduler.get_schedule()):
        await asyncio.sleep(0.2)
    await scheduler.stop()
    await task

    stats = scheduler.get_statistics()
    print(f"Statistics: {stats['completed']} completed, {stats['failed']} failed, "
          f"success rate {stats['success_rate']} %")
    return 0 if stats["completed"] == stats["total_scheduled"] == 4 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
