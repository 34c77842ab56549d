"""The host operator's window: three screens in a stack, and the actions behind its buttons.

Every action is ``perform(name)``, whether a button, a key or ``--script``
asked for it, so what an unattended run shows is what an operator pressing
the same keys would see. A scan runs in the window's own thread and keeps the
window alive by processing events between frames: the camera is the pace.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QScreen, QShortcut
from PySide6.QtWidgets import QApplication, QMainWindow, QStackedWidget, QWidget

from airgap.window.app import Screenshots
from host.collect import Judgement
from host.commands.collecting import answer_line
from host.context import Context
from host.gui import actions
from host.gui.actions import Outcome
from host.gui.requests_view import RequestsView
from host.gui.scan_view import ScanView, accepted
from host.gui.show_view import ShowView

#: The keys of the requests screen's buttons (Esc is handled on every screen).
SHORTCUTS = {"S": "show", "C": "scan", "F": "finalize", "V": "verify", "R": "refresh"}
ACTIONS = ("show", "scan", "finalize", "verify", "refresh", "quit")
#: Longest an unattended ``show`` lingers, however many frames the request has.
MAX_SHOW_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Options:
    """What ``host gui``'s flags say about the sitting."""

    source: str | None
    in_process: bool
    timeout: float | None
    out_dir: Path
    screenshots: Path | None
    density: int
    fps: float

    @classmethod
    def from_args(cls, a: argparse.Namespace) -> Options:
        return cls(a.source, a.in_process_decoder, a.timeout, a.out_dir, a.screenshots, a.density, a.fps)


