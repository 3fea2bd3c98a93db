"""The one Supervisor per data directory, shared by every browser session of this process.

A browser session in demo mode gets the Supervisor of the demo directory instead (beside the data
directory, named ``<name>-demo``): generated history only, never mixed with the real one, which
keeps running for everybody else.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import streamlit as st

from backend import ConfigError, Settings, Supervisor, load_settings
from backend.demo import is_demo, make_history
from backend.timeutil import utc_now

DEMO_KEY = "demo_mode"


@st.cache_resource(show_spinner=False, on_release=lambda supervisor: supervisor.stop())
def _supervisor(data_dir: str, _settings: Settings) -> Supervisor:
    logging.basicConfig(level=_settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return Supervisor(_settings).start()


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        st.error(f"Configuration error: {exc}")
        st.stop()


def demo_settings(settings: Settings) -> Settings:
    """The demo's settings: its own directory, no /metrics port (the real backend may hold it)."""
    folder = Path(settings.data_dir)
    return dataclasses.replace(settings, data_dir=folder.parent / f"{folder.name}-demo", metrics_port=0)


def in_demo() -> bool:
    return bool(st.session_state.get(DEMO_KEY))


def get_supervisor() -> Supervisor:
    """Start the backend on first use (cached); a bad setting stops the page with its message."""
    settings = _settings()
    if in_demo():
        settings = demo_settings(settings)
    return _supervisor(str(settings.data_dir), settings)


def start_backend() -> Supervisor | None:
    """Start the backend when the server starts (server.py), so that debates run after a restart
    with nobody visiting; the pages then get this same Supervisor. A bad setting is logged here
    and shown on every page."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        logging.getLogger(__name__).error("the backend did not start: %s", exc)
        return None
    return _supervisor(str(settings.data_dir), settings)


def stop_backends() -> None:
    """Stop every Supervisor of this process (the real one and a demo's): debates are interrupted,
    ffmpeg ends, the store is flushed and the directory released."""
    logging.getLogger(__name__).info("the server is stopping: stopping the backend")
    _supervisor.clear()  # on_release stops each


def start_demo() -> dict[str, int] | None:
    """Fill the demo directory with a month of history (once) and switch this session to it; a
    debate starts at once, so the presenter has one on air."""
    settings = demo_settings(_settings())
    made = None
    if not is_demo(settings.data_dir):
        made = make_history(settings.data_dir, utc_now(), zone=settings.timezone or "UTC")
    st.session_state[DEMO_KEY] = True
    _supervisor(str(settings.data_dir), settings).run_now("Should AI councils moderate live debates?")
    return made


def leave_demo() -> None:
    st.session_state[DEMO_KEY] = False


def remove_demo() -> None:
    """Stop the demo backend and delete its directory (only ever one holding the DEMO marker)."""
    settings = demo_settings(_settings())
    _supervisor.clear(str(settings.data_dir), settings)  # on_release stops that backend only
    if is_demo(settings.data_dir):
        shutil.rmtree(settings.data_dir)
    st.session_state[DEMO_KEY] = False
