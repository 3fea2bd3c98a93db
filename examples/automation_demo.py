"""The whole loop in about a minute, unattended: schedule, stream, monitor, break, recover, report.

Run: .venv/bin/python examples/automation_demo.py [--keep FOLDER]

It starts two RTMP receivers on 127.0.0.1 (ffmpeg in listen mode, standing in for YouTube and
Twitch), schedules two debates a few seconds apart, streams them to both receivers and to a local
recording, runs the health checks every 2 s, kills one receiver on purpose and shows the alert and
the recovery, then prints the analytics summary and exports a report. Each step is said in words
a presenter can read aloud. It exits 0 only if everything it claimed really happened (it checks:
the receivers' files hold video, the recording exists, the alert fired and resolved, the report
files exist); otherwise it says what did not happen and exits 1.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import timedelta
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend import StreamConfig, StreamPlatform, StreamQuality, Supervisor  # noqa: E402
from backend.config import load_settings  # noqa: E402
from backend.debates import DemoCouncil  # noqa: E402
from backend.media import ffmpeg_binary, media_seconds  # noqa: E402
from backend.models import ScheduleConfig  # noqa: E402
from backend.scheduler import CONFIG_KEY  # noqa: E402
from backend.storage import Store  # noqa: E402
from backend.timeutil import utc_now  # noqa: E402

FFMPEG = ffmpeg_binary()
STARTED = time.monotonic()
problems: list[str] = []


def say(text: str) -> None:
    """One step, in words a presenter can read aloud."""
    seconds = time.monotonic() - STARTED
    print(textwrap.fill(text, 100, initial_indent=f"[{seconds:5.1f} s] ", subsequent_indent=" " * 10), flush=True)


def check(ok: bool, claim: str) -> bool:
    if not ok:
        problems.append(claim)
        say(f"NOT TRUE: {claim}")
    return ok


def wait(condition: Callable[[], object], seconds: float) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Receiver:
    """An RTMP server on 127.0.0.1 that keeps what it receives (what a platform's ingest does)."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name, self.folder, self.port = name, folder, free_port()
        self.files: list[Path] = []
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "Receiver":
        target = self.folder / f"{self.name.lower()}-{len(self.files) + 1}.ts"
        self.files.append(target)
        self.process = subprocess.Popen(
            [FFMPEG, "-hide_banner", "-loglevel", "error", "-listen", "1", "-timeout", "120",
             "-i", f"rtmp://127.0.0.1:{self.port}/live/demo-key", "-c", "copy", "-f", "mpegts", "-y", str(target)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait(self.listening, 10)
        return self

    def listening(self) -> bool:
        # Only look (the port is taken): connecting would use up the listener's one client.
        return self.process is not None and self.process.poll() is None and _port_taken(self.port)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def config(self) -> StreamConfig:
        return StreamConfig(platform=StreamPlatform.CUSTOM_RTMP, name=self.name, stream_key="demo-key",
                            rtmp_url=f"rtmp://127.0.0.1:{self.port}/live", quality=StreamQuality.LOW)

    def seconds_received(self) -> float:
        return sum(media_seconds(FFMPEG, path) or 0.0 for path in self.files if path.exists())


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def alert_notice(supervisor: Supervisor, kinds: tuple[str, ...], since: str, words: str) -> dict | None:
    """The first streaming notice of one of ``kinds`` said after ``since`` that mentions ``words``."""
    return next((n for n in supervisor.book.notices(since=since)
                 if n["kind"] in kinds and n["component"] == "streaming" and words in n["text"]), None)


def run(folder: Path) -> None:
    data, received = folder / "data", folder / "received"
    received.mkdir(parents=True, exist_ok=True)
    # No debate of the default plan: only the two this demo schedules.
    Store(data).settings.set(CONFIG_KEY, ScheduleConfig(schedule_type="cron", cron_expression="0 3 1 1 *").to_doc())
    settings = load_settings({"AI_COUNCIL_DATA_DIR": str(data), "MONITORING_INTERVAL": "2",
                              "AI_COUNCIL_BETWEEN_DEBATES": "slate", "AI_COUNCIL_X264_PRESET": "ultrafast",
                              "AI_COUNCIL_TIMEZONE": "UTC"})

    say("Two RTMP servers start on this machine: 'YouTube' and 'Twitch' stand-ins, ffmpeg in listen mode.")
    receivers = [Receiver("YouTube", received).start(), Receiver("Twitch", received).start()]
    supervisor = Supervisor(settings, runner=DemoCouncil(turn_seconds=1.2, rounds=2)).start()
    try:
        saved = [supervisor.save_destination(receiver.config()) for receiver in receivers]
        twitch = saved[1].destination_id
        say("The backend is up: two destinations saved, health checks every 2 seconds, and between debates a "
            "slate says what comes next, so the channels stay live.")
        check(bool(wait(lambda: all(d["metrics"] and d["metrics"]["status"] == "live"
                                    for d in supervisor.stream_destinations()), 15)),
              "both destinations went live")

        now = utc_now()
        first = supervisor.schedule_debate(now + timedelta(seconds=3), "Should cities ban cars from their centres?")
        second = supervisor.schedule_debate(now + timedelta(seconds=6), "Is nuclear power green?")
        say(f"Two debates are scheduled three seconds apart: '{first.topic}' and '{second.topic}'. The second "
            "waits for the first, as a broadcast shows one debate at a time.")

        running = wait(lambda: next((d for d in supervisor.debates() if d.debate_id == first.debate_id
                                     and d.status.value == "running"), None), 15)
        check(running is not None, "the first debate started on time")
        say("The first debate is on air: every turn is drawn into the picture and sent once per quality "
            "tier, copied to both servers and the recording.")

        started = wait(lambda: next((d for d in supervisor.debates() if d.debate_id == second.debate_id
                                     and d.status.value == "running"), None), 40)
        check(started is not None, "the second debate started after the first")
        say(f"The second debate is on air. Now the 'Twitch' server ({twitch}) is killed, as if the platform "
            "dropped us.")
        killed_at = utc_now().isoformat()
        receivers[1].kill()
        fired = wait(lambda: alert_notice(supervisor, ("firing", "escalated"), killed_at, twitch), 30)
        if check(fired is not None, "an alert fired for the dead destination"):
            say(f"The alert a person receives: {fired['text']}")
        say("The 'Twitch' server comes back on the same address; the output reconnects by itself.")
        receivers[1].start()
        resolved = wait(lambda: alert_notice(supervisor, ("resolved",), killed_at, "streaming"), 40)
        if check(resolved is not None, "the alert resolved once the destination was back"):
            say(f"And then: {resolved['text']}")

        done = wait(lambda: all(d.status.value in ("completed", "failed") for d in supervisor.debates()
                                if d.debate_id in (first.debate_id, second.debate_id)), 60)
        check(bool(done) and all(d.status.value == "completed" for d in supervisor.debates()
                                 if d.debate_id in (first.debate_id, second.debate_id)), "both debates completed")
        wait(lambda: supervisor.collect_debates() >= 0
             and supervisor.analytics.get_debate_statistics(days=1)["total_debates"] >= 2, 10)
        stats = supervisor.analytics.get_debate_statistics(days=1)
        streaming = supervisor.analytics.get_streaming_statistics(days=1)
        check(stats["total_debates"] == 2, "analytics counted both debates")
        say(f"Analytics: {stats['total_debates']} debates, completion rate {100 * (stats['completion_rate'] or 0):.0f} "
            f"%, {stats['avg_participants']:.0f} participants each, consensus {stats['avg_consensus']:.2f}; "
            f"{streaming['streams']} streams sent {streaming['total_bytes_sent'] / 1e6:.1f} MB. Viewer counts are "
            "unknown here: a local server reports none.")
        for line in supervisor.analytics.get_performance_insights(days=1)["recommendations"][:2]:
            say(f"Insight: {line}")
        report = supervisor.analytics.export_report(folder / "report.html", days=1)
        supervisor.analytics.export_report(folder / "report.json", days=1)
        check(Path(str(report)).stat().st_size > 0 and (folder / "report.json").exists(), "the report was written")
        say(f"The report is at {report}: it opens offline, charts included.")
        recordings = supervisor.recordings()
        check(bool(recordings), "the debates were recorded to disk")
    finally:
        supervisor.stop()
        for receiver in receivers:
            receiver.kill()
    for receiver in receivers:
        seconds = receiver.seconds_received()
        check(seconds > 5, f"the {receiver.name} server received video ({seconds:.0f} s)")
    say(f"What the servers received: YouTube {receivers[0].seconds_received():.0f} s of video, Twitch "
        f"{receivers[1].seconds_received():.0f} s across its two connections.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the data, recordings and report in this folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ai-council-demo-"))
    try:
        run(folder)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    if problems:
        say(f"The demo did not do everything it said: {'; '.join(problems)}.")
        return 1
    say("Everything above really happened: the demo checked each claim.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
