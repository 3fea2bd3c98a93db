"""Recording download: the dashboard process's memory while a large recording downloads, through
server.py's route (streamed from disk) and through the page's download button (``streamlit run
app.py``), side by side in one run, clicked in headless Chromium.

Run: .venv/bin/python bench/bench_downloads.py [MB]   (default 250 MB; needs /usr/bin/chromium)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend import media  # noqa: E402
from backend.models import ScheduleConfig  # noqa: E402
from backend.scheduler import CONFIG_KEY  # noqa: E402
from backend.storage import Store  # noqa: E402

NAME = "debate_20260101T030000_0123abcd-00000.ts"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def recording(folder: Path, megabytes: int) -> Path:
    """A real MPEG-TS (10 s at 8 Mbps), repeated to the size asked for (TS concatenates)."""
    piece = folder / "piece.ts"
    subprocess.run([media.ffmpeg_binary(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=30",
                    "-t", "10", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "8M", "-f", "mpegts", str(piece)],
                   check=True)
    chunk = piece.read_bytes()
    path = folder / NAME
    with path.open("wb") as out:
        for _ in range(max(1, megabytes * 2**20 // len(chunk))):
            out.write(chunk)
    return path


def measure(script: str, source: Path, work: Path) -> tuple[float, float, float]:
    """(RSS before, peak RSS during, seconds) of the dashboard while one download runs."""
    from playwright.sync_api import sync_playwright

    data = work / f"data-{script}"
    Store(data).settings.set(CONFIG_KEY, ScheduleConfig(schedule_type="cron", cron_expression="0 3 1 1 *").to_doc())
    (data / "recordings").mkdir(parents=True)
    os.link(source, data / "recordings" / NAME)  # the same file, no second copy on disk
    port = free_port()
    env = {**os.environ, "AI_COUNCIL_DATA_DIR": str(data), "AI_COUNCIL_TIMEZONE": "UTC"}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
                               "--server.headless", "true"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        process = psutil.Process(server.pid)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(accept_downloads=True)
            page.goto(f"http://localhost:{port}/streams")
            page.wait_for_selector("text=Recordings", timeout=60_000)
            button = (page.locator("[data-testid=stMain] a", has_text="Download").first if script == "server.py"
                      else page.locator("[data-testid=stDownloadButton] button"))
            button.wait_for(timeout=60_000)
            page.wait_for_timeout(2000)
            before = process.memory_info().rss / 2**20
            peak, stop = [before], threading.Event()

            def sample() -> None:  # the dashboard's memory while it serves the file
                while not stop.is_set():
                    peak[0] = max(peak[0], process.memory_info().rss / 2**20)
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.monotonic()
            try:
                with page.expect_download(timeout=300_000) as info:
                    button.click()
                path = Path(info.value.path())  # waits for the whole file
                seconds = time.monotonic() - started
            finally:
                stop.set()
                sampler.join()
            assert path.stat().st_size == source.stat().st_size, "the download is incomplete"
            browser.close()
        return before, peak[0], seconds
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def main() -> None:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 250
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        source = recording(work, megabytes)
        size = source.stat().st_size / 2**20
        route = measure("server.py", source, work)
        button = measure("app.py", source, work)
    grow_route, grow_button = route[1] - route[0], button[1] - button[0]
    print(f"download of a {size:.0f} MB recording, dashboard RSS growth: route {grow_route:.0f} MB "
          f"({route[0]:.0f} -> {route[1]:.0f} MB, {route[2]:.1f} s), download button {grow_button:.0f} MB "
          f"({button[0]:.0f} -> {button[1]:.0f} MB, {button[2]:.1f} s)   goal: route growth < 5 % of the file "
          f"({grow_route / size * 100:.1f} %)")


if __name__ == "__main__":
    main()
