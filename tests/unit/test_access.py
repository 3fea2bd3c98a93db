"""The password gate: constant-time checks, per-client limits with growing lockouts."""

from __future__ import annotations

import logging

import pytest

from dashboard.access import PasswordGate


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_right_and_wrong_passwords():
    gate = PasswordGate("correct horse", clock=Ticks())
    assert gate.attempt("a", "correct horse").ok
    verdict = gate.attempt("a", "wrong")
    assert not verdict.ok and verdict.message == "Wrong password."


def test_five_failures_lock_the_client_out_even_for_the_right_password_and_the_lock_grows(caplog):
    ticks = Ticks()
    gate = PasswordGate("s3cret-pass", clock=ticks)
    with caplog.at_level(logging.WARNING):
        for attempt in range(5):
            verdict = gate.attempt("10.0.0.7", f"guess-{attempt}")
    assert verdict.message == "Too many wrong passwords: try again in 60 s."
    assert not gate.attempt("10.0.0.7", "s3cret-pass").ok  # locked: not even the right one
    assert gate.attempt("10.0.0.8", "s3cret-pass").ok  # another client is not locked out
    assert not any("guess-" in record.getMessage() for record in caplog.records)  # never the attempted value
    ticks.now += 61
    for attempt in range(5):
        verdict = gate.attempt("10.0.0.7", "nope")
    assert verdict.message == "Too many wrong passwords: try again in 120 s."
    ticks.now += 121
    assert gate.attempt("10.0.0.7", "s3cret-pass").ok


def test_failures_outside_the_window_are_forgotten():
    ticks = Ticks()
    gate = PasswordGate("pw-123456", clock=ticks)
    for _ in range(4):
        gate.attempt("c", "x")
    ticks.now += 301
    assert gate.attempt("c", "x").message == "Wrong password."  # 1 in the window, not 5


def test_a_gate_needs_a_password():
    with pytest.raises(ValueError):
        PasswordGate("")
