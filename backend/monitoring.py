"""HealthMonitor: the seed README's monitor, measuring for real and alerting by rule.

Each registered check runs under its own timeout (a hung check is a failed check, never a hung
monitor); sync and async check functions are both accepted, and the seed's ``(is_healthy,
message)`` answer as well as a ``CheckResult``. Each result goes through the pure alert rules of
``alerting.py``; what they say should be told goes to ``on_alert``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable, Union

from .alertbook import AlertBook
from .alerting import AlertRule, Notification
from .errors import ConfigError
from .health import AlertSeverity, CheckResult, HealthCheck, HealthStatus, worst
from .storage import Store
from .timeutil import Clock, from_iso, utc_now

log = logging.getLogger(__name__)

CheckAnswer = Union[CheckResult, "tuple[bool, str]"]
CheckFunction = Callable[[], Union[CheckAnswer, Awaitable[CheckAnswer]]]
CONDITION = "check"  # a check's alerts are (check name, "check") in the AlertBook
HISTORY = 500  # results kept per check in memory (the store keeps the long history)


@dataclass(frozen=True)
class Alert:
    """What ``on_alert`` receives and ``get_active_alerts`` lists (the seed's alert object)."""

    alert_id: str
    component: str
    severity: AlertSeverity
    message: str
    timestamp: datetime
    kind: str = "firing"  # firing | escalated | reminder | resolved | open
    resolved: bool = False


def normalize(answer: Any) -> CheckResult:
    """A check's answer as a CheckResult; a wrong shape is a failed check that says what it got."""
    if isinstance(answer, CheckResult):
        return answer
    if isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], bool):
        healthy, message = answer
        return CheckResult(HealthStatus.HEALTHY if healthy else HealthStatus.UNHEALTHY, str(message))
    return CheckResult(HealthStatus.UNHEALTHY,
                       f"check returned {type(answer).__name__}, expected (is_healthy, message) or CheckResult")


