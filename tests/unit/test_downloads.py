"""Signed recording links (dashboard/downloads.py): what a link admits, and the bounded read."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard import downloads


@pytest.fixture
def enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloads, "_enabled", True)


def token_of(link: str) -> str:
    return link.split("?token=", 1)[1]


def test_without_the_server_route_there_is_no_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloads, "_enabled", False)
    assert downloads.link(tmp_path / "a.ts") is None


def test_a_link_names_its_file_and_admits_exactly_that_file(tmp_path: Path, enabled: None) -> None:
    path = tmp_path / "debate_20260101T030000_0123abcd-00000.ts"
    link = downloads.link(path)
    assert link.startswith("recordings/debate_20260101T030000_0123abcd-00000.ts?token=")
    assert downloads.signed_path(path.name, token_of(link)) == path.resolve()
    assert downloads.signed_path("debate_20260101T040000_4567cdef-00000.ts", token_of(link)) is None
    forged = token_of(link)[:-2] + ("AA" if not token_of(link).endswith("AA") else "BB")
    assert downloads.signed_path(path.name, forged) is None
    assert downloads.signed_path(path.name, "") is None and downloads.signed_path(path.name, "not.a.token") is None


def test_a_link_expires(tmp_path: Path, enabled: None) -> None:
    path = tmp_path / "a.ts"
    token = token_of(downloads.link(path))
    assert downloads.signed_path("a.ts", token, max_age=60) == path.resolve()
    assert downloads.signed_path("a.ts", token, max_age=-1) is None  # older than allowed


def test_a_process_signs_with_its_own_secret(tmp_path: Path, enabled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    token = token_of(downloads.link(tmp_path / "a.ts"))
    monkeypatch.setattr(downloads, "_signer", downloads.URLSafeTimedSerializer(b"another process", salt="x"))
    assert downloads.signed_path("a.ts", token) is None


def test_the_read_stops_at_the_size_the_request_saw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloads, "CHUNK_BYTES", 1000)
    path = tmp_path / "growing.ts"
    path.write_bytes(b"x" * 2500)
    chunks = downloads.read_upto(path, 2500)
    first = next(chunks)
    with path.open("ab") as handle:  # the segment is still being written
        handle.write(b"y" * 5000)
    rest = list(chunks)
    assert [len(c) for c in [first, *rest]] == [1000, 1000, 500] and b"y" not in b"".join(rest)
    assert b"".join(downloads.read_upto(path, 10_000)) == b"x" * 2500 + b"y" * 5000  # shorter file: all of it


def test_the_route_sits_below_the_base_url_path() -> None:
    assert downloads.route().path == "/recordings/{name}"
    assert downloads.route("/council/").path == "/council/recordings/{name}"
