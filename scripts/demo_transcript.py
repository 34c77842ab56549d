"""The demo's transcript: each step with its time, each phase with its share, and a verdict.

A step that does not hold raises ``StepFailed``; the demo stops there, since
every later step depends on the earlier ones, and the exit code says so.
Every command's full output is kept under ``DIR/commands/`` while the screen
shows the lines that matter. On a terminal, a bar on stderr counts the phases;
the transcript itself is the same with or without it.
"""

from __future__ import annotations

import io
import re
import shlex
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from airgap.progress import TaskBar

Main = Callable[..., int]
INDENT = " " * 11


class StepFailed(Exception):
    """A step did not hold; the message says what was expected and what happened."""


@dataclass
class Phase:
    title: str
    seconds: float = 0.0
    steps: int = 0


@dataclass
class Transcript:
    outs: Sequence[TextIO]  # the terminal, and the copy kept as DIR/transcript.txt
    root: Path
    phases: list[Phase] = field(default_factory=list)
    bar: TaskBar | None = None  # phases done out of the demo's total; its total is set by the caller
    _commands: int = 0

    def say(self, text: str = "") -> None:
        with self._bar_hidden():
            for out in self.outs:
                out.write(text + "\n")
                out.flush()

    def _bar_hidden(self) -> AbstractContextManager[None]:
        """The bar erased while a line is written, in case stdout is the same terminal as its stderr."""
        return self.bar.hidden() if self.bar is not None else nullcontext()

    def _show_phases(self, doing: str | None) -> None:
        if self.bar is None:
            return
        done = len(self.phases) - (doing is not None)
        total = "?" if self.bar.total is None else f"{self.bar.total:.0f}"
        now = f": {doing}" if doing is not None else ""
        self.bar.update(done, description=f"{done}/{total} phases done{now}", force=True)

    @contextmanager
    def phase(self, title: str, when: str) -> Iterator[None]:
        phase = Phase(title)
        self.phases.append(phase)
        self.say(f"\n== {len(self.phases)}. {title}  ({when})")
        self._show_phases(title)
        start = time.perf_counter()
        try:
            yield
        finally:
            phase.seconds = time.perf_counter() - start
            self._show_phases(None)

    @contextmanager
    def step(self, who: str, what: str) -> Iterator[list[str]]:
        """Times the block; the lines it appends to the yielded list are printed under the step."""
        lines: list[str] = []
        start = time.perf_counter()
        yield lines
        seconds = time.perf_counter() - start
        self.phases[-1].steps += 1
        self.say(f"{seconds:6.2f} s  {who:<10} {what}")
        for line in lines:
            self.say(f"{INDENT}{'':<10} {line}")

    def run(
        self,
        tool: str,
        main: Main,
        argv: Sequence[str],
        *,
        lines: list[str],
        expect: int = 0,
        show: Callable[[str], bool] | None = None,
        **kwargs: object,
    ) -> str:
        """Run one command in process, as an operator would type it; its output, stdout then stderr."""
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), out=out, err=err, **kwargs)
        text = out.getvalue() + err.getvalue()
        self._commands += 1
        words = argv[:2] if len(argv) > 1 and not argv[1].startswith("-") else argv[:1]
        log = self.root / "commands" / f"{self._commands:02d}-{tool}-{'-'.join(words)}.txt"
        log.parent.mkdir(parents=True, exist_ok=True)
        typed = f"$ {tool} {' '.join(shlex.quote(self.short(a)) for a in argv)}"
        log.write_text(f"{typed}\n{text}(exit {code})\n")
        lines.append(typed)
        if code != expect:
            raise StepFailed(
                f"{tool} {' '.join(words)} exited {code}, expected {expect}; its output:\n{text.rstrip()}"
            )
        lines += [f"  {self.short(line)}" for line in text.splitlines() if show is None or show(line)]
        return text

    def short(self, text: str) -> str:
        """Paths under the demo folder, written relative to it, so the transcript reads as typed there."""
        return text.replace(f"{self.root}/", "")

    def summary(self, total: float) -> None:
        self.say(f"\n{'phase':<52} {'steps':>5} {'wall time':>10} {'share':>6}")
        for number, phase in enumerate(self.phases, 1):
            share = 100 * phase.seconds / total if total else 0.0
            self.say(f"{number}. {phase.title:<49} {phase.steps:>5} {phase.seconds:>8.1f} s {share:>5.0f}%")
        rest = total - sum(p.seconds for p in self.phases)
        self.say(f"{'   (start-up, between phases)':<52} {'':>5} {rest:>8.1f} s {100 * rest / total:>5.0f}%")
        self.say(f"{'total':<52} {'':>5} {total:>8.1f} s   100%")


def contains(*needles: str) -> Callable[[str], bool]:
    """A line filter: lines holding any of the needles (a regular expression each)."""
    patterns = [re.compile(n) for n in needles]
    return lambda line: any(p.search(line) for p in patterns)


def require(condition: bool, what: str) -> None:
    if not condition:
        raise StepFailed(what)
