"""From what was measured to analytics records: pure functions over stored documents.

A debate's ``DebateMetrics`` comes from its stored document (the runner's outcome) and from the
``streams`` series sampled every 5 s while it was on air; each destination's ``StreamingMetrics``
comes from the same samples. Viewer figures exist only where a viewer source measured them:
otherwise they stay None (unknown), and so does engagement.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from .timeutil import from_iso, to_iso

SAMPLE_SECONDS = 5.0  # the streams series' sampling period (Supervisor job "stream_samples")


def _numbers(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]


def counter_total(values: Sequence[Any]) -> int:
    """What a counter added up over the samples, across restarts (a drop means it began again)."""
    total, last = 0.0, None
    for value in _numbers(values):
        total += value if last is None or value < last else value - last
        last = value
    return int(total)


def stream_docs(broadcast_id: str, samples: Sequence[Mapping[str, Any]], start: datetime,
                end: datetime) -> list[dict[str, Any]]:
    """One StreamingMetrics document per destination seen in the samples of [start, end]."""
    by_destination: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for sample in samples:
        if isinstance(sample.get("destination_id"), str) and not sample.get("rollup"):
            by_destination[sample["destination_id"]].append(sample)
    docs = []
    for destination_id, rows in sorted(by_destination.items()):
        live = [row for row in rows if row.get("status") == "live"]
        viewers = _numbers(row.get("viewers") for row in rows)
        bitrates = _numbers(row.get("bitrate_kbps") for row in live)
        fps = _numbers(row.get("fps") for row in live)
        frames = statistics.fmean(fps) * len(live) * SAMPLE_SECONDS if fps else 0.0
        dropped = counter_total([row.get("dropped_frames") for row in rows])
        docs.append({
            "broadcast_id": broadcast_id, "destination_id": destination_id,
            "platform": str(rows[-1].get("platform") or "custom"),
            "start_time": to_iso(start), "end_time": to_iso(end),
            "peak_viewers": int(max(viewers)) if viewers else None,
            "avg_viewers": round(statistics.fmean(viewers), 2) if viewers else None,
            "avg_bitrate_kbps": round(statistics.fmean(bitrates), 1) if bitrates else None,
            "bytes_sent": counter_total([row.get("bytes_sent") for row in rows]),
            "uptime_percentage": round(100.0 * len(live) / len(rows), 2),
            "frame_drop_rate": round(min(1.0, dropped / frames), 4) if frames else 0.0,
            "reconnects": counter_total([row.get("reconnects") for row in rows]),
        })
    return docs


def audience(samples: Sequence[Mapping[str, Any]]) -> tuple[int | None, float | None]:
    """(peak, average) of the viewers summed over destinations at each sampling moment."""
    by_moment: dict[str, float] = defaultdict(float)
    measured = False
    for sample in samples:
        viewers = sample.get("viewers")
        if isinstance(viewers, (int, float)) and not isinstance(viewers, bool) and isinstance(sample.get("ts"), str):
            by_moment[sample["ts"]] += viewers
            measured = True
    if not measured:
        return None, None
    totals = list(by_moment.values())
    return int(max(totals)), round(statistics.fmean(totals), 2)


def debate_doc(debate: Mapping[str, Any], samples: Sequence[Mapping[str, Any]],
               engagement: float | None) -> dict[str, Any] | None:
    """The DebateMetrics document of a finished debate; None when it never started."""
    start, end = from_iso(debate.get("actual_start_time")), from_iso(debate.get("actual_end_time"))
    if start is None or end is None:
        return None
    outcome = debate.get("outcome") or {}
    peak, average = audience(samples)
    platforms = sorted({str(s["platform"]) for s in samples if isinstance(s.get("platform"), str)})
    return {
        "debate_id": debate["debate_id"], "start_time": to_iso(start), "end_time": to_iso(end),
        "duration_seconds": max(0.0, (end - start).total_seconds()), "topic": debate.get("topic", ""),
        "status": debate.get("status", "completed"),
        "participants": int(outcome.get("participants", 0)), "responses": int(outcome.get("responses", 0)),
        "avg_response_length": outcome.get("avg_response_length"), "avg_confidence": outcome.get("avg_confidence"),
        "consensus": outcome.get("consensus_level"), "controversy": outcome.get("controversy_score"),
        "verdict": outcome.get("verdict"), "viewer_count_peak": peak, "viewer_count_avg": average,
        "engagement_score": engagement, "platforms": platforms,
    }
