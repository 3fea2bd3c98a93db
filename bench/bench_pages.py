"""Page benchmarks: the Analytics page's script run with a year of history, and the process's memory.

Run: .venv/bin/python bench/bench_pages.py   (prints each figure beside its goal)

A data directory gets 365 days of analytics (bench_analytics.build: 24 debates a day, 5
destinations each, a system sample a minute for 7 days and hourly rollups before). The dashboard
runs through streamlit's AppTest against its real backend thread; each figure is the median of 5
runs of the Analytics page's script, once with Streamlit's data cache cleared before each run
(cold: every figure computed from the files) and once warm. RSS is this process's resident memory
(dashboard, backend thread and the loaded year) after the runs.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from bench.bench_analytics import build  # noqa: E402
from backend.timeutil import utc_now  # noqa: E402

RUNS = 5


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        build(Path(folder), 365, utc_now())
        os.environ.update({"AI_COUNCIL_DATA_DIR": folder, "AI_COUNCIL_BROADCAST": "off", "AI_COUNCIL_TIMEZONE": "UTC"})
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.run()
        at.switch_page("views/analytics.py").run()
        assert not at.exception, at.exception
        timings: dict[str, list[float]] = {"7 d, cold": [], "7 d, warm": [], "30 d, cold": [], "365 d, cold": []}
        for kind in timings:
            if kind.startswith("30 d"):
                at.session_state["period"] = "30 d"
            if kind.startswith("365 d"):
                at.session_state["period"] = "Custom"
                today = utc_now().date()
                at.session_state["custom_range"] = (today - timedelta(days=364), today)
            for _ in range(RUNS):
                if kind.endswith("cold"):
                    st.cache_data.clear()
                started = time.perf_counter()
                at.run()
                timings[kind].append(time.perf_counter() - started)
                assert not at.exception, at.exception
        rss = psutil.Process().memory_info().rss / 2**20
        st.cache_resource.clear()  # stops the backend
    for kind, values in timings.items():
        print(f"Analytics page script, a year stored, {kind:11s}: median {1000 * statistics.median(values):6.0f} ms, "
              f"max {1000 * max(values):6.0f} ms   goal <= 1000 ms")
    print(f"dashboard process RSS with a year loaded: {rss:.0f} MB   goal <= 300 MB")


if __name__ == "__main__":
    main()
