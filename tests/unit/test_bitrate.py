"""Adaptive quality: decide_tier on hand-made samples, the manager over a simulated stream, the
seed bitrate rule, validation, and the one real-network helper against a local socket."""

from __future__ import annotations

import logging
import socket
from datetime import datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from backend.bitrate import (
    HISTORY_LIMIT,
    TIERS,
    AdaptiveBitrateManager,
    AdaptivePolicy,
    NetworkSample,
    TierChange,
    decide_tier,
    measure_rtt_ms,
)
from backend.destinations import QUALITY_PRESETS, StreamQuality
from backend.errors import ConfigError
from backend.timeutil import UTC

LOW, MEDIUM, HIGH, ULTRA = StreamQuality.LOW, StreamQuality.MEDIUM, StreamQuality.HIGH, StreamQuality.ULTRA
T0 = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
POLICY = AdaptivePolicy()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sample(t: float, speed: float | None = 1.0, reconnects: int = 0, rtt: float | None = 50.0,
           dropped: int = 0) -> NetworkSample:
    return NetworkSample(at(t), speed, reconnects, rtt, dropped)


def every(start: int, end: int, step: int = 5, **fields: object) -> list[NetworkSample]:
    """Samples from ``start`` to ``end`` seconds inclusive, all alike."""
    return [sample(t, **fields) for t in range(start, end + 1, step)]  # type: ignore[arg-type]


def decide(samples: list[NetworkSample], current: StreamQuality = HIGH, configured: StreamQuality = HIGH,
           now: float | None = None, last_change: float | None = None, floor: StreamQuality = LOW,
           policy: AdaptivePolicy = POLICY) -> tuple[StreamQuality, str] | None:
    when = at(now) if now is not None else samples[-1].at
    return decide_tier(samples, current, configured, when, policy,
                       at(last_change) if last_change is not None else None, floor)


def each_prefix(samples: list[NetworkSample], **kwargs: object) -> list[tuple[StreamQuality, str] | None]:
    """decide() as a monitor would call it, after every sample."""
    return [decide(samples[: i + 1], **kwargs) for i in range(len(samples))]  # type: ignore[arg-type]


def test_tiers_are_the_quality_presets_from_low_to_high() -> None:
    assert set(TIERS) == set(QUALITY_PRESETS)
    kbps = [QUALITY_PRESETS[t].video_kbps for t in TIERS]
    assert kbps == sorted(kbps) == [1500, 3000, 6000, 15000]


# --- stepping down ----------------------------------------------------------------------------


def test_sustained_slow_speed_steps_down_one_tier_with_the_figures() -> None:
    slow = [sample(t, speed=s) for t, s in ((0, 0.82), (5, 0.9), (10, 0.85), (15, 0.8), (20, 0.82))]
    assert decide(slow[:4]) == (MEDIUM, "send speed at most 0.90x, below the 0.95x limit, for 15 s")
    assert decide(slow) == (MEDIUM, "send speed at most 0.90x, below the 0.95x limit, for 20 s")
    assert decide(slow[:3]) is None  # 10 s is not yet sustained


def test_a_brief_dip_does_not_step_down() -> None:
    samples = every(0, 30) + every(35, 45, speed=0.5) + every(50, 120)
    assert each_prefix(samples) == [None] * len(samples)


def test_unknown_speed_is_no_evidence_of_slowness() -> None:
    samples = every(0, 10, speed=0.5) + [sample(15, speed=None)] + every(20, 30, speed=0.5)
    assert each_prefix(samples) == [None] * len(samples)


def test_three_reconnects_within_five_minutes_step_down() -> None:
    samples = [sample(t, reconnects=sum(t >= r for r in (60, 120, 180))) for t in range(0, 241, 10)]
    decisions = each_prefix(samples)
    first = next(i for i, d in enumerate(decisions) if d is not None)
    assert samples[first].at == at(180)
    assert decisions[first] == (MEDIUM, "3 reconnects within the last 300 s")


