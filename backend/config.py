"""Process settings read from the environment; every one is listed in README.md's settings table."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import ConfigError
from .timeutil import resolve_zone


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number {low:g}-{high:g}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be a number {low:g}-{high:g}, got {raw!r}")
    return value


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    turn_seconds: float = 20.0
    monitoring_interval: float = 60.0
    timezone: str | None = None
    retention_days: int = 365
    raw_retention_days: int = 7
    llm_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None  # secret: never logged or shown
    debate_command: str | None = None
    log_level: str = "INFO"
    broadcast: bool = True  # render and stream each debate (off: debates run without video)
    between_debates: str = "stop"  # "slate": stay live between debates, showing the next one
    recording_retention_days: int = 30
    recording_min_free_mb: int = 1024
    encode_preset: str = "veryfast"
    alert_retention_days: int = 90
    metrics_port: int = 0  # serve Prometheus /metrics on this port; 0 = off
    metrics_address: str = "127.0.0.1"

    def __repr__(self) -> str:  # the dataclass repr would print the api key
        key = "set" if self.llm_api_key else "unset"
        return f"Settings(data_dir={str(self.data_dir)!r}, llm_api_key={key})"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: os.environ); a bad value is a ConfigError naming it."""
    env = os.environ if env is None else env
    data_dir = _text(env, "AI_COUNCIL_DATA_DIR") or _text(env, "ANALYTICS_DIR") or "data"
    zone = _text(env, "AI_COUNCIL_TIMEZONE")
    if zone:
        resolve_zone(zone)
    level = (_text(env, "AI_COUNCIL_LOG_LEVEL") or "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"AI_COUNCIL_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
    broadcast = (_text(env, "AI_COUNCIL_BROADCAST") or "on").lower()
    if broadcast not in {"on", "off"}:
        raise ConfigError(f"AI_COUNCIL_BROADCAST must be on or off, got {broadcast!r}")
    between = (_text(env, "AI_COUNCIL_BETWEEN_DEBATES") or "stop").lower()
    if between not in {"stop", "slate"}:
        raise ConfigError(f"AI_COUNCIL_BETWEEN_DEBATES must be stop or slate, got {between!r}")
    preset = _text(env, "AI_COUNCIL_X264_PRESET") or "veryfast"
    if preset not in X264_PRESETS:
        raise ConfigError(f"AI_COUNCIL_X264_PRESET must be one of {', '.join(X264_PRESETS)}, got {preset!r}")
    return Settings(
        data_dir=Path(data_dir).expanduser().resolve(),
        turn_seconds=_number(env, "AI_COUNCIL_TURN_SECONDS", 20.0, 0.0, 600.0),
        monitoring_interval=_number(env, "MONITORING_INTERVAL", 60.0, 1.0, 86400.0),
        timezone=zone,
        retention_days=int(_number(env, "AI_COUNCIL_RETENTION_DAYS", 365, 1, 3650)),
        raw_retention_days=int(_number(env, "AI_COUNCIL_RAW_RETENTION_DAYS", 7, 1, 365)),
        llm_url=_text(env, "AI_COUNCIL_LLM_URL"),
        llm_model=_text(env, "AI_COUNCIL_LLM_MODEL"),
        llm_api_key=_text(env, "AI_COUNCIL_LLM_API_KEY"),
        debate_command=_text(env, "AI_COUNCIL_DEBATE_COMMAND"),
        log_level=level,
        broadcast=broadcast == "on",
        between_debates=between,
        recording_retention_days=int(_number(env, "AI_COUNCIL_RECORDING_RETENTION_DAYS", 30, 1, 3650)),
        recording_min_free_mb=int(_number(env, "AI_COUNCIL_RECORDING_MIN_FREE_MB", 1024, 0, 10**7)),
        encode_preset=preset,
        alert_retention_days=int(_number(env, "AI_COUNCIL_ALERT_RETENTION_DAYS", 90, 1, 3650)),
        metrics_port=int(_number(env, "AI_COUNCIL_METRICS_PORT", 0, 0, 65535)),
        metrics_address=_text(env, "AI_COUNCIL_METRICS_ADDRESS") or "127.0.0.1",
    )
