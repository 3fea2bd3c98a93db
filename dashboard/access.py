"""Who may change things: a login for the controls whenever others can reach the dashboard.

Three modes, chosen by configuration:

- **oidc**: ``[auth]`` is configured in Streamlit's secrets: ``st.login()`` (OpenID Connect);
- **password**: a password in the secrets (``password = "..."``) or ``AI_COUNCIL_PASSWORD``:
  compared in constant time, attempts rate-limited per client address, a failure logged without
  the attempted value;
- **local**: neither: the server listens on this machine only (``.streamlit/config.toml``) and the
  sidebar says so. If the address was opened up anyway, the controls are switched off.

``AI_COUNCIL_PUBLIC_VIEW=on`` lets visitors who are not logged in see the pages, read-only.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import streamlit as st

log = logging.getLogger(__name__)

LOCAL_ADDRESSES = {"localhost", "127.0.0.1", "::1"}
LOGIN_TO_CHANGE = "Log in (sidebar) to change this."


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str


class PasswordGate:
    """Constant-time password checks with a per-client limit: ``max_failures`` in ``window`` seconds,
    then that client waits ``lockout`` seconds, doubling with each further lockout (up to 15 min)."""

    def __init__(self, password: str, *, max_failures: int = 5, window: float = 300.0, lockout: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not password:
            raise ValueError("a password gate needs a password")
        self._password = password.encode()
        self.max_failures, self.window, self.lockout = max_failures, window, lockout
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lockouts: dict[str, int] = {}
        self._lock = threading.Lock()

    def attempt(self, client: str, password: str) -> Verdict:
        now = self._clock()
        with self._lock:
            until = self._locked_until.get(client, 0.0)
            if now < until:
                return Verdict(False, f"Too many wrong passwords: try again in {until - now:.0f} s.")
            if hmac.compare_digest(password.encode(), self._password):
                self._failures.pop(client, None)
                self._lockouts.pop(client, None)
                return Verdict(True, "Logged in.")
            failures = self._failures.setdefault(client, deque())
            failures.append(now)
            while failures and failures[0] <= now - self.window:
                failures.popleft()
            log.warning("wrong dashboard password from %s (%d in %.0f s)", client, len(failures), self.window)
            if len(failures) >= self.max_failures:
                count = self._lockouts.get(client, 0)
                wait = min(self.lockout * 2 ** count, 900.0)
                self._lockouts[client] = count + 1
                self._locked_until[client] = now + wait
                failures.clear()
                log.warning("dashboard logins from %s refused for %.0f s", client, wait)
                return Verdict(False, f"Too many wrong passwords: try again in {wait:.0f} s.")
            return Verdict(False, "Wrong password.")


def _secret(name: str) -> object | None:
    try:
        return st.secrets.get(name)
    except Exception:  # no secrets.toml at all
        return None


def mode() -> str:
    if _secret("auth"):
        return "oidc"
    return "password" if _password() else "local"


def _password() -> str | None:
    value = _secret("password") or os.environ.get("AI_COUNCIL_PASSWORD")
    return str(value) if value else None


def public_view() -> bool:
    return os.environ.get("AI_COUNCIL_PUBLIC_VIEW", "off").strip().lower() in {"on", "1", "true", "yes"}


@st.cache_resource(show_spinner=False)
def _gate(password: str) -> PasswordGate:
    return PasswordGate(password)  # one per process: the limit holds across browser sessions


def _client() -> str:
    return getattr(st.context, "ip_address", None) or "unknown client"


def logged_in() -> bool:
    if mode() == "oidc":
        return bool(getattr(st.user, "is_logged_in", False))
    return bool(st.session_state.get("logged_in"))


def can_control() -> bool:
    """May this browser session change things (destinations, schedule, settings, alerts)?"""
    if mode() == "local":
        return str(st.get_option("server.address") or "localhost") in LOCAL_ADDRESSES
    return logged_in()


def sidebar() -> None:
    """The login (or logout) in the sidebar, and what protects the controls."""
    current = mode()
    if current == "local":
        if can_control():
            st.caption(":material/lock: No login is configured, so this dashboard listens on this machine only. "
                       "Set AI_COUNCIL_PASSWORD (or [auth] in secrets) before opening it to others.")
        else:
            st.error("The server listens beyond this machine but no login is configured: the controls are off. "
                     "Set AI_COUNCIL_PASSWORD or [auth] in secrets.")
        return
    if logged_in():
        if current == "oidc":
            st.caption(f"Logged in as {getattr(st.user, 'name', None) or getattr(st.user, 'email', '')}")
            st.button("Log out", on_click=st.logout)
        elif st.button("Log out"):
            st.session_state["logged_in"] = False
            st.rerun()
        return
    if current == "oidc":
        st.button("Log in", on_click=st.login, type="primary")
        return
    with st.form("login"):
        typed = st.text_input("Password", type="password", max_chars=256)
        if st.form_submit_button("Log in", type="primary"):
            password = _password()
            verdict = _gate(password or "").attempt(_client(), typed) if password else Verdict(False, "No password.")
            if verdict.ok:
                st.session_state["logged_in"] = True
                st.rerun()
            st.error(verdict.message)


def require_view() -> None:
    """Stop the page for visitors who may not even look (no public view and not logged in)."""
    if mode() != "local" and not logged_in() and not public_view():
        st.title("AI Council Automation")
        st.info("Log in (sidebar) to see the dashboard.")
        st.stop()