def test_three_reconnects_spread_over_an_hour_do_not() -> None:
    samples = [sample(t, reconnects=sum(t >= r for r in (1200, 2400, 3600))) for t in range(0, 3601, 60)]
    assert each_prefix(samples) == [None] * len(samples)


def test_reconnects_before_the_window_and_counter_resets_are_not_counted() -> None:
    # Counter at 7 when observation starts (reconnects from earlier in the stream), then the output
    # restarts and counts from 0 again: no rise inside the window.
    samples = every(0, 60, reconnects=7) + every(65, 120, reconnects=0) + [sample(125, reconnects=2)]
    assert decide(samples) is None
    assert decide(samples + [sample(130, reconnects=3)]) == (MEDIUM, "3 reconnects within the last 300 s")


def test_sustained_high_rtt_steps_down() -> None:
    samples = every(0, 30, rtt=450.0)
    assert decide(samples[:-1]) is None  # 25 s
    assert decide(samples) == (MEDIUM, "ingest round trip at least 450 ms, above the 400 ms limit, for 30 s")
    assert decide(every(0, 60, rtt=400.0)) is None  # at the limit is not above it


def test_dropped_chunks_rising_for_slow_for_seconds_step_down_and_a_burst_does_not() -> None:
    burst = every(0, 20) + every(25, 60, dropped=40)
    assert each_prefix(burst) == [None] * len(burst)
    rising = every(0, 20) + [sample(t, dropped=(t - 20) * 2) for t in range(25, 41, 5)]
    assert decide(rising[:-1]) is None  # rising for 10 s
    assert decide(rising) == (MEDIUM, "40 chunks dropped over 15 s")


def test_several_troubles_are_all_named() -> None:
    samples = every(0, 30, speed=0.7, rtt=900.0)
    assert decide(samples, current=ULTRA, configured=ULTRA) == (
        HIGH, "send speed at most 0.70x, below the 0.95x limit, for 30 s; "
              "ingest round trip at least 900 ms, above the 400 ms limit, for 30 s")


def test_never_below_the_floor() -> None:
    slow = every(0, 60, speed=0.5)
    assert decide(slow, current=LOW) is None
    assert decide(slow, current=MEDIUM, floor=MEDIUM) is None
    assert decide(slow, current=HIGH, floor=MEDIUM) == (MEDIUM, "send speed at most 0.50x, below the 0.95x limit, "
                                                                "for 60 s")


# --- stepping up ------------------------------------------------------------------------------


def test_recovery_steps_up_one_tier_after_recover_for_seconds_of_health() -> None:
    healthy = every(5, 125)
    assert decide(healthy[:-1], current=MEDIUM, last_change=0) is None  # 115 s
    assert decide(healthy, current=MEDIUM, last_change=0) == (HIGH, "healthy for 120 s")
    assert decide(healthy, current=LOW, last_change=0) == (MEDIUM, "healthy for 120 s")  # one tier at a time


def test_recovery_never_goes_above_the_configured_tier() -> None:
    assert decide(every(0, 600), current=HIGH, configured=HIGH) is None
    assert decide(every(0, 600), current=MEDIUM, configured=MEDIUM) is None


def test_one_unhealthy_sample_restarts_the_recovery_clock() -> None:
    for trouble in (dict(speed=0.9), dict(rtt=401.0), dict(reconnects=1), dict(dropped=1)):
        counters = {k: v for k, v in trouble.items() if k in ("reconnects", "dropped")}
        samples = every(5, 60) + [sample(65, **trouble)] + every(70, 190, **counters)  # type: ignore[arg-type]
        assert decide(samples[:-1], current=MEDIUM, last_change=0) is None, trouble
        assert decide(samples, current=MEDIUM, last_change=0) == (HIGH, "healthy for 120 s"), trouble


