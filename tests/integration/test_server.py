"""The real dashboard server (`streamlit run server.py`), as the quick start runs it.

- The backend starts with the server, before anybody visits, and SIGTERM stops it cleanly.
- Requests made without a browser session are refused and change nothing. Streamlit has no form
  posts: widgets talk over the session's websocket, and a new websocket is a new visitor, who sees
  the login first (tests/app/test_access_pages.py). What is left to forge is HTTP: the upload
  endpoint (XSRF-protected), oversized bodies and path tricks for files.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import psutil
import pytest

from backend.destinations import KeyStore
from backend.storage import Store
from tests.conftest import wait_for
from tests.integration.test_faults import owned_ffmpeg
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


def fingerprint(data: Path) -> dict[str, object]:
    """What a forged request could change: keys, destinations, settings (the database check's own
    probe aside), notifiers, and which files exist outside the backend's running series."""
    store = Store(data)
    settings = {key: value for key, value in store.settings.all().items() if key != "health_probe"}
    files = sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.is_file()
                   and not {"series", "scene", "preview", "history", "commands"} & set(p.parts))
    return {"keys": (data / "keys.json").read_bytes(), "destinations": store.destinations.all(),
            "settings": settings, "files": files}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    data = tmp_path / "data"
    data.mkdir()
    KeyStore(data).set("abuse-destination", KEY)
    port = free_port()
    env = {**os.environ, "AI_COUNCIL_DATA_DIR": str(data), "AI_COUNCIL_PASSWORD": "a-long-operator-password",
           "AI_COUNCIL_BROADCAST": "off", "MONITORING_INTERVAL": "60"}
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        wait_for(lambda: _answers(port), 60, "the dashboard to answer")
        wait_for(lambda: Store(data).debates.all(), 30, "the backend's first plan")
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


def test_the_backend_starts_with_the_server_and_a_sigterm_stops_it_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    env = {**os.environ, "AI_COUNCIL_DATA_DIR": str(data), "AI_COUNCIL_TURN_SECONDS": "5",
           "AI_COUNCIL_X264_PRESET": "ultrafast", "AI_COUNCIL_TTS": "off", "MONITORING_INTERVAL": "60"}
    log = tmp_path / "server.log"
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"),
                               start_new_session=True)
    try:
        # Nobody opens a page: the server's own start owns the directory and plans the first debate.
        wait_for(lambda: any(f.path.endswith("owner.lock") for f in psutil.Process(process.pid).open_files()), 60,
                 "the server to start the backend")
        wait_for(lambda: Store(data).debates.all(), 20, "the first plan")
        (data / "commands").mkdir(exist_ok=True)
        Store(data).enqueue_command({"action": "run_now", "topic": "Ended by SIGTERM"})
        on_air = lambda: next((d for d in Store(data).debates.all() if d["topic"] == "Ended by SIGTERM"), {})  # noqa: E731
        wait_for(lambda: on_air().get("status") == "running" and len(owned_ffmpeg(data)) >= 2, 30, "the debate on air")
        process.send_signal(signal.SIGTERM)
        # Streamlit ends with the signal's default action once its shutdown (our lifespan) is done.
        assert process.wait(30) in (0, -signal.SIGTERM), log.read_text()[-2000:]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    assert on_air()["status"] == "interrupted"  # said by the stopping backend, not left for a restart
    assert not owned_ffmpeg(data)
    assert "stopping the backend" in log.read_text()
