"""What the camera sees, with each QR it found outlined, and how far the fountain decoder has got."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QVBoxLayout, QWidget

from airgap.qr.decode import Quad
from airgap.ur.ur import Progress
from airgap.window.app import to_qimage


class CameraPreview(QLabel):
    """The latest frame, scaled to fit, with found codes outlined in a thick yellow line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("no camera frame yet", parent, alignment=Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(320, 240)
        self.frames = 0
        self.outlined = 0

    def show_frame(self, image: npt.NDArray[np.uint8], quads: list[Quad]) -> None:
        self.frames += 1
        pixmap = QPixmap.fromImage(to_qimage(image))
        if quads:
            self.outlined += 1
            painter = QPainter(pixmap)
            painter.setPen(QPen(QColor("#ffe066"), max(3, pixmap.width() // 160)))
            for quad in quads:
                points = [QPointF(quad[i], quad[i + 1]) for i in range(0, 8, 2)]
                painter.drawPolygon(QPolygonF(points))
            painter.end()
        self.setPixmap(
            pixmap.scaled(max(1, self.width()), max(1, self.height()), Qt.AspectRatioMode.KeepAspectRatio)
        )


class ScanProgress(QWidget):
    """A bar of the fountain decoder's progress, with the parts held and an estimate of those left."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar(minimum=0, maximum=1000)
        self.text = QLabel("waiting for the first QR part")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.text)

    def reset(self) -> None:
        self.bar.setValue(0)
        self.bar.setFormat("%p%")  # not the last scan's percentage, which update_progress wrote in
        self.text.setText("waiting for the first QR part")

    def update_progress(self, progress: Progress) -> None:
        self.bar.setValue(round(progress.fraction * 1000))
        self.bar.setFormat(f"{progress.fraction:.0%}")
        self.text.setText(describe(progress))


def describe(progress: Progress) -> str:
    """Parts held and about how many are left, in words."""
    expected = progress.fragments_expected
    held = f"{progress.parts_used} part(s) held"
    if expected is None:
        return f"{held}; size not known yet"
    left = max(0, expected - progress.fragments_received)
    text = f"{held}; {progress.fragments_received}/{expected} fragments' worth, about {left} more"
    if progress.foreign:
        text += f"; {progress.foreign} foreign part(s) ignored"
    if progress.invalid:
        text += f"; {progress.invalid} unreadable part(s) ignored"
    return text
