"""The second screen: a request's animated QR, filling the display the station's camera faces.

What the request does and its digest sit above the code, the digest in groups
of eight so the operator can read it aloud against the station's review
screen; density and rate are on the keyboard for a camera that struggles.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from airgap.link_defaults import DEFAULT_FPS, DEFAULT_MAX_FRAGMENT
from airgap.window.app import label, set_state
from airgap.window.qr_view import AnimatedQr
from host.gui.actions import Shown
from host.text import grouped

KEYS = "Keys: Esc back · Up/Down density · Left/Right frame rate"


class ShowView(QWidget):
    def __init__(
        self, density: int = DEFAULT_MAX_FRAGMENT, fps: float = DEFAULT_FPS, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.title = label("", "title")
        self.summary = label()
        self.digest = label()
        self.status = label("", "status")
        for fixed in (self.title, self.summary, self.digest, self.status):
            fixed.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.qr = AnimatedQr(density, fps)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(self.digest)
        layout.addWidget(self.qr, 1)
        layout.addWidget(self.status)
        layout.addWidget(label(KEYS, "keys"))

    def present(self, shown: Shown) -> str:
        """Start looping the request's frames; the sentence that says what is shown."""
        rid = shown.request_id[:8]
        self.title.setText(f"Showing request {rid}")
        self.summary.setText(shown.summary)
        self.digest.setText(f"digest {grouped(bytes.fromhex(shown.digest))} (on the station's review too)")
        self.qr.show_message(shown.ur)
        self.qr.setFocus(Qt.FocusReason.OtherFocusReason)
        self.status.setText(f"SHOWING request {rid} to the station's camera")
        set_state(self.status, "wait")
        return (
            f"SHOWING request {rid} to the station's camera: {self.qr.parts} part(s), "
            f"{self.qr.density} bytes per frame, {self.qr.fps:g} frames/s"
        )

    def seconds_per_pass(self) -> float:
        """How long one loop of the frames takes at the current rate."""
        return len(self.qr.frames) / self.qr.fps

    def stop(self) -> None:
        self.qr.stop()
