"""HealthMonitor with hand-made checks: shapes, timeouts, alert rules, callbacks, seed keys."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime

import pytest

from backend.alerting import AlertRule
from backend.errors import ConfigError
from backend.health import AlertSeverity, CheckResult, HealthStatus
from backend.monitoring import HealthMonitor
from backend.timeutil import UTC
from tests.conftest import FakeClock


def monitor(clock: FakeClock | None = None, **options) -> HealthMonitor:
    return HealthMonitor(check_interval_seconds=10, timeout_seconds=options.pop("timeout", 0.5),
                         rule=AlertRule(fail_threshold=3), clock=clock or FakeClock(datetime(2026, 6, 15, tzinfo=UTC)))


def run(coroutine):
    return asyncio.run(coroutine)


def test_registration_refuses_empty_duplicate_and_non_callable_checks() -> None:
    m = monitor()
    m.register_check("api", lambda: (True, "ok"))
    for name, fn, message in (("", lambda: None, "non-empty"), ("api", lambda: None, "already registered"),
                              ("x", "not a function", "must be a function")):
        with pytest.raises(ConfigError, match=message):
            m.register_check(name, fn)
    with pytest.raises(ConfigError, match="no check named 'nope'"):
        run(m.run_check("nope"))
    with pytest.raises(ConfigError, match="check_interval_seconds"):
        HealthMonitor(check_interval_seconds=0)


def test_seed_tuple_async_and_check_result_answers() -> None:
    m = monitor()

    async def check_api():
        return True, "API responding"

    m.register_check("api", check_api)
    m.register_check("disk", lambda: CheckResult(HealthStatus.DEGRADED, "disk 88.0 % used", 88.0, "%"))
    m.register_check("down", lambda: (False, "service error: refused"))
    results = run(m.run_all_checks())
    assert results["api"].status is HealthStatus.HEALTHY and results["api"].message == "API responding"
    assert results["disk"].value == 88.0 and results["disk"].status is HealthStatus.DEGRADED
    assert results["down"].status is HealthStatus.UNHEALTHY
    assert m.get_overall_status() is HealthStatus.UNHEALTHY


@pytest.mark.parametrize(("check", "message"), [
    (lambda: 42, "check returned int, expected (is_healthy, message) or CheckResult"),
    (lambda: 1 / 0, "check raised ZeroDivisionError"),
    (lambda: time.sleep(3), "no answer within 0.5 s"),
])
def test_a_bad_check_is_a_failed_check_and_the_monitor_goes_on(check, message: str) -> None:
    m = monitor()
    m.register_check("bad", check)
    m.register_check("good", lambda: (True, "fine"))
    started = time.monotonic()
    results = run(m.run_all_checks())
    assert time.monotonic() - started < 2.5
    assert results["bad"].status is HealthStatus.UNHEALTHY and message in results["bad"].message
    assert results["good"].status is HealthStatus.HEALTHY


def test_a_hung_check_is_not_started_again_while_it_hangs() -> None:
    release = threading.Event()
    calls = []
    m = monitor(timeout=0.2)
    m.register_check("hang", lambda: calls.append(1) or release.wait(5) or (True, "late"))
    run(m.run_check("hang"))
    second = run(m.run_check("hang"))
    release.set()
    assert "has not returned (hung)" in second.message and len(calls) == 1


def test_an_alert_fires_after_three_failures_and_resolves_with_callbacks() -> None:
    clock = FakeClock(datetime(2026, 6, 15, 14, 0, tzinfo=UTC))
    m = monitor(clock)
    answers = iter([(False, "db down")] * 3 + [(True, "db ok")])
    m.register_check("database", lambda: next(answers))
    told, changes = [], []

    async def on_alert(alert):
        told.append(alert)

    m.on_alert = on_alert
    m.on_health_change = lambda name, old, new: changes.append((name, old, new))
    for _ in range(3):
        run(m.run_check("database"))
        clock.advance(seconds=10)
    assert [a.kind for a in told] == ["firing"] and told[0].severity is AlertSeverity.ERROR
    assert "db down" in told[0].message
    active = m.get_active_alerts()
    assert len(active) == 1 and m.get_alerts_by_severity(AlertSeverity.ERROR) == active
    assert m.get_statistics() == {"overall_status": "unhealthy", "total_checks": 3, "active_alerts": 1,
                                  "registered_checks": 1, "checks": {"database": "unhealthy"}}
    run(m.run_check("database"))
    assert [a.kind for a in told] == ["firing", "resolved"] and told[1].resolved
    assert m.get_active_alerts() == []
    assert changes == [("database", HealthStatus.UNKNOWN, HealthStatus.UNHEALTHY),
                       ("database", HealthStatus.UNHEALTHY, HealthStatus.HEALTHY)]


def test_resolve_alert_by_id_closes_it() -> None:
    m = monitor()
    m.register_check("disk", lambda: CheckResult(HealthStatus.CRITICAL, "disk 99 % used"))
    for _ in range(3):
        run(m.run_check("disk"))
    [alert] = m.get_active_alerts()
    assert alert.severity is AlertSeverity.CRITICAL
    assert m.resolve_alert(alert.alert_id) and m.get_active_alerts() == []
    assert not m.resolve_alert(alert.alert_id)


def test_a_failing_callback_does_not_break_monitoring() -> None:
    m = monitor()
    m.register_check("x", lambda: (False, "broken"))
    m.on_alert = lambda alert: 1 / 0
    for _ in range(4):
        run(m.run_check("x"))
    assert m.get_statistics()["total_checks"] == 4


def test_start_and_stop_monitoring_runs_checks_each_interval() -> None:
    m = HealthMonitor(check_interval_seconds=1, timeout_seconds=1)
    m.register_check("tick", lambda: (True, "ok"))

    async def main():
        task = asyncio.create_task(m.start_monitoring())
        await asyncio.sleep(1.5)
        m.stop_monitoring()
        await asyncio.wait_for(task, 3)

    run(main())
    assert m.get_statistics()["total_checks"] == 2