class HealthMonitor:
    """Continuous health monitoring with alerts (seed API)."""

    def __init__(self, check_interval_seconds: float = 60, *, timeout_seconds: float = 10.0,
                 rule: AlertRule | None = None, clock: Clock = utc_now, book: AlertBook | None = None) -> None:
        if not isinstance(check_interval_seconds, (int, float)) or not 1 <= check_interval_seconds <= 86400:
            raise ConfigError(f"check_interval_seconds must be 1-86400, got {check_interval_seconds!r}")
        if not isinstance(timeout_seconds, (int, float)) or not 0 < timeout_seconds <= 600:
            raise ConfigError(f"timeout_seconds must be more than 0 and at most 600, got {timeout_seconds!r}")
        self.check_interval_seconds = float(check_interval_seconds)
        self.timeout_seconds = float(timeout_seconds)
        # The alerts: kept in memory by default, in a data directory's Store when given its book.
        self.book = book or AlertBook(Store(None), clock=clock, rule=rule)
        self.rule = self.book.rule
        self._clock = clock
        self._checks: dict[str, CheckFunction] = {}
        self.history: dict[str, deque[HealthCheck]] = {}
        self._busy: set[str] = set()  # a sync check still running from an earlier run (hung)
        self._lock = threading.Lock()
        self._stopping: asyncio.Event | None = None  # created in start_monitoring's own loop
        self.total_checks = 0
        self.on_alert: Callable[[Alert], Any] | None = None
        self.on_health_change: Callable[[str, HealthStatus, HealthStatus], Any] | None = None

    # ---- registration ---------------------------------------------------------------------------

    def register_check(self, name: str, check_fn: CheckFunction) -> None:
        """Register a check: a function (sync or async) answering CheckResult or (is_healthy, message)."""
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a check name must be non-empty text")
        if name in self._checks:
            raise ConfigError(f"a check named {name!r} is already registered")
        if not callable(check_fn):
            raise ConfigError(f"check {name!r} must be a function, got {type(check_fn).__name__}")
        self._checks[name] = check_fn
        self.history[name] = deque(maxlen=HISTORY)

    @property
    def check_names(self) -> list[str]:
        return list(self._checks)

    # ---- running --------------------------------------------------------------------------------

    async def run_check(self, name: str) -> HealthCheck:
        """Run one check under its timeout, apply the alert rules, tell ``on_alert``; returns the result."""
        if name not in self._checks:
            raise ConfigError(f"no check named {name!r}; registered: {', '.join(self._checks) or 'none'}")
        started = self._clock()
        clock_start = asyncio.get_running_loop().time()
        result = await self._measure(name)
        duration = (asyncio.get_running_loop().time() - clock_start) * 1000
        check = HealthCheck(name, result.status, result.message, started, round(duration, 1), result.value,
                            result.unit)
        await self._record(name, check, result)
        return check

    async def _measure(self, name: str) -> CheckResult:
        function = self._checks[name]
        if name in self._busy:
            return CheckResult(HealthStatus.UNHEALTHY, "the previous run of this check has not returned (hung)")
        try:
            if inspect.iscoroutinefunction(function):
                answer = await asyncio.wait_for(function(), self.timeout_seconds)
            else:
                answer = await asyncio.wait_for(self._in_thread(name, function), self.timeout_seconds)
            return normalize(answer)
        except asyncio.TimeoutError:
            return CheckResult(HealthStatus.UNHEALTHY, f"no answer within {self.timeout_seconds:g} s")
        except Exception as exc:  # a check that raises is a failed check, never a failed monitor
            return CheckResult(HealthStatus.UNHEALTHY, f"check raised {type(exc).__name__}: {exc}")

    async def _in_thread(self, name: str, function: CheckFunction) -> Any:
        """Run a sync check in its own thread; a hung one keeps its mark until it returns."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._busy.add(name)

        def work() -> None:
            answer: Any = None
            error: BaseException | None = None
            try:
                answer = function()
                if inspect.isawaitable(answer):
                    answer = asyncio.run(answer)  # type: ignore[arg-type]
            except Exception as exc:
                error = exc
            finally:
                self._busy.discard(name)
            try:
                loop.call_soon_threadsafe(_settle, future, answer, error)
            except RuntimeError:  # the run that waited for it is over (it timed out): nobody listens
                pass

        threading.Thread(target=work, name=f"check-{name}", daemon=True).start()
        return await future

    async def _record(self, name: str, check: HealthCheck, result: CheckResult) -> None:
        with self._lock:
            before = self.history[name][-1].status if self.history[name] else HealthStatus.UNKNOWN
            self.history[name].append(check)
            self.total_checks += 1
        notifications = self.book.observe(name, CONDITION, result)
        if before is not check.status and self.on_health_change is not None:
            await _call(self.on_health_change, name, before, check.status)
        for notification in notifications:
            if self.on_alert is not None:
                await _call(self.on_alert, self._alert(notification))

    async def run_all_checks(self) -> dict[str, HealthCheck]:
        """Every registered check, concurrently."""
        names = list(self._checks)
        results = await asyncio.gather(*(self.run_check(name) for name in names))
        return dict(zip(names, results))

    def run_all_checks_blocking(self) -> dict[str, HealthCheck]:
        """For a thread without an event loop (the Supervisor's)."""
        return asyncio.run(self.run_all_checks())

    async def start_monitoring(self) -> None:
        """Run every check each ``check_interval_seconds`` until ``stop_monitoring()``."""
        self._stopping = stopping = asyncio.Event()
        while not stopping.is_set():
            await self.run_all_checks()
            try:
                await asyncio.wait_for(stopping.wait(), self.check_interval_seconds)
            except asyncio.TimeoutError:
                continue

    def stop_monitoring(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    # ---- reading --------------------------------------------------------------------------------

    def get_overall_status(self) -> HealthStatus:
        latest = [history[-1].status for history in self.history.values() if history]
        return worst(latest)

    def get_active_alerts(self) -> list[Alert]:
        """Every open alert of the book: this monitor's checks', and events' when the book is shared."""
        return [Alert(doc["alert_id"], doc["component"], AlertSeverity(doc.get("severity", "warning")),
                      doc.get("message", ""), from_iso(doc.get("fired_at") or doc.get("first_seen")) or self._clock(),
                      kind="open") for doc in self.book.open_alerts()]

    def get_alerts_by_severity(self, severity: AlertSeverity) -> list[Alert]:
        wanted = AlertSeverity(severity)
        return [alert for alert in self.get_active_alerts() if alert.severity is wanted]

    def resolve_alert(self, alert_id: str) -> bool:
        """Close an open alert by hand; False when no open alert has that id."""
        return self.book.resolve(alert_id)

    def acknowledge_alert(self, alert_id: str) -> bool:
        """Stop reminders for an open alert; False when no open alert has that id."""
        return self.book.acknowledge(alert_id)

    def get_statistics(self) -> dict[str, Any]:
        """The seed's keys: overall status, total checks run, active alerts; plus each check's status."""
        latest = {name: history[-1].status.value if history else HealthStatus.UNKNOWN.value
                  for name, history in self.history.items()}
        return {
            "overall_status": self.get_overall_status().value,
            "total_checks": self.total_checks,
            "active_alerts": len(self.get_active_alerts()),
            "registered_checks": len(self._checks),
            "checks": latest,
        }

    def _alert(self, notification: Notification) -> Alert:
        state = notification.alert
        return Alert(state.alert_id, state.component, state.severity or AlertSeverity.INFO, notification.text,
                     self._clock(), kind=notification.kind, resolved=notification.kind == "resolved")


def _settle(future: asyncio.Future[Any], answer: Any, error: BaseException | None) -> None:
    if future.done():  # the wait already timed out
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(answer)


async def _call(callback: Callable[..., Any], *args: Any) -> None:
    """A user's callback (sync or async); its failure is logged, never the monitor's."""
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("health callback %s failed", getattr(callback, "__name__", callback))
