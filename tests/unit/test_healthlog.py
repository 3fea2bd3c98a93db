"""The health series: samples that survive rollups, uptime with known answers, status strips."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from backend.health import HealthCheck, HealthStatus
from backend.healthlog import beats, components, round_sample, uptime
from backend.storage import Store
from backend.timeutil import UTC

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def check(name, status, ms=2.0, message="ok"):
    return HealthCheck(name, status, message, T0, ms)


def test_round_sample_keeps_status_uptime_duration_and_only_bad_messages():
    sample = round_sample({"disk": check("disk", HealthStatus.HEALTHY),
                           "cpu": check("cpu", HealthStatus.CRITICAL, 5.5, "cpu 99 %"),
                           "tts": check("tts", HealthStatus.UNKNOWN)}, T0)
    assert sample["up.disk"] == 1 and sample["up.cpu"] == 0 and "up.tts" not in sample
    assert sample["ms.cpu"] == 5.5 and sample["msg.cpu"] == "cpu 99 %" and "msg.disk" not in sample
    assert sample["st.tts"] == "unknown"


def test_degraded_counts_as_up():
    assert round_sample({"m": check("m", HealthStatus.DEGRADED)}, T0)["up.m"] == 1


def test_uptime_weights_rollup_rows_by_their_rounds(tmp_path):
    store = Store(tmp_path, raw_retention_days=1)
    # 10 days: one round a minute; the disk is down for exactly 36 rounds on day 2.
    for minute in range(10 * 24 * 60):
        when = T0 + timedelta(minutes=minute)
        down = 24 * 60 <= minute < 24 * 60 + 36
        store.append_sample("health", round_sample(
            {"disk": check("disk", HealthStatus.UNHEALTHY if down else HealthStatus.HEALTHY)}, when))
    store.flush()
    end = T0 + timedelta(days=10)
    store.roll_up(end)  # everything older than a day is rollup rows now
    rows = store.samples("health", T0, end)
    assert any(row.get("rollup") for row in rows) and not all(row.get("rollup") for row in rows)
    assert uptime(rows, "disk", T0, end) == pytest.approx(1 - 36 / (10 * 24 * 60))
    assert uptime(rows, "disk", end - timedelta(days=1), end) == 1.0
    assert uptime(rows, "nothing", T0, end) is None
    assert components(rows) == ["disk"]


def test_beats_are_the_last_raw_results_in_order():
    samples = [round_sample({"disk": check("disk", status, message=f"m{i}")}, T0 + timedelta(minutes=i))
               for i, status in enumerate([HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.HEALTHY])]
    samples.insert(0, {"ts": T0.isoformat(), "rollup": True, "count": 60, "up.disk": 1.0})
    found = beats(samples, "disk", last=2)
    assert [b.status for b in found] == [HealthStatus.DEGRADED, HealthStatus.HEALTHY]
    assert found[0].message == "m1" and found[1].message == ""
