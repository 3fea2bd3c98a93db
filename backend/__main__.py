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
from typing import Sequence

from .config import load_settings
from .errors import ConfigError
from .supervisor import Supervisor


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m backend",
        description="Run the AI Council automation backend headless until SIGTERM or Ctrl+C. "
        "Flags override the environment variables named in README.md.")
    parser.add_argument("--data-dir", help="data directory (AI_COUNCIL_DATA_DIR, default ./data)")
    parser.add_argument("--turn-seconds", help="seconds per debate turn (AI_COUNCIL_TURN_SECONDS)")
    parser.add_argument("--timezone", help="IANA time zone for planning (AI_COUNCIL_TIMEZONE)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (AI_COUNCIL_LOG_LEVEL)")
    return parser.parse_args(argv)


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
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopped = threading.Event()  # handlers first: a SIGTERM during start-up still stops cleanly
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    supervisor = Supervisor(settings).start()
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
