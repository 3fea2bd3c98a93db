"""From stored documents and stream samples to analytics records, with known answers."""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.collect import audience, counter_total, debate_doc, stream_docs
from backend.timeutil import UTC

T0 = datetime(2026, 5, 4, 20, 0, tzinfo=UTC)


def sample(seconds, destination, platform="youtube", status="live", **fields):
    return {"ts": (T0 + timedelta(seconds=seconds)).isoformat(), "destination_id": destination,
            "platform": platform, "status": status, **fields}


def test_counters_add_up_across_a_restart():
    assert counter_total([100, 300, 50, 120]) == 300 + 120  # 0->300, restart, 0->120
    assert counter_total([None, 5, 5, 7]) == 7
    assert counter_total([]) == 0


def test_stream_docs_measure_each_destination():
    samples = [
        sample(0, "yt", status="connecting", bytes_sent=0, viewers=None, reconnects=0),
        sample(5, "yt", bitrate_kbps=1400, fps=30, bytes_sent=1000, viewers=10, dropped_frames=0, reconnects=0),
        sample(10, "yt", bitrate_kbps=1600, fps=30, bytes_sent=2000, viewers=30, dropped_frames=3, reconnects=1),
        sample(15, "yt", bitrate_kbps=1500, fps=30, bytes_sent=500, viewers=20, dropped_frames=3, reconnects=1),
        sample(5, "tw", platform="twitch", bitrate_kbps=1500, fps=30, bytes_sent=700),
    ]
    yt, tw = sorted(stream_docs("d1", samples, T0, T0 + timedelta(seconds=20)),
                    key=lambda d: d["destination_id"], reverse=True)
    assert yt["destination_id"] == "yt" and yt["platform"] == "youtube"
    assert yt["peak_viewers"] == 30 and yt["avg_viewers"] == 20.0
    assert yt["avg_bitrate_kbps"] == 1500.0 and yt["bytes_sent"] == 2500
    assert yt["uptime_percentage"] == 75.0 and yt["reconnects"] == 1
    assert yt["frame_drop_rate"] == round(3 / (30 * 3 * 5), 4)
    assert tw["peak_viewers"] is None and tw["avg_viewers"] is None  # no viewer source: unknown


def test_audience_sums_destinations_at_each_moment():
    samples = [sample(0, "yt", viewers=10), sample(0, "tw", viewers=5), sample(5, "yt", viewers=20),
               sample(5, "tw", viewers=None)]
    assert audience(samples) == (20, 17.5)
    assert audience([sample(0, "yt")]) == (None, None)


def test_debate_doc_takes_the_outcome_and_leaves_unknown_viewers_unknown():
    debate = {"debate_id": "d1", "topic": "Mars", "status": "completed",
              "actual_start_time": T0.isoformat(), "actual_end_time": (T0 + timedelta(minutes=4)).isoformat(),
              "outcome": {"participants": 4, "responses": 12, "avg_response_length": 230.5, "avg_confidence": 0.7,
                          "consensus_level": 0.75, "controversy_score": 0.4, "verdict": "for"}}
    doc = debate_doc(debate, [sample(0, "rec", platform="local")], None)
    assert doc["duration_seconds"] == 240 and doc["consensus"] == 0.75 and doc["controversy"] == 0.4
    assert doc["viewer_count_peak"] is None and doc["engagement_score"] is None
    assert doc["platforms"] == ["local"]
    assert debate_doc({**debate, "actual_end_time": None}, [], None) is None
