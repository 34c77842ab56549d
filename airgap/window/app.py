"""The Qt application, the look both windows share, and screenshots named after screens.

Qt aborts the whole process when it cannot open a display, so the display is
checked first and a missing one is a clear error, not a crash.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from airgap.errors import AirgapError, DecodeError

if TYPE_CHECKING:
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication, QLabel, QWidget


class DisplayError(AirgapError):
    """No display to open a window on."""


#: Large type, high contrast; state is carried by words as well as colour.
STYLE = """
QWidget { background: #000000; color: #ffffff; font-size: 22px; }
QLabel#title { font-size: 34px; font-weight: bold; }
QLabel#status { font-size: 26px; font-weight: bold; padding: 8px; border: 3px solid #ffffff; }
QLabel#status[state="good"] { color: #7cff7c; border-color: #7cff7c; }
QLabel#status[state="bad"] { color: #ff8080; border-color: #ff8080; }
QLabel#status[state="wait"] { color: #ffe066; border-color: #ffe066; }
QLabel#keys { color: #cfcfcf; font-size: 20px; }
QPlainTextEdit, QListWidget, QTableWidget { background: #101010; color: #ffffff;
    font-family: "DejaVu Sans Mono"; font-size: 20px; border: 2px solid #808080; }
QHeaderView::section { background: #202020; color: #ffffff; font-weight: bold; }
QLineEdit { background: #101010; color: #ffffff; border: 2px solid #ffffff; padding: 4px; }
QPushButton { background: #202020; color: #ffffff; border: 2px solid #ffffff; padding: 8px 16px; }
QPushButton:focus { border: 4px solid #ffe066; }
QProgressBar { border: 2px solid #ffffff; text-align: center; height: 32px; }
QProgressBar::chunk { background: #3a78ff; }
"""


def qt_app() -> QApplication:
    """The process's one QApplication, created on first use with the shared look."""
    if not os.environ.get("QT_QPA_PLATFORM") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise DisplayError(
            "no display: set DISPLAY (or run under xvfb-run), or QT_QPA_PLATFORM=offscreen for no window"
        )
    _probe_x_display()
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if not isinstance(app, QApplication):
        qInstallMessageHandler(_qt_message)
        app = QApplication(sys.argv[:1])
    if not app.styleSheet():  # also when another made the application (pytest-qt does)
        app.setStyleSheet(STYLE)
    return app


def label(text: str = "", name: str = "", *, wrap: bool = True) -> QLabel:
    """A label styled by its object name (``title``, ``status``, ``keys``; see STYLE)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel

    widget = QLabel(text)
    widget.setWordWrap(wrap)
    widget.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
    if name:
        widget.setObjectName(name)
    return widget


def set_state(widget: QWidget, state: str) -> None:
    """Restyle a status label: ``good``, ``bad`` or ``wait`` (the words say the same)."""
    widget.setProperty("state", state)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def _probe_x_display() -> None:
    """A local X display that cannot be reached is a DisplayError here; Qt would abort the process."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    display = os.environ.get("DISPLAY", "")
    if platform not in ("", "xcb") or not display.startswith(":") or os.environ.get("WAYLAND_DISPLAY"):
        return
    number = display[1:].split(".")[0]
    if not number.isdigit():
        return
    import socket

    path = f"/tmp/.X11-unix/X{number}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2.0)
        try:
            probe.connect(path)
        except OSError as exc:
            raise DisplayError(f"cannot reach the X display {display} ({exc.strerror or exc})") from None


#: Qt's notes that say nothing to an operator (the offscreen platform's missing window hints).
_QUIET = ("propagateSizeHints",)


def _qt_message(kind: object, context: object, message: str) -> None:
    if not any(text in message for text in _QUIET):
        sys.stderr.write(f"qt: {message}\n")


def to_qimage(image: npt.NDArray[np.uint8]) -> QImage:
    """A copy of a grey or BGR camera frame (or a rendered QR) as a QImage; other shapes are refused."""
    from PySide6.QtGui import QImage

    data = np.ascontiguousarray(image)
    if data.ndim == 3 and data.shape[2] == 1:
        data = np.ascontiguousarray(data[:, :, 0])  # one channel is grey, not 3 bytes a pixel
    if data.dtype != np.uint8 or not (data.ndim == 2 or (data.ndim == 3 and data.shape[2] in (3, 4))):
        raise DecodeError(f"frame of {data.dtype} and shape {data.shape} is not a grey, BGR or BGRA image")
    height, width = data.shape[:2]
    if data.ndim == 2:
        return QImage(data.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
    rgb = np.ascontiguousarray(data[:, :, 2::-1])
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class Screenshots:
    """One PNG per screen shown, named after it; the first showing of each screen is kept.

    The first is the one worth keeping: later showings of the same screen in a
    sitting differ only in the request. ``None`` as the folder takes none.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.taken: dict[str, Path] = {}
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def take(self, widget: QWidget, name: str) -> Path | None:
        if self.folder is None or name in self.taken:
            return None
        from PySide6.QtWidgets import QApplication

        QApplication.processEvents()
        path = self.folder / f"{name}.png"
        if not widget.grab().save(str(path)):
            raise DisplayError(f"could not write the screenshot {path}")
        self.taken[name] = path
        return path
