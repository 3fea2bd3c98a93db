"""parse_event and event_from_dict: what an event file may hold and how a bad one is refused."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.errors import ConfigError
from backend.events import MAX_EVENT_BYTES, URGENCIES, DebateEvent, event_from_dict, parse_event
from backend.models import MAX_TOPIC_CHARS

NOW = datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)


def parse(raw: bytes | str) -> DebateEvent:
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    return parse_event(data, received_at=NOW)


def refusal(raw: bytes | str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    return str(caught.value)


def test_valid_event_is_trimmed_defaulted_and_keeps_extra_fields() -> None:
    event = parse('{"topic": "  Should   AI vote?  ", "reason": "news", "score": 0.75, "rank": 3}')
    assert event.topic == "Should AI vote?"
    assert event.urgency == "normal"
    assert event.source == "inbox"
    assert event.received_at == NOW
    assert event.details == {"reason": "news", "score": 0.75, "rank": 3}


def test_urgency_and_source_are_taken() -> None:
    event = parse_event(b'{"topic": "T", "urgency": "high"}', source="dashboard", received_at=NOW)
    assert (event.urgency, event.source) == ("high", "dashboard")


def test_received_at_is_converted_to_utc() -> None:
    local = NOW.astimezone(timezone(timedelta(hours=2)))
    event = parse_event(b'{"topic": "T"}', received_at=local)
    assert event.received_at == NOW and event.received_at.tzinfo == timezone.utc


def test_details_keep_only_small_strings_and_numbers() -> None:
    event = parse(json.dumps({
        "topic": "T", "nested": {"a": 1}, "list": [1], "flag": True, "none": None,
        "long": "x" * 5000, "huge": 10**30, "k" * 100: "v",
    }))
    assert event.details == {"long": "x" * 500}


def test_byte_order_mark_is_tolerated() -> None:
    assert parse(b'\xef\xbb\xbf{"topic": "T"}').topic == "T"


def test_huge_file_names_its_size_and_the_limit() -> None:
    raw = b'{"topic": "T", "pad": "' + b"x" * 70000 + b'"}'
    assert refusal(raw) == f"event file is {len(raw)} bytes; the limit is {MAX_EVENT_BYTES}"


def test_not_utf8() -> None:
    assert "not UTF-8" in refusal(b'{"topic": "\xff\xfe"}')


def test_not_json_includes_the_json_error() -> None:
    message = refusal('{"topic": ')
    assert "not valid JSON" in message and "Expecting value" in message


def test_deep_nesting_is_not_json_rather_than_a_crash() -> None:
    assert "not valid JSON" in refusal("[" * 50000)


@pytest.mark.parametrize(("raw", "kind"), [("[1, 2]", "array"), ('"topic"', "string"), ("null", "null")])
def test_json_that_is_not_an_object(raw: str, kind: str) -> None:
    assert "must be a JSON object" in refusal(raw) and kind in refusal(raw)


def test_missing_topic() -> None:
    assert '"topic"' in refusal('{"title": "T"}')


@pytest.mark.parametrize("topic", ["", "   ", None, 42])
def test_empty_or_non_text_topic(topic: object) -> None:
    assert "topic must be non-empty text" in refusal(json.dumps({"topic": topic}))


def test_overlong_topic() -> None:
    message = refusal(json.dumps({"topic": "x" * 10_000}))
    assert message == f"topic must be at most {MAX_TOPIC_CHARS} characters, got 10000"


def test_lone_surrogate_topic() -> None:
    assert "valid Unicode" in refusal('{"topic": "a\\ud800"}')


@pytest.mark.parametrize("urgency", ["urgent", "", 1, ["high"]])
def test_bad_urgency(urgency: object) -> None:
    message = refusal(json.dumps({"topic": "T", "urgency": urgency}))
    assert message.startswith("urgency must be one of normal, high, got")


def test_urgency_is_case_insensitive_and_null_means_normal() -> None:
    assert parse('{"topic": "T", "urgency": " HIGH "}').urgency == "high"
    assert parse('{"topic": "T", "urgency": null}').urgency == "normal"


def test_event_from_dict_validates_like_parse_event() -> None:
    event = event_from_dict({"topic": " T ", "urgency": "high"}, source="api", received_at=NOW)
    assert (event.topic, event.urgency, event.source) == ("T", "high", "api")
    with pytest.raises(ConfigError, match="JSON object"):
        event_from_dict(["T"], source="api", received_at=NOW)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="source must be one of"):
        event_from_dict({"topic": "T"}, source="email", received_at=NOW)


def test_event_is_validated_when_built_directly() -> None:
    with pytest.raises(ConfigError, match="urgency"):
        DebateEvent(topic="T", urgency="low")


# -- properties -----------------------------------------------------------------------------

valid_topics = st.text(min_size=1, max_size=MAX_TOPIC_CHARS).filter(lambda t: t.strip() != "")
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200)
@given(
    topic=valid_topics,
    urgency=st.sampled_from(URGENCIES),
    extra=st.dictionaries(st.text(max_size=20), json_values, max_size=8),
)
def test_any_object_with_valid_topic_and_urgency_parses(topic: str, urgency: str, extra: dict) -> None:
    data = {**extra, "topic": topic, "urgency": urgency}
    event = parse(json.dumps(data, ensure_ascii=False))
    assert event.topic == " ".join(topic.split())
    assert event.urgency == urgency
    assert set(event.details) <= set(extra)


@settings(max_examples=300)
@given(raw=st.binary(max_size=2000) | st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_parse_or_raise_config_error(raw: bytes) -> None:
    try:
        event = parse(raw)
    except ConfigError:
        return
    assert isinstance(event, DebateEvent)


@settings(max_examples=200)
@given(data=st.dictionaries(st.sampled_from(["topic", "urgency", "x"]), json_values, max_size=3))
def test_any_json_object_parses_or_raises_config_error(data: dict) -> None:
    try:
        parse(json.dumps(data))
    except ConfigError:
        pass