def test_missing_figures_do_not_block_recovery() -> None:
    assert decide(every(5, 125, speed=None, rtt=None), current=MEDIUM, last_change=0) == (HIGH, "healthy for 120 s")


def test_no_step_up_while_a_trouble_holds_even_at_the_floor() -> None:
    samples = [sample(t, reconnects=sum(t >= r for r in (10, 20, 30))) for t in range(5, 160, 5)]
    assert decide(samples, current=LOW, last_change=0) is None


# --- cooldown and bounds ----------------------------------------------------------------------


def test_cooldown_blocks_a_second_change() -> None:
    slow = every(5, 60, speed=0.5)
    assert decide(slow[:-1], current=MEDIUM, last_change=0) is None  # 55 s after the last change
    assert decide(slow, current=MEDIUM, last_change=0) == (LOW, "send speed at most 0.50x, below the 0.95x limit, "
                                                                "for 55 s")
    healthy = every(5, 200)
    assert decide(healthy, current=MEDIUM, last_change=150) is None


def test_evidence_from_before_the_last_change_is_not_reused() -> None:
    quick = AdaptivePolicy(cooldown_seconds=0)
    slow = every(0, 100, speed=0.5)
    assert decide(slow, current=MEDIUM, last_change=95, policy=quick) is None  # one slow sample since
    assert decide(slow, current=MEDIUM, last_change=80, policy=quick) == (
        LOW, "send speed at most 0.50x, below the 0.95x limit, for 15 s")


def test_samples_after_now_are_ignored() -> None:
    assert decide(every(0, 60, speed=0.5), now=10) is None


def test_a_current_tier_outside_the_bounds_is_brought_back_at_once() -> None:
    assert decide(every(0, 10), current=ULTRA, configured=MEDIUM, last_change=5) == (MEDIUM, "configured tier is medium")
    assert decide(every(0, 10), current=LOW, floor=HIGH, last_change=5) == (HIGH, "lowest allowed tier is high")


def test_a_floor_above_the_configured_tier_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"floor \(high\).*configured tier \(medium\)"):
        decide(every(0, 10), current=MEDIUM, configured=MEDIUM, floor=HIGH)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ConfigError, match="^at must be a timezone-aware"):
        NetworkSample(datetime(2026, 1, 1), 1.0, 0, None)
    with pytest.raises(ConfigError, match="^now must be a timezone-aware"):
        decide_tier([], HIGH, HIGH, datetime(2026, 1, 1), POLICY, None)


samples_strategy = st.lists(
    st.tuples(st.integers(0, 400), st.none() | st.floats(0, 2), st.integers(0, 2), st.none() | st.floats(0, 1000),
              st.integers(0, 3)),
    max_size=60,
)
policies = st.builds(AdaptivePolicy, slow_for_seconds=st.sampled_from([0, 15]),
                     reconnects_to_step_down=st.sampled_from([1, 3]), high_rtt_for_seconds=st.sampled_from([0, 30]),
                     recover_for_seconds=st.sampled_from([0, 30, 120]), cooldown_seconds=st.sampled_from([0, 60]))


@settings(max_examples=300, deadline=None)
@given(rows=samples_strategy, current=st.sampled_from(TIERS), configured=st.sampled_from(TIERS),
       floor=st.sampled_from(TIERS), later=st.integers(0, 100), last_change=st.none() | st.integers(0, 400),
       policy=policies)
