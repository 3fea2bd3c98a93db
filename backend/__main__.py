"""``python -m backend``: the Supervisor without the dashboard (systemd, Docker).

The dashboard started on the same data directory then attaches to this process as a viewer.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from datetime import datetime
from typing import Sequence

from .config import load_settings
from .errors import ConfigError
from .supervisor import Supervisor
from .timeutil import Clock, FastClock, utc_now


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m backend",
        description="Run the AI Council automation backend headless until SIGTERM or Ctrl+C. "
        "Flags override the environment variables named in README.md.")
    parser.add_argument("--data-dir", help="data directory (AI_COUNCIL_DATA_DIR, default ./data)")
    parser.add_argument("--turn-seconds", help="seconds per debate turn (AI_COUNCIL_TURN_SECONDS)")
    parser.add_argument("--timezone", help="IANA time zone for planning (AI_COUNCIL_TIMEZONE)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (AI_COUNCIL_LOG_LEVEL)")
    parser.add_argument("--clock-rate", type=float, default=None, metavar="N",
                        help="rehearsal: the backend's clock runs N times faster than real time "
                        "(600: a day in 2.4 minutes); use a scratch data directory, its history is fast-forwarded")
    parser.add_argument("--clock-start", default=None, metavar="ISO",
                        help="rehearsal: where the fast clock starts, e.g. 2026-06-15T00:00:00+00:00 (default now)")
    return parser.parse_args(argv)


def clock_of(args: argparse.Namespace) -> Clock:
    """The real clock, or for a rehearsal a FastClock; a bad value is a ConfigError naming the valid form."""
    if args.clock_rate is None:
        if args.clock_start is not None:
            raise ConfigError("--clock-start needs --clock-rate")
        return utc_now
    try:
        start = datetime.fromisoformat(args.clock_start) if args.clock_start else utc_now()
    except ValueError:
        raise ConfigError(f"--clock-start must be an ISO 8601 time such as 2026-06-15T00:00:00+00:00, "
                          f"got {args.clock_start!r}") from None
    if not 1 <= args.clock_rate <= 10_000:
        raise ConfigError(f"--clock-rate must be a number 1-10000, got {args.clock_rate:g}")
    return FastClock(start, args.clock_rate)


def environment(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    flags = {"AI_COUNCIL_DATA_DIR": args.data_dir, "AI_COUNCIL_TURN_SECONDS": args.turn_seconds,
             "AI_COUNCIL_TIMEZONE": args.timezone, "AI_COUNCIL_LOG_LEVEL": args.log_level}
    env.update({name: value for name, value in flags.items() if value is not None})
    return env


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(environment(args))
        clock = clock_of(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopped = threading.Event()  # handlers first: a SIGTERM during start-up still stops cleanly
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    if isinstance(clock, FastClock):
        logging.getLogger(__name__).warning("rehearsal: %r; every time written to %s is fast-forwarded",
                                            clock, settings.data_dir)
    supervisor = Supervisor(settings, clock=clock).start()
    if supervisor.role != "owner":
        print(f"error: {settings.data_dir} is already owned by another backend process", file=sys.stderr)
        supervisor.stop()
        return 1
    stopped.wait()
    logging.getLogger(__name__).info("stopping")
    supervisor.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
