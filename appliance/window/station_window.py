"""The full-screen window: its pages, its keys, and waiting for the custodians without a second thread.

The ceremony is synchronous and asks its screen questions ("approve?",
"which cards?"). The window answers them with a nested Qt event loop, so the
window stays live while the ceremony waits and no state is shared across
threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QApplication, QMainWindow, QStackedWidget

from airgap.window.app import Screenshots, qt_app
from appliance.window.screens import (
    AnswerPage,
    CardsPage,
    OutcomePage,
    Page,
    ReviewPage,
    ScanningPage,
    SigningPage,
)

#: Below this the screen is a virtual one (offscreen); the window takes a readable size instead.
SMALLEST_SCREEN = (1024, 700)
DEFAULT_SIZE = (1280, 800)


class StationWindow(QMainWindow):
    def __init__(self, station: str, screenshots: Path | None = None) -> None:
        qt_app()
        super().__init__()
        self.setWindowTitle(f"station {station}")
        self.screenshots = Screenshots(screenshots)
        self.scanning = ScanningPage()
        self.review = ReviewPage("review")
        self.refused = OutcomePage("refused")
        self.cards = CardsPage()
        self.signing = SigningPage()
        self.answer = AnswerPage()
        self.error = OutcomePage("error")
        self.pages: dict[str, Page] = {}
        self.stack = QStackedWidget()
        for page in (self.scanning, self.review, self.refused, self.cards, self.signing, self.answer):
            self._add(page)
        self._add(self.error)
        self.setCentralWidget(self.stack)
        self.closed = False
        self._loop: QEventLoop | None = None
        self._wanted: frozenset[Qt.Key] = frozenset()
        self.pressed: Qt.Key | None = None
        self.key_filter: Callable[[Qt.Key], bool] = lambda key: True

    def _add(self, page: Page) -> None:
        self.pages[page.name] = page
        self.stack.addWidget(page)

    def open(self) -> None:
        """Full screen where the screen is real; a readable fixed size on a virtual one."""
        screen = QGuiApplication.primaryScreen()
        size = screen.size() if screen is not None else None
        if size is None or size.width() < SMALLEST_SCREEN[0] or size.height() < SMALLEST_SCREEN[1]:
            self.resize(*DEFAULT_SIZE)
            self.show()
        else:
            self.setGeometry(screen.geometry())  # without a window manager, full screen is only a hint
            self.showFullScreen()
        pump()

    @property
    def current(self) -> str:
        widget = self.stack.currentWidget()
        return widget.name if isinstance(widget, Page) else ""

    def show_page(self, name: str) -> Page:
        page = self.pages[name]
        if self.stack.currentWidget() is not page:
            self.stack.setCurrentWidget(page)
            page.setFocus()
        pump()
        return page

    def screenshot(self, name: str) -> None:
        self.screenshots.take(self, name)

    # -- waiting for the custodians ------------------------------------------

    def wait_for(self, keys: Iterable[Qt.Key], seconds: float | None = None) -> Qt.Key | None:
        """The first of ``keys`` pressed (None: the window closed, or ``seconds`` passed)."""
        if self.closed:
            return None
        self.pressed = None
        self._wanted = frozenset(keys)
        loop = QEventLoop()
        self._loop = loop
        if seconds is not None:
            QTimer.singleShot(max(0, round(seconds * 1000)), loop.quit)
        loop.exec()
        self._loop = None
        self._wanted = frozenset()
        return self.pressed

    def pause(self, seconds: float) -> None:
        """Keep the window live for ``seconds`` (an unattended sitting's dwell on a screen)."""
        if seconds > 0:
            self.wait_for((), seconds)
        pump()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = Qt.Key(event.key())
        if self._loop is not None and key in self._wanted and self.key_filter(key):
            self.pressed = key
            self._loop.quit()
            return
        if key == Qt.Key.Key_Escape and self.current == "scanning":
            self.close()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed = True
        if self._loop is not None:
            self._loop.quit()
        event.accept()


def pump() -> None:
    """Let Qt draw and take input; called between frames and steps of the ceremony."""
    QApplication.processEvents()
