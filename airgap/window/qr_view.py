"""An animated QR filling its widget, with density and frame rate changed from the keyboard.

Density is the bytes of message per frame: denser frames mean fewer of them
but a sharper camera; a receiver that struggles is helped by a lower density
or a slower rate. The keys work wherever the widget has focus.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeyEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from airgap.link_defaults import DEFAULT_FPS, DEFAULT_MODULE_PX
from airgap.qr.render import Image, animation_frames
from airgap.ur.ur import UR, UREncoder
from airgap.window.app import label, to_qimage

#: Bytes per frame the keys step through, sparsest first.
DENSITIES = (200, 400, 600, 800, 1000, 1200, 1500)
FPS_STEPS = (2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 15.0)
KEYS_HELP = "Keys: Up/Down density · Left/Right frame rate"
#: A message's animation already rendered: (bytes per frame, the frames ``animation_frames`` made).
Rendered = tuple[int, Sequence[Image]]


class AnimatedQr(QWidget):
    """Loops a message's QR frames; ``[`` ``]`` or Up/Down change density, Left/Right the rate."""

    def __init__(self, density: int = 1000, fps: float = DEFAULT_FPS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.density = min(DENSITIES, key=lambda d: abs(d - density))
        self.fps = min(FPS_STEPS, key=lambda f: abs(f - fps))
        self.ur: UR | None = None
        self.frames: list[QPixmap] = []
        self.parts = 0
        self.index = 0
        self.image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.image.setStyleSheet("background: #ffffff;")
        self.info = label(name="keys")
        self.info.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.info)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.advance)

    def show_message(self, ur: UR, rendered: Rendered | None = None) -> None:
        """Loop ``ur``; ``rendered`` is its animation already made at some density (by
        ``animation_frames``), used when that is this widget's density instead of rendering again."""
        self.ur = ur
        self._render(rendered[1] if rendered is not None and rendered[0] == self.density else None)
        self.timer.start(round(1000 / self.fps))

    def stop(self) -> None:
        self.timer.stop()

    def _render(self, rendered: Sequence[Image] | None = None) -> None:
        if self.ur is None:
            return
        self.parts = UREncoder(self.ur, self.density).seq_len  # the message's parts, not the loop's frames
        if rendered is None:
            rendered = animation_frames(self.ur, self.density, module_px=DEFAULT_MODULE_PX)
        self.frames = [QPixmap.fromImage(to_qimage(f)) for f in rendered]
        self.index = 0
        self._paint()
        self._describe()

    def _describe(self) -> None:
        self.info.setText(
            f"{self.parts} part(s) in {len(self.frames)} frames · {self.density} bytes per frame · "
            f"{self.fps:g} frames/s · {KEYS_HELP}"
        )

    def advance(self) -> None:
        if self.frames:
            self.index = (self.index + 1) % len(self.frames)
            self._paint()

    def _paint(self) -> None:
        if not self.frames:
            return
        side = max(64, min(self.image.width(), self.image.height()))
        frame = self.frames[self.index]
        self.image.setPixmap(frame.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio))

    def step_density(self, step: int) -> None:
        i = DENSITIES.index(self.density)
        density = DENSITIES[max(0, min(len(DENSITIES) - 1, i + step))]
        if density != self.density:  # at either end the animation runs on undisturbed
            self.density = density
            self._render()

    def step_fps(self, step: int) -> None:
        i = FPS_STEPS.index(self.fps)
        self.fps = FPS_STEPS[max(0, min(len(FPS_STEPS) - 1, i + step))]
        if self.timer.isActive():
            self.timer.start(round(1000 / self.fps))
        if self.ur is not None:
            self._describe()  # the same frames, shown faster or slower: nothing to render again

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = Qt.Key(event.key())
        moves = {
            Qt.Key.Key_Up: (self.step_density, 1),
            Qt.Key.Key_BracketRight: (self.step_density, 1),
            Qt.Key.Key_Down: (self.step_density, -1),
            Qt.Key.Key_BracketLeft: (self.step_density, -1),
            Qt.Key.Key_Right: (self.step_fps, 1),
            Qt.Key.Key_Left: (self.step_fps, -1),
        }
        if key in moves:
            action, step = moves[key]
            action(step)
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._paint()