class HostWindow(QMainWindow):
    def __init__(self, ctx: Context, options: Options) -> None:
        super().__init__()
        self.ctx = ctx
        self.options = options
        self.shots = Screenshots(options.screenshots)
        self.requests_view = RequestsView()
        self.show_view = ShowView(options.density, options.fps)
        self.scan_view = ScanView()
        self.stack = QStackedWidget()
        for view in (self.requests_view, self.show_view, self.scan_view):
            self.stack.addWidget(view)
        self.setCentralWidget(self.stack)
        self.setWindowTitle("host: vaults and requests")
        self.scanning = False
        for name, button in self.requests_view.buttons.items():
            button.clicked.connect(lambda _=False, name=name: self.press(name))
        for key, name in SHORTCUTS.items():
            QShortcut(QKeySequence(key), self).activated.connect(lambda name=name: self.press(name))
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self).activated.connect(self.escape)

    # showing the window

    def open_on(self, screen: QScreen, select: str | None) -> None:
        """Full screen on ``screen``, the lists filled and ``select`` (a request id) chosen."""
        self.setScreen(screen)
        self.setGeometry(screen.geometry())
        self.showFullScreen()
        self.raise_()
        self.activateWindow()  # its keys work at once, without a click into it first
        self.load(select)
        self.requests_view.requests.setFocus(Qt.FocusReason.OtherFocusReason)
        QApplication.processEvents()  # drawn and active before the first key or scripted action
        self.shots.take(self, "requests")

    def load(self, select: str | None = None) -> None:
        self.requests_view.show_vaults(actions.vaults(self.ctx))
        self.reload(select)

    def reload(self, select: str | None = None) -> None:
        select = select or self.requests_view.selected()
        self.requests_view.show_requests(actions.request_lines(self.ctx, select), select)

    def _screen(self, view: QWidget, title: str) -> None:
        self.stack.setCurrentWidget(view)
        self.setWindowTitle(f"host: {title}")

    # the actions

    def press(self, name: str) -> None:
        """A button or its key: acted on from the requests screen only, and never during a scan."""
        if not self.scanning and self.stack.currentWidget() is self.requests_view:
            self.perform(name)

    def perform(self, name: str, *, unattended: bool = False) -> Outcome:
        """Carry out one action and show its result; ``unattended`` returns to the requests screen
        afterwards, as ``--script`` needs."""
        if name == "quit":
            self.close()
            return Outcome.of(True, ["closed"])
        if name == "refresh":
            self.load()
            return Outcome.of(True, ["vaults and requests read again"])
        request = self.requests_view.selected()
        if request is None:
            outcome = Outcome.of(False, ["FAILED: no request to act on: build one with 'host request …'"])
        elif name == "show":
            outcome = self.show_request(request, unattended=unattended)
        elif name == "scan":
            outcome = self.scan(unattended=unattended)
        elif name == "finalize":
            outcome = actions.finalize(self.ctx, request, self.options.out_dir)
        elif name == "verify":
            outcome = actions.verify(self.ctx, request)
        else:
            outcome = Outcome.of(False, [f"FAILED: no action {name!r}; the actions are {', '.join(ACTIONS)}"])
        if self.stack.currentWidget() is self.requests_view:
            self.reload(request)
            self.requests_view.say(outcome)
        return outcome

    def show_request(self, request: str, *, unattended: bool) -> Outcome:
        try:
            shown = actions.request_message(self.ctx, request)
        except Exception as exc:
            return _failed(exc)
        self._screen(self.show_view, f"showing request {request[:8]}")
        line = self.show_view.present(shown)
        self.shots.take(self, "show")
        if unattended:
            pause(min(MAX_SHOW_SECONDS, max(1.0, self.show_view.seconds_per_pass())))
            self.back()
        return Outcome.of(True, [line, *shown.lines])

    def scan(self, *, unattended: bool) -> Outcome:
        spec = self.options.source
        if spec is None:
            return Outcome.of(
                False, ["FAILED: no --source to scan: start 'host gui --source CAMERA|VIDEO|DIR'"]
            )
        view = self.scan_view
        self._screen(view, f"scanning {spec}")
        view.start(spec)
        judgements: list[Judgement] = []
        self.scanning = True
        try:
            for judgement in actions.scan_answers(
                self.ctx,
                spec,
                in_process=self.options.in_process,
                idle_timeout=self.options.timeout,
                on_frame=view.frame,
                on_progress=view.advanced,
                stopped=lambda: view.stopping,
            ):
                judgements.append(judgement)
                view.answer(judgement)
        except Exception as exc:
            text = _failed(exc).headline
            view.failed(text)
            answers = [answer_line(j) for j in judgements]  # what was read before the source failed
            outcome = Outcome.of(False, [*answers, text], text, [*answers, text])
        else:
            summary = actions.scan_summary(self.ctx, judgements)
            view.finish(judgements, summary)
            answers = [answer_line(j) for j in judgements]
            outcome = Outcome.of(
                accepted(judgements), [*answers, *summary], summary[0], [*answers, summary[0]]
            )
        finally:
            self.scanning = False
        self.shots.take(self, "scan")
        if unattended:
            self.back()
        return outcome

    # leaving a screen

    def back(self) -> None:
        self.show_view.stop()
        self._screen(self.requests_view, "vaults and requests")
        self.reload()
        self.requests_view.requests.setFocus(Qt.FocusReason.OtherFocusReason)

    def escape(self) -> None:
        """Esc stops a scan, then leaves a screen, then closes the window."""
        if self.scanning:
            self.scan_view.stopping = True
        elif self.stack.currentWidget() is not self.requests_view:
            self.back()
        else:
            self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.scan_view.stopping = True
        self.show_view.stop()
        super().closeEvent(event)


def _failed(exc: Exception) -> Outcome:
    """An error the operator can act on, as an outcome; anything else is a bug and propagates."""
    from host.failures import failure

    known = failure(exc)
    if known is None:
        raise exc
    return Outcome.of(False, [f"FAILED: {known[1]}"])


def pause(seconds: float) -> None:
    """Let the window run (animate, repaint) for ``seconds`` without returning to the caller."""
    loop = QEventLoop()
    QTimer.singleShot(round(seconds * 1000), loop.quit)
    loop.exec()
