"""Pure view models of the Analytics page: periods, chart frames (aggregated before drawing)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

import pandas as pd

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
PERIODS = {"24 h": 1, "7 d": 7, "30 d": 30, "Custom": None}
MEASURES = {"cpu_percent": "CPU", "memory_percent": "memory", "disk_percent": "disk", "net_sent_bps": "sent",
            "net_recv_bps": "received"}
MAX_POINTS = 800  # a line chart never gets more points than this (downsampled by time)


def period(choice: str, custom: Sequence[date] | None, now: datetime, zone: ZoneInfo) -> tuple[int, datetime]:
    """(days, end) for the analytics calls: whole local days ending today, or the custom range."""
    days = PERIODS.get(choice)
    if days is not None:
        return days, now
    if not custom or len(custom) != 2:
        raise ValueError("choose the first and the last day of the period")
    first, last = sorted(custom)
    span = (last - first).days + 1
    if span > 3650:
        raise ValueError(f"a period is at most 3650 days, got {span}")
    end = datetime.combine(last, time(23, 59, 59), zone)
    return span, min(end, now)


def figure(value: float | None, unit: str = "", digits: int = 0) -> str:
    """A figure for a metric card; — when unknown (never a made-up zero)."""
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{unit}"


def debates_per_day(stats: Mapping[str, Any]) -> pd.DataFrame:
    """Long form for a stacked bar chart: day, outcome, count."""
    rows = [{"day": row["date"], "outcome": outcome, "debates": row[outcome]}
            for row in stats.get("debates_per_day", []) for outcome in ("completed", "failed", "interrupted")
            if row.get(outcome)]
    return pd.DataFrame(rows, columns=["day", "outcome", "debates"])


def debate_points(rows: Iterable[Mapping[str, Any]], zone: ZoneInfo) -> pd.DataFrame:
    """One row per debate (duration, consensus, controversy, engagement) for scatter charts."""
    frame = pd.DataFrame([{
        "start": pd.Timestamp(row["start_time"]).tz_convert(zone).tz_localize(None),
        "topic": row.get("topic", ""), "status": row.get("status", ""),
        "minutes": (row.get("duration_seconds") or 0) / 60, "consensus": row.get("consensus"),
        "controversy": row.get("controversy"), "engagement": row.get("engagement_score"),
        "response length": row.get("avg_response_length"), "confidence": row.get("avg_confidence"),
        "peak viewers": row.get("viewer_count_peak"),
    } for row in rows])
    return frame


def daily_quality(points: pd.DataFrame) -> pd.DataFrame:
    """Per day: mean duration, response length, confidence, consensus, controversy (long form)."""
    if points.empty:
        return pd.DataFrame(columns=["day", "measure", "value"])
    frame = points.assign(day=points["start"].dt.floor("D"))
    means = frame.groupby("day")[["minutes", "response length", "confidence", "consensus", "controversy"]].mean()
    return means.reset_index().melt(id_vars="day", var_name="measure", value_name="value").dropna()


def platform_rows(stats: Mapping[str, Any]) -> pd.DataFrame:
    """The streaming statistics per platform as a table."""
    rows = []
    for name, figures in sorted((stats.get("platforms") or {}).items()):
        rows.append({"Platform": name, "Streams": figures.get("streams"),
                     "Peak viewers": figures.get("peak_viewers"), "Avg viewers": figures.get("avg_viewers"),
                     "Avg kbps": figures.get("avg_bitrate_kbps"), "Uptime %": figures.get("avg_uptime_percentage"),
                     "Frame drops %": None if figures.get("avg_frame_drop_rate") is None
                     else 100 * figures["avg_frame_drop_rate"],
                     "Sent MB": (figures.get("total_bytes_sent") or 0) / 1e6, "Reconnects": figures.get("reconnects")})
    return pd.DataFrame(rows, columns=["Platform", "Streams", "Peak viewers", "Avg viewers", "Avg kbps", "Uptime %",
                                       "Frame drops %", "Sent MB", "Reconnects"])


def system_lines(hourly: Sequence[Mapping[str, Any]], zone: ZoneInfo, fields: Sequence[str]) -> pd.DataFrame:
    """System figures over time in long form, downsampled to at most MAX_POINTS times."""
    frame = pd.DataFrame(list(hourly))
    if frame.empty or not set(fields) <= set(frame.columns):
        return pd.DataFrame(columns=["time", "measure", "value"])
    frame["time"] = pd.to_datetime(frame["ts"], utc=True).dt.tz_convert(zone).dt.tz_localize(None)
    frame = frame[["time", *fields]].dropna(how="all", subset=list(fields))
    if len(frame) > MAX_POINTS:
        step = pd.Timedelta(frame["time"].max() - frame["time"].min()) / MAX_POINTS
        frame = frame.set_index("time").resample(step.ceil("h")).mean().reset_index()
    long = frame.melt(id_vars="time", var_name="measure", value_name="value").dropna()
    long["measure"] = long["measure"].map(lambda name: MEASURES.get(name, name))
    return long


def heatmap(by_hour_of_week: Iterable[Mapping[str, Any]], picks: Mapping[int, Sequence[Any]]) -> pd.DataFrame:
    """Every weekday x hour with its measured engagement and, where ADAPTIVE picked it, why."""
    measured = {(row["weekday"], row["hour"]): row for row in by_hour_of_week}
    chosen = {(weekday, choice.hour): choice for weekday, choices in picks.items() for choice in choices}
    rows = []
    for weekday in range(7):
        for hour in range(24):
            row = measured.get((weekday, hour), {})
            choice = chosen.get((weekday, hour))
            rows.append({"weekday": WEEKDAYS[weekday], "hour": hour, "engagement": row.get("avg_engagement"),
                         "debates": row.get("debates", 0),
                         "pick": choice.kind if choice is not None else "",
                         "why": choice.reason if choice is not None else ""})
    return pd.DataFrame(rows)

