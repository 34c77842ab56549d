"""Progress bars for long terminal work (scans, audits of large exports, the demo's phases), on ``rich``.

A bar is drawn only when its stream is a terminal: anywhere else (a pipe, a
file, a test's buffer) it writes nothing at all, so logs and captured output
never hold escape codes. Bars are transient: finished, they leave no trace.

The bar is redrawn only when told of progress, never from a timer thread, so
it cannot draw over a prompt or over lines another part of the program is
writing; ``hidden()`` takes it off the screen while such lines are written.
Bars on one stream share one rich Console, so a bar started while another is
shown (a scan inside a demo phase) is drawn beneath it instead of over it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TaskProgressColumn, TextColumn
from rich.text import Text

#: The least time between two redraws for the same bar, so a per-entry callback costs next to nothing.
MIN_REDRAW_SECONDS = 0.1


@dataclass(eq=False)
class _Screen:
    """One terminal stream: its Console, and the bars shown on it, oldest first."""

    console: Console
    shown: list[TaskBar] = field(default_factory=list)


#: The streams with bars shown, by id(): a stream stays alive while its Console holds it, and is
#: dropped from here when its last bar is erased.
_screens: dict[int, _Screen] = {}


def _screen(stream: TextIO) -> _Screen:
    screen = _screens.get(id(stream))
    if screen is None:
        # force_terminal: the caller already checked isatty(); rich's own checks also read the environment.
        screen = _screens[id(stream)] = _Screen(Console(file=stream, force_terminal=True))
    return screen


def on_terminal(stream: TextIO) -> bool:
    """Whether bars on ``stream`` are drawn: only on a TTY."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


class _Elapsed(ProgressColumn):
    """Time since the bar was made, kept across the bar being hidden and drawn again."""

    def __init__(self, since: float) -> None:
        super().__init__()
        self.since = since

    def render(self, task: Task) -> Text:
        return Text(str(timedelta(seconds=int(time.monotonic() - self.since))), style="progress.elapsed")


class TaskBar:
    """A transient bar for one long task on a terminal: bar, percentage, description and elapsed time.

    Silent when ``stream`` (default: standard error) is not a TTY. ``total``
    None draws a bar that only says work is going on. Nothing is drawn until
    the first ``update``; ``finish`` (or leaving the ``with`` block) erases it
    and is safe to call more than once.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        total: float | None = None,
        description: str = "",
        width: int | None = 30,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = on_terminal(self.stream)
        self.total = total
        self.completed = 0.0
        self.description = description
        self.width = width
        self._since = time.monotonic()
        self._drawn_at: float | None = None
        self._screen: _Screen | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._finished = False

    def update(
        self,
        completed: float,
        *,
        total: float | None = None,
        description: str | None = None,
        force: bool = False,
    ) -> None:
        """Record progress; redraw if ``force`` or enough time has passed since the last redraw."""
        if not self.enabled or self._finished:
            return
        self.completed = completed
        if total is not None:
            self.total = total
        if self.total is not None and completed > self.total:
            self.total = completed  # a count that ran past its estimate fills the bar, not more
        if description is not None:
            self.description = description
        now = time.monotonic()
        if force or self._drawn_at is None or now - self._drawn_at >= MIN_REDRAW_SECONDS:
            self._draw()
            self._drawn_at = now

    @contextmanager
    def hidden(self) -> Iterator[None]:
        """The bar off the screen while the block writes to the same terminal, then back as it was.

        A bar with another drawn beneath it stays: taking it away would take the other with it."""
        if self._screen is None or self._screen.shown[-1:] != [self]:
            yield
            return
        self._erase()
        try:
            yield
        finally:
            if not self._finished:
                self._draw()

    def finish(self) -> None:
        """Erase the bar for good; later updates are ignored."""
        self._finished = True
        self._erase()

    def __enter__(self) -> TaskBar:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.finish()

    def _draw(self) -> None:
        if self._progress is None:
            screen = self._screen = _screen(self.stream)
            self._progress = Progress(
                BarColumn(bar_width=self.width),
                TaskProgressColumn(),
                TextColumn("{task.description}", markup=False),
                _Elapsed(self._since),
                console=screen.console,
                auto_refresh=False,  # drawn on progress only: a timer thread would draw over prompts
                transient=True,
                redirect_stdout=False,  # other output stays on its own stream, untouched
                redirect_stderr=False,
            )
            self._task = self._progress.add_task(self.description, total=self.total)
            self._progress.update(self._task, completed=self.completed)  # add_task takes whole numbers only
            beneath = bool(screen.shown)
            screen.shown.append(self)
            self._progress.start()  # draws it, unless beneath another bar: that one draws both
            screen.console.show_cursor(True)  # an interrupted caller must not leave the cursor hidden
            if not beneath:
                return
        else:
            assert self._task is not None
            self._progress.update(
                self._task, completed=self.completed, total=self.total, description=self.description
            )
        self._progress.refresh()

    def _erase(self) -> None:
        screen = self._screen
        if self._progress is None or screen is None:
            return
        self._progress.stop()  # transient: the bar's lines are cleared
        self._progress = self._task = self._screen = self._drawn_at = None
        screen.shown.remove(self)
        if screen.shown and (outer := screen.shown[0]._progress) is not None:
            outer.refresh()  # a bar drawn above this one redraws without it
        elif not screen.shown and _screens.get(id(self.stream)) is screen:
            del _screens[id(self.stream)]
        screen.console.show_cursor(True)