def test_decide_tier_stays_within_bounds_and_steps_one_tier(
        rows: list[tuple[int, float | None, int, float | None, int]], current: StreamQuality,
        configured: StreamQuality, floor: StreamQuality, later: int, last_change: int | None,
        policy: AdaptivePolicy) -> None:
    assume(TIERS.index(floor) <= TIERS.index(configured))
    samples, reconnects, dropped = [], 0, 0
    for t, speed, more_reconnects, rtt, more_dropped in sorted(rows, key=lambda row: row[0]):
        reconnects, dropped = reconnects + more_reconnects, dropped + more_dropped
        samples.append(sample(t, speed, reconnects, rtt, dropped))
    now = max((row[0] for row in rows), default=0) + later
    decision = decide(samples, current, configured, now, last_change, floor, policy)
    if decision is None:
        return
    new, reason = decision
    assert reason and new != current
    assert TIERS.index(floor) <= TIERS.index(new) <= TIERS.index(configured)
    if TIERS.index(floor) <= TIERS.index(current) <= TIERS.index(configured):
        assert abs(TIERS.index(new) - TIERS.index(current)) == 1


# --- the manager ------------------------------------------------------------------------------


def simulated(t: int) -> NetworkSample:
    """Ten minutes of one destination: slow 60-180 s, reconnects at 350/360/370 s, high RTT from 520 s."""
    return sample(t, speed=0.8 if 60 <= t <= 180 else 1.0, reconnects=sum(t >= r for r in (350, 360, 370)),
                  rtt=500.0 if t >= 520 else 50.0)


def test_observe_over_ten_simulated_minutes_produces_exactly_the_expected_changes(
        caplog: pytest.LogCaptureFixture) -> None:
    manager = AdaptiveBitrateManager()
    caplog.set_level(logging.INFO, logger="backend.bitrate")
    returned = [change for t in range(0, 601, 5) if (change := manager.observe("yt", simulated(t), HIGH))]
    slow = "send speed at most 0.80x, below the 0.95x limit, for {} s"
    expected = [
        TierChange(at(75), "yt", HIGH, MEDIUM, slow.format(15)),
        TierChange(at(135), "yt", MEDIUM, LOW, slow.format(55)),  # still slow once the cooldown ended
        TierChange(at(305), "yt", LOW, MEDIUM, "healthy for 120 s"),  # healthy since 185 s
        TierChange(at(370), "yt", MEDIUM, LOW, "3 reconnects within the last 300 s"),
        TierChange(at(495), "yt", LOW, MEDIUM, "healthy for 120 s"),
        # RTT high for 30 s at 550 s, but the cooldown of the 495 s change holds it until 555 s.
        TierChange(at(555), "yt", MEDIUM, LOW,
                   "ingest round trip at least 500 ms, above the 400 ms limit, for 35 s"),
    ]
    assert returned == expected
    assert manager.history() == manager.history("yt") == expected
    assert manager.tier("yt", HIGH) == LOW
    logged = [r.getMessage() for r in caplog.records if r.name == "backend.bitrate"]
    assert logged[0] == "destination yt: quality high -> medium (send speed at most 0.80x, below the 0.95x limit, for 15 s)"
    assert len(logged) == len(expected) and all(r.levelno == logging.INFO for r in caplog.records)


def test_destinations_are_tracked_apart_and_can_be_forgotten() -> None:
    manager = AdaptiveBitrateManager()
    assert manager.tier("tw", MEDIUM) == MEDIUM  # never observed: the configured tier
    for t in range(0, 21, 5):
        manager.observe("yt", sample(t, speed=0.5), HIGH)
        manager.observe("tw", sample(t), MEDIUM)
    assert (manager.tier("yt", HIGH), manager.tier("tw", MEDIUM)) == (MEDIUM, MEDIUM)
    assert [c.destination_id for c in manager.history()] == ["yt"] and manager.history("tw") == []
    manager.forget("yt")
    assert manager.tier("yt", HIGH) == HIGH
    assert len(manager.history("yt")) == 1  # history is a log: forgetting keeps it
    manager.forget("never-seen")


def test_a_new_configured_tier_resets_the_destination() -> None:
    manager = AdaptiveBitrateManager()
    for t in range(0, 16, 5):
        manager.observe("yt", sample(t, speed=0.5), HIGH)
    assert manager.tier("yt", HIGH) == MEDIUM
    assert manager.tier("yt", ULTRA) == ULTRA  # what the next sample will reset to
    change = manager.observe("yt", sample(20, speed=0.5), ULTRA)
    assert change == TierChange(at(20), "yt", MEDIUM, ULTRA, "configured tier is now ultra")
    assert manager.observe("yt", sample(25, speed=0.5), ULTRA) is None  # cooldown from the reset


