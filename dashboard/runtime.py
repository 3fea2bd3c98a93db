"""The one Supervisor per data directory, shared by every browser session of this process."""

from __future__ import annotations

import logging

import streamlit as st

from backend import ConfigError, Settings, Supervisor, load_settings


@st.cache_resource(show_spinner=False, on_release=lambda supervisor: supervisor.stop())
def _supervisor(data_dir: str, _settings: Settings) -> Supervisor:
    logging.basicConfig(level=_settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return Supervisor(_settings).start()


def get_supervisor() -> Supervisor:
    """Start the backend on first use (cached); a bad setting stops the page with its message."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        st.error(f"Configuration error: {exc}")
        st.stop()
    return _supervisor(str(settings.data_dir), settings)
