"""Requests made without a browser session against the real dashboard server: refused, nothing changed.

Streamlit has no form posts: widgets talk over the session's websocket, and a new websocket is a
new visitor, who sees the login first (tests/app/test_access_pages.py). What is left to forge is
HTTP: the upload endpoint (XSRF-protected), oversized bodies and path tricks for files.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from backend.destinations import KeyStore
from tests.conftest import wait_for
from tests.integration.test_streaming import free_port

ROOT = Path(__file__).resolve().parents[2]
KEY = "live_ForgedRequestKey_91c3e7"


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One raw request; the path is sent exactly as written (no '..' folding)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def fingerprint(data: Path) -> dict[str, str]:
    """Every file's content hash, except those the running backend rewrites on its own."""
    moving = {"state.json", "state.json.lock", "owner.lock"}
    return {str(path.relative_to(data)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(data.rglob("*")) if path.is_file() and path.name not in moving
            and "series" not in path.parts and "scene" not in path.parts}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    data = tmp_path / "data"
    data.mkdir()
    KeyStore(data).set("abuse-destination", KEY)
    port = free_port()
    env = {**os.environ, "AI_COUNCIL_DATA_DIR": str(data), "AI_COUNCIL_PASSWORD": "a-long-operator-password",
           "AI_COUNCIL_BROADCAST": "off", "MONITORING_INTERVAL": "60"}
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        wait_for(lambda: _answers(port), 60, "the dashboard to answer")
        yield port, data
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)


def _answers(port: int) -> bool:
    try:
        return request(port, "GET", "/_stcore/health")[0] == 200
    except OSError:
        return False


def test_forged_uploads_oversized_bodies_and_path_tricks_are_refused_and_change_nothing(server) -> None:
    port, data = server
    before = fingerprint(data)

    status, body = request(port, "PUT", "/_stcore/upload_file/forged-session/forged-file", b"x" * 1000,
                           {"Content-Type": "application/octet-stream"})
    assert (status, body) == (403, b"XSRF token missing or invalid")
    status, _ = request(port, "POST", "/_stcore/upload_file/forged-session/forged-file", b"x" * (8 * 2**20))
    assert status in (403, 405, 413)

    answers = [request(port, "GET", path) for path in (
        "/../keys.json", "/app/static/../../keys.json", "/media/..%2F..%2Fkeys.json", "/%2e%2e/%2e%2e/etc/passwd",
        "/_stcore/../keys.json", "/component/../../keys.json")]
    for status, body in answers:
        assert KEY.encode() not in body and b"root:x:0:0" not in body
        assert status in (200, 400, 403, 404)  # 200 only for the app's own page (the SPA's fallback)
        if status == 200:
            assert b"<!doctype html>" in body.lower()[:2000] or b"streamlit" in body.lower()
    assert fingerprint(data) == before
