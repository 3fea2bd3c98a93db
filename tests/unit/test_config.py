"""ScheduleConfig and environment settings: every bad value is refused with the field and its range."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend import ConfigError, ScheduleConfig, ScheduleType
from backend.config import load_settings

RANGES = {
    "interval_minutes": (1, 10080),
    "max_debates_per_day": (1, 1440),
    "min_interval_minutes": (0, 1440),
    "max_retries": (0, 20),
    "misfire_grace_seconds": (0, 604800),
}


@given(field=st.sampled_from(sorted(RANGES)), value=st.integers(-10**6, 10**6))
def test_integer_fields_accept_exactly_their_range(field: str, value: int) -> None:
    low, high = RANGES[field]
    if low <= value <= high:
        assert getattr(ScheduleConfig(**{field: value}), field) == value
    else:
        with pytest.raises(ConfigError, match=f"{field} must be a whole number {low}-{high}, got {value}"):
            ScheduleConfig(**{field: value})


@given(start=st.integers(-50, 50), end=st.integers(-50, 50))
def test_quiet_hours_must_be_0_to_23(start: int, end: int) -> None:
    if 0 <= start <= 23 and 0 <= end <= 23:
        config = ScheduleConfig(quiet_hours_start=start, quiet_hours_end=end)
        assert config.has_quiet_hours == (start != end)
    else:
        with pytest.raises(ConfigError, match="quiet_hours_(start|end) must be a whole number 0-23"):
            ScheduleConfig(quiet_hours_start=start, quiet_hours_end=end)


@given(value=st.one_of(st.floats(), st.text(max_size=5), st.booleans(), st.none()))
def test_non_integers_are_refused(value: object) -> None:
    with pytest.raises(ConfigError, match="interval_minutes"):
        ScheduleConfig(interval_minutes=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("changes", "message"), [
    ({"schedule_type": "hourly"}, "schedule_type must be one of interval, cron, adaptive, event_driven"),
    ({"schedule_type": "cron"}, "cron_expression is required"),
    ({"cron_expression": "every tuesday"}, "cron_expression must be five fields"),
    ({"timezone": "Mars/Olympus"}, "timezone must be an IANA zone name"),
    ({"quiet_hours_start": 2}, "both be set or both be empty"),
    ({"adaptive_hours": ()}, "adaptive_hours must name at least one hour"),
    ({"adaptive_hours": (9, 25)}, "adaptive_hours entries must be a whole number 0-23"),
])
def test_invalid_settings_name_the_field_and_the_valid_form(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ScheduleConfig(**changes)


def test_config_document_round_trip_and_unknown_fields() -> None:
    config = ScheduleConfig(schedule_type=ScheduleType.CRON, cron_expression="*/5 * * * *", timezone="Asia/Tokyo",
                            quiet_hours_start=23, quiet_hours_end=7, adaptive_hours=(21, 9))
    assert ScheduleConfig.from_doc(config.to_doc()) == config
    assert config.adaptive_hours == (9, 21)
    with pytest.raises(ConfigError, match="unknown schedule settings"):
        ScheduleConfig.from_doc({"intervall_minutes": 5})


def test_environment_settings_and_seed_names(tmp_path) -> None:
    settings = load_settings({"ANALYTICS_DIR": str(tmp_path), "MONITORING_INTERVAL": "30",
                              "AI_COUNCIL_TURN_SECONDS": "0.5", "AI_COUNCIL_LLM_API_KEY": "sk-secret-1234"})
    assert settings.data_dir == tmp_path and settings.monitoring_interval == 30 and settings.turn_seconds == 0.5
    assert "sk-secret" not in repr(settings)
    assert load_settings({"AI_COUNCIL_DATA_DIR": str(tmp_path / "a"), "ANALYTICS_DIR": "b"}).data_dir == tmp_path / "a"


@pytest.mark.parametrize(("name", "value", "message"), [
    ("AI_COUNCIL_TURN_SECONDS", "-1", "AI_COUNCIL_TURN_SECONDS must be a number 0-600, got '-1'"),
    ("MONITORING_INTERVAL", "soon", "MONITORING_INTERVAL must be a number"),
    ("AI_COUNCIL_TIMEZONE", "Nowhere/Land", "timezone must be an IANA zone name"),
    ("AI_COUNCIL_LOG_LEVEL", "LOUD", "AI_COUNCIL_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR"),
])
def test_bad_environment_values_are_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({name: value})
