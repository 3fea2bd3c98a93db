"""The package and the dashboard helpers type-check (mypy), as the style guide asks."""

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[1]


def test_backend_and_dashboard_are_mypy_clean() -> None:
    stdout, stderr, status = api.run([str(ROOT / "backend"), str(ROOT / "dashboard"), "--ignore-missing-imports",
                                      "--cache-dir", str(ROOT / ".mypy_cache")])
    assert status == 0, stdout + stderr