def test_a_sample_older_than_the_newest_is_ignored() -> None:
    manager = AdaptiveBitrateManager()
    for t in (0, 5, 10):
        manager.observe("yt", sample(t), HIGH)
    assert manager.observe("yt", sample(20, speed=0.5), HIGH) is None
    assert manager.observe("yt", sample(15, speed=0.5), HIGH) is None  # late: ignored
    # Had the late sample counted, 15-30 s would be 15 s of slowness; 20-30 s is only 10 s.
    assert [manager.observe("yt", sample(t, speed=0.5), HIGH) is None for t in (25, 30)] == [True, True]
    change = manager.observe("yt", sample(35, speed=0.5), HIGH)
    assert change is not None and change.reason.endswith("for 15 s")


def test_history_keeps_the_last_200_changes() -> None:
    manager = AdaptiveBitrateManager(policy=AdaptivePolicy(slow_for_seconds=0, recover_for_seconds=0,
                                                           cooldown_seconds=0))
    for t in range(300):  # slow, healthy, slow, ...: a change every sample
        manager.observe("yt", sample(t, speed=0.5 if t % 2 == 0 else 1.0), HIGH)
    history = manager.history()
    assert len(history) == HISTORY_LIMIT
    assert history[-1].at == at(299) and history[0].at == at(100)


# --- the seed bitrate rule --------------------------------------------------------------------


def test_seed_readme_example() -> None:
    manager = AdaptiveBitrateManager(min_bitrate=2000, max_bitrate=8000)
    assert manager.current_bitrate == 8000
    assert manager.adjust_for_network(packet_loss=0.5, latency_ms=50) == 8000  # 0.5 % is not below 0.5 %


@pytest.mark.parametrize(("loss", "latency", "expected"), [
    (0.0, 50, 3300),  # clean: +10 %
    (0.49, 149, 3300),
    (0.5, 50, 3000),  # neither clean nor bad: unchanged
    (0.1, 150, 3000),
    (2.0, 400, 3000),
    (2.1, 50, 2250),  # loss > 2 %: -25 %
    (0.0, 401, 2250),  # latency > 400 ms: -25 %
    (5.0, 50, 2250),
    (5.1, 50, 1500),  # loss > 5 %: -50 %
    (100, 9999, 1500),
])
def test_adjust_for_network_table(loss: float, latency: float, expected: int) -> None:
    manager = AdaptiveBitrateManager(min_bitrate=1000, max_bitrate=8000)
    manager.current_bitrate = 3000
    assert manager.adjust_for_network(loss, latency) == expected
    assert manager.current_bitrate == expected


def test_adjust_for_network_clamps_to_min_and_max() -> None:
    manager = AdaptiveBitrateManager(min_bitrate=2000, max_bitrate=8000)
    assert [manager.adjust_for_network(10, 50) for _ in range(3)] == [4000, 2000, 2000]
    assert [manager.adjust_for_network(0, 50) for _ in range(3)] == [2200, 2420, 2662]
    for _ in range(30):
        manager.adjust_for_network(0, 0)
    assert manager.current_bitrate == 8000


@pytest.mark.parametrize(("loss", "latency", "field"), [
    (-0.1, 50, "packet_loss"), (100.1, 50, "packet_loss"), (float("nan"), 50, "packet_loss"),
    (True, 50, "packet_loss"), (1.0, -1, "latency_ms"), (1.0, float("inf"), "latency_ms"),
])
def test_adjust_for_network_refuses_bad_figures_and_keeps_the_bitrate(loss: float, latency: float, field: str) -> None:
    manager = AdaptiveBitrateManager()
    with pytest.raises(ConfigError, match=f"^{field} must be"):
        manager.adjust_for_network(loss, latency)
    assert manager.current_bitrate == 6000


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(("min_bitrate", "max_bitrate"), [(99, 6000), (3000, 2000), (1500, 50001), (1500.0, 6000),
                                                          (True, 6000)])
