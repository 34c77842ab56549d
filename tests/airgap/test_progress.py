"""Bars draw on a terminal only, erase themselves, and keep out of the way of other output."""

from __future__ import annotations

import io

import pytest

from airgap import progress
from airgap.progress import TaskBar, on_terminal


class FakeTty(io.StringIO):
    """A buffer that says it is a terminal, so what a bar would draw can be read back."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same terminal whatever the environment running the tests says."""
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.delenv("TTY_INTERACTIVE", raising=False)


def test_off_a_terminal_nothing_is_written() -> None:
    stream = io.StringIO()
    bar = TaskBar(stream, total=10, description="checking")
    assert not bar.enabled
    bar.update(3, force=True)
    with bar.hidden():
        pass
    bar.finish()
    bar.finish()
    assert stream.getvalue() == ""


def test_on_a_terminal_the_bar_shows_percentage_and_description() -> None:
    stream = FakeTty()
    bar = TaskBar(stream, total=10, description="checking entries")
    assert bar.enabled
    bar.update(3)
    assert " 30%" in stream.getvalue() and "checking entries" in stream.getvalue()
    bar.finish()
    drawn = stream.getvalue()
    bar.finish()
    bar.update(4, force=True)
    assert stream.getvalue() == drawn  # finished: later calls draw nothing


def test_finish_without_drawing_writes_nothing() -> None:
    stream = FakeTty()
    with TaskBar(stream, total=5) as bar:
        bar.finish()
    assert stream.getvalue() == ""


def test_redraws_are_throttled_unless_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "MIN_REDRAW_SECONDS", 3600.0)
    stream = FakeTty()
    bar = TaskBar(stream, total=100, description="entries")
    bar.update(1)
    bar.update(2)
    assert " 2%" not in stream.getvalue()
    bar.update(3, force=True)
    assert " 3%" in stream.getvalue()
    bar.finish()


def test_a_count_past_its_total_fills_the_bar() -> None:
    bar = TaskBar(FakeTty(), total=4)
    bar.update(6, force=True)
    assert bar.total == 6
    bar.finish()


def test_hidden_erases_the_bar_around_other_output_then_draws_it_again() -> None:
    stream = FakeTty()
    bar = TaskBar(stream, total=8, description="phase one")
    bar.update(1)
    with bar.hidden():
        stream.write("a transcript line\n")
    after = stream.getvalue().split("a transcript line\n", 1)[1]
    assert "phase one" in after
    bar.finish()


def test_a_bar_started_under_another_is_drawn_beneath_it_and_the_other_stays() -> None:
    stream = FakeTty()
    outer = TaskBar(stream, total=8, description="outer phase")
    outer.update(1)
    inner = TaskBar(stream, total=10, description="inner scan")
    inner.update(5)
    assert "inner scan" in stream.getvalue()
    with outer.hidden():  # a bar with another beneath it is not taken away
        pass
    mark = len(stream.getvalue())
    inner.finish()
    assert "outer phase" in stream.getvalue()[mark:]  # drawn again, alone
    outer.finish()


def test_on_terminal_is_false_for_streams_without_isatty_or_closed() -> None:
    closed = io.StringIO()
    closed.close()
    assert not on_terminal(closed)
    assert not on_terminal(io.StringIO())
    assert on_terminal(FakeTty())
