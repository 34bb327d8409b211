"""The one clock (healthscore.clock) and the one formatting module (healthscore.formatting)."""

from __future__ import annotations

import doctest
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from healthscore import clock, formatting
from healthscore.errors import ConfigError


def test_the_clock_is_naive_utc_and_can_be_frozen():
    moment = datetime(2026, 7, 1, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    assert clock.utc(moment) == datetime(2026, 7, 2, 1, 30)  # 23:30 at UTC-2 is 01:30 UTC
    assert clock.now().tzinfo is None
    with clock.frozen(moment):
        assert clock.now() == datetime(2026, 7, 2, 1, 30) and clock.today() == date(2026, 7, 2)
        assert clock.now(datetime(2026, 1, 1)) == datetime(2026, 1, 1)  # a given time wins
    assert abs(clock.now() - datetime.now(UTC).replace(tzinfo=None)) < timedelta(seconds=5)


def test_commands_read_the_frozen_clock(tmp_path):
    """Scoring refuses a date after "today", and today is the clock's."""
    from healthscore.pipeline import score
    from healthscore.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws")
    with clock.frozen(datetime(2026, 3, 1, 12)), pytest.raises(ConfigError) as err:
        score(ws, date(2026, 3, 2))
    assert "--as-of 2026-03-02 is in the future (today is 2026-03-01)" in err.value.message


def test_formatting_examples_hold():
    assert doctest.testmod(formatting).failed == 0
    assert formatting.delta(0.04) == "+0.0" and formatting.delta(-3.25) == "−3.2"
    assert formatting.raw_value(float("nan")) == "no data" and formatting.score(None) == "–"
    assert formatting.when(datetime(2026, 7, 1, 9, 5)) == "2026-07-01 09:05"
