"""Demo mode: a month of generated history in a folder of its own, labelled, removable in one click."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from backend.demo import MARKER, make_history
from backend.storage import Store
from backend.timeutil import utc_now

APP = Path(__file__).resolve().parents[2] / "app.py"


def sidebar_button(at: AppTest, label: str):
    [found] = [b for b in at.sidebar.button if b.label == label]
    return found


def test_demo_mode_shows_a_labelled_month_and_is_removed_in_one_click(data_dir: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    sidebar_button(at, "Demo mode").click().run()
    assert not at.exception, at.exception
    demo = data_dir.parent / f"{data_dir.name}-demo"
    assert (demo / MARKER).exists()
    assert any("DEMO DATA" in w.value for w in at.sidebar.warning)
    assert any("DEMO DATA" in c.value for c in at.caption)
    at.switch_page("views/analytics.py").run()
    assert not at.exception, at.exception
    assert any("DEMO DATA" in c.value for c in at.caption)  # on every page
    debates = int(next(m.value for m in at.metric if m.label == "Debates"))
    assert 30 <= debates <= 7 * 6 and next(m.value for m in at.metric if m.label == "Peak viewers") != "—"
    assert Store(demo).debates.all(), "a debate was started in the demo backend"
    assert not Store(data_dir).records("debate_metrics", "debate_id", "start_time",
                                       utc_now().replace(year=2000), utc_now())  # the real data is untouched
    sidebar_button(at, "Remove demo data").click().run()
    assert not at.exception, at.exception
    assert not demo.exists()
    assert not any("DEMO DATA" in w.value for w in at.sidebar.warning)
    assert (data_dir / "state.json").exists()


def test_demo_history_never_goes_into_a_directory_with_real_data(tmp_path: Path) -> None:
    Store(tmp_path).settings.set("anything", 1)
    with pytest.raises(ValueError, match="holds real data"):
        make_history(tmp_path, utc_now())
