"""What a person clicks, in headless Chromium (Debian's, driven by Playwright) against the real app.

One journey, as an operator would make it: open the app; add a destination point-and-click; run a
debate now; see it go live with a bitrate and a preview picture; see an alert appear on the Health
page when the receiver dies and clear when it returns; download a report. A screenshot of each page
is kept in ``artifacts/screenshots/`` of the checkout (git ignores the folder).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from backend import media
from backend.models import ScheduleConfig
from backend.scheduler import CONFIG_KEY
from backend.storage import Store
from tests.conftest import wait_for
from tests.integration.test_streaming import Receiver, free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
KEY = "live_BrowserKey_4f9a1c"

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError("the browser tests need Debian's chromium: scripts/system-packages.sh installs it")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api")
sync_playwright, expect = playwright_api.sync_playwright, playwright_api.expect


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    """The dashboard with its backend in a process of its own, on a fresh data directory."""
    data = tmp_path / "data"
    # Only the debates the test starts: the default plan's first debate would come two minutes in.
    Store(data).settings.set(CONFIG_KEY, ScheduleConfig(schedule_type="cron", cron_expression="0 3 1 1 *").to_doc())
    port = free_port()
    env = {**os.environ, "AI_COUNCIL_DATA_DIR": str(data), "AI_COUNCIL_TURN_SECONDS": "2",
           "MONITORING_INTERVAL": "1", "AI_COUNCIL_X264_PRESET": "ultrafast", "AI_COUNCIL_TIMEZONE": "UTC",
           "AI_COUNCIL_BETWEEN_DEBATES": "slate"}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    url = f"http://localhost:{port}"
    wait_for(lambda: _healthy(url), 60, "the dashboard to answer")
    yield url
    os.killpg(server.pid, signal.SIGTERM)  # the app and every ffmpeg it started
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(5)


def _healthy(url: str) -> bool:
    try:
        return urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200
    except OSError:
        return False


def main_text(page) -> str:
    return page.inner_text("[data-testid=stMain]")


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def until(page, condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        page.wait_for_timeout(500)
    shoot(page, f"timeout-{what.replace(' ', '-')[:40]}")
    raise AssertionError(f"timed out after {seconds} s waiting for {what}; the page says:\n{main_text(page)[:1500]}")


def test_an_operator_streams_a_debate_sees_an_alert_come_and_go_and_downloads_a_report(
        app_url: str, tmp_path: Path) -> None:
    receiver = Receiver(tmp_path, key=KEY).start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1400}, accept_downloads=True)
        try:
            page.goto(app_url)
            page.wait_for_selector("h1", timeout=60_000)
            until(page, lambda: "AI Council Automation" in main_text(page), 30, "the overview")
            shoot(page, "overview")

            page.goto(f"{app_url}/streams")
            page.wait_for_selector("h1", timeout=30_000)
            page.get_by_label("Platform").click()
            page.get_by_role("option", name="Custom RTMP", exact=True).click()
            # The form is drawn again for the new platform (fresh fields): type only once it is.
            page.locator('input[aria-label="Name"][value="Custom RTMP"]').wait_for(timeout=20_000)
            expect(page.get_by_label("Name", exact=True)).to_have_count(1, timeout=20_000)  # the old form is gone
            page.get_by_label("Name").fill("Browser receiver")
            page.get_by_label("Ingest URL").fill(f"rtmp://127.0.0.1:{receiver.port}/live")
            page.get_by_role("textbox", name="Stream key").fill(KEY)
            page.get_by_label("Quality").click()
            page.get_by_role("option", name="low", exact=True).click()
            page.get_by_role("button", name="Save destination").click()
            until(page, lambda: "Browser receiver" in main_text(page), 20, "the saved destination")
            assert KEY not in page.content()  # masked in the HTML the browser got, not only on screen

            page.goto(f"{app_url}/schedule")
            page.wait_for_selector("h1", timeout=30_000)
            page.get_by_label("Topic (empty: the next topic from the rotation)").fill("Browsers can watch debates")
            page.get_by_role("button", name="Run now").click()
            until(page, lambda: "Debate started" in main_text(page), 20, "the run-now confirmation")

            page.goto(f"{app_url}/streams")
            until(page, lambda: "1 of 1" in main_text(page) and "kbps" in main_text(page), 45,
                  "the destination to go live with a bitrate")
            until(page, lambda: page.locator("[data-testid=stMain] img").count() > 0, 30, "the preview picture")
            assert page.locator("[data-testid=stMain] img").first.evaluate("image => image.naturalWidth") > 0
            shoot(page, "streams-live")

            receiver.kill()
            page.goto(f"{app_url}/health")
            until(page, lambda: "Open alerts (1)" in main_text(page) and "streaming" in main_text(page), 45,
                  "the streaming alert")
            shoot(page, "health-alert")
            receiver.start()
            until(page, lambda: "No open alerts." in main_text(page), 60, "the alert to clear")
            shoot(page, "health-clear")

            page.goto(f"{app_url}/analytics")
            page.wait_for_selector("h1", timeout=30_000)
            until(page, lambda: "Insights" in main_text(page), 30, "the analytics page")
            shoot(page, "analytics")
            page.get_by_role("tab", name="Reports").click()
            page.get_by_role("button", name="Prepare the report").click()
            until(page, lambda: page.get_by_role("button", name="Download").filter(has_text=".json").count() > 0,
                  60, "the report's download buttons")
            with page.expect_download() as download:
                page.get_by_role("button", name="Download").filter(has_text=".json").click()
            saved = tmp_path / download.value.suggested_filename
            download.value.save_as(saved)
            report = json.loads(saved.read_text())
            assert {"debates", "streaming", "system", "insights"} <= set(report)

            page.goto(f"{app_url}/settings")
            page.wait_for_selector("h1", timeout=30_000)
            until(page, lambda: "Notifications" in main_text(page), 30, "the settings page")
            shoot(page, "settings")
        finally:
            browser.close()
            receiver.kill()


def test_a_recording_downloads_from_disk_through_a_signed_link_that_cannot_be_bent(
        app_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "data" / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    recording = folder / "debate_20260101T030000_0123abcd-00000.ts"
    subprocess.run([media.ffmpeg_binary(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                    "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts", str(recording)], check=True)
    other = folder / "debate_20260101T040000_4567cdef-00000.ts"
    other.write_bytes(recording.read_bytes()[:188 * 100])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        try:
            page.goto(f"{app_url}/streams")
            page.wait_for_selector("h1", timeout=60_000)
            page.get_by_label("Recording", exact=True).click()
            page.get_by_role("option", name=recording.name).click()
            link = page.locator("[data-testid=stMain] a", has_text="Download").first
            until(page, lambda: recording.name in (link.get_attribute("href") or ""), 20, "the chosen recording's link")
            with page.expect_download() as download:
                link.click()
            assert download.value.suggested_filename == recording.name
            assert Path(download.value.path()).read_bytes() == recording.read_bytes()
            href = urllib.parse.urljoin(page.url, link.get_attribute("href"))
        finally:
            browser.close()

    def status(url: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return answer.status, ""
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read().decode()

    token = href.split("token=", 1)[1]
    bent = [href.replace(recording.name, other.name),  # another file under the same token
            href.replace(recording.name, "..%2F..%2Fkeys.json"),  # a path trick
            f"{href[:-4]}{'A' if href[-4] != 'A' else 'B'}{href[-3:]}",  # a forged signature
            href.split("?")[0]]  # no token at all
    for url in bent:
        code, text = status(url)
        assert code in (400, 403, 404), (url, code)
        assert "keys" not in text and KEY not in text
    assert token and status(href)[0] == 200  # the genuine link still works