def test_bitrate_bounds_are_validated(min_bitrate: int, max_bitrate: int) -> None:
    with pytest.raises(ConfigError) as caught:
        AdaptiveBitrateManager(min_bitrate=min_bitrate, max_bitrate=max_bitrate)
    message = str(caught.value)
    assert "min_bitrate" in message and "max_bitrate" in message and "100" in message and "50000" in message


def test_bitrate_bounds_at_the_edges_are_accepted() -> None:
    AdaptiveBitrateManager(min_bitrate=100, max_bitrate=100)
    AdaptiveBitrateManager(min_bitrate=100, max_bitrate=50000)


@pytest.mark.parametrize(("field", "value"), [
    ("slow_speed", 0), ("slow_speed", 1.5), ("slow_speed", float("nan")), ("slow_for_seconds", -1),
    ("reconnects_window_seconds", 0), ("reconnects_to_step_down", 0), ("reconnects_to_step_down", 2.5),
    ("high_rtt_ms", 0), ("high_rtt_for_seconds", 3601), ("recover_for_seconds", -5), ("cooldown_seconds", "60"),
    ("cooldown_seconds", True),
])
def test_policy_validation_names_the_field_and_range(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"^{field} must be a (whole )?number (above|from) .* and at most"):
        AdaptivePolicy(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(("fields", "name"), [
    (dict(speed=-1.0), "speed"), (dict(speed=float("nan")), "speed"), (dict(rtt=-0.5), "rtt_ms"),
    (dict(reconnects=-1), "reconnects"), (dict(dropped=1.5), "dropped_chunks"),
])
def test_sample_validation_names_the_field(fields: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name} must be"):
        sample(0, **fields)  # type: ignore[arg-type]


def test_observe_and_tier_validate_their_arguments() -> None:
    manager = AdaptiveBitrateManager()
    with pytest.raises(ConfigError, match="^destination_id"):
        manager.observe("", sample(0), HIGH)
    with pytest.raises(ConfigError, match="^configured must be one of low, medium, high, ultra"):
        manager.observe("yt", sample(0), "best")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="^policy must be an AdaptivePolicy"):
        AdaptiveBitrateManager(policy={"slow_speed": 0.9})  # type: ignore[arg-type]
    assert manager.tier("yt", "medium") == MEDIUM  # type: ignore[arg-type]


# --- measure_rtt_ms ---------------------------------------------------------------------------


def test_measure_rtt_against_a_listening_socket_is_small_and_positive() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        rtt = measure_rtt_ms("127.0.0.1", server.getsockname()[1], timeout=2.0)
    assert rtt is not None and 0 < rtt < 500


def test_measure_rtt_against_a_closed_port_is_none() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Bound then closed without listening: nothing accepts on it, the connect is refused.
    assert measure_rtt_ms("127.0.0.1", port, timeout=2.0) is None


def test_measure_rtt_of_an_unresolvable_host_is_none() -> None:
    assert measure_rtt_ms("no-such-host.invalid", 1935, timeout=1.0) is None


@pytest.mark.parametrize(("host", "port", "timeout", "field"), [
    ("", 80, 1.0, "host"), ("127.0.0.1", 0, 1.0, "port"), ("127.0.0.1", 65536, 1.0, "port"),
    ("127.0.0.1", 80, 0, "timeout"),
])
def test_measure_rtt_validates_its_arguments(host: str, port: int, timeout: float, field: str) -> None:
    with pytest.raises(ConfigError, match=f"^{field} must be"):
        measure_rtt_ms(host, port, timeout)
