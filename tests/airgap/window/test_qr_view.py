"""The animated QR really shows the message's parts, and the keys change density and rate within bounds."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from pytestqt.qtbot import QtBot

from airgap.link_defaults import DEFAULT_ANIMATION_PASSES
from airgap.qr.decode import payloads_in_image
from airgap.ur.ur import UR, ReceiveStatus, URDecoder, UREncoder, parts_for_message
from airgap.window.qr_view import DENSITIES, FPS_STEPS, KEYS_HELP, AnimatedQr

#: Three parts at the default 1000 bytes per frame.
MESSAGE = UR("bytes", bytes(range(256)) * 10)


def grey(image: QImage) -> npt.NDArray[np.uint8]:
    """A QImage as a grey numpy frame, whatever its row padding."""
    image = image.convertToFormat(QImage.Format.Format_Grayscale8)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width()].copy()


@pytest.fixture
def view(qtbot: QtBot) -> Iterator[AnimatedQr]:
    widget = AnimatedQr()
    qtbot.addWidget(widget)
    widget.resize(700, 760)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.stop()


def test_density_and_rate_snap_to_the_key_steps(qtbot: QtBot) -> None:
    widget = AnimatedQr(density=950, fps=11.5)
    qtbot.addWidget(widget)
    assert (widget.density, widget.fps) == (1000, 12.0)
    assert (widget.frames, widget.parts, widget.info.text()) == ([], 0, "")


def test_the_shown_frame_scans_as_a_part_of_the_message(view: AnimatedQr) -> None:
    view.show_message(MESSAGE)
    expected = parts_for_message(MESSAGE, 1000, passes=DEFAULT_ANIMATION_PASSES)
    assert len(view.frames) == len(expected) == 3 * DEFAULT_ANIMATION_PASSES
    assert view.parts == UREncoder(MESSAGE, 1000).seq_len == 3  # the message's parts, not the loop's frames
    assert view.timer.isActive()
    assert view.timer.interval() == 100
    seen = []
    for _ in range(2):
        found = payloads_in_image(grey(view.grab().toImage()))
        assert len(found) == 1
        assert found[0].startswith("UR:BYTES/")
        seen.append(found[0])
        view.advance()
    assert seen == [text.upper() for text in expected[:2]]


def test_the_frames_assemble_the_message(view: AnimatedQr) -> None:
    view.show_message(MESSAGE)
    decoder = URDecoder()
    for pixmap in view.frames:
        for text in payloads_in_image(grey(pixmap.toImage())):
            if decoder.receive(text) is ReceiveStatus.COMPLETE:
                break
    assert decoder.result == MESSAGE


def test_advance_cycles_the_frames(view: AnimatedQr) -> None:
    view.advance()  # nothing shown yet: nothing to do
    assert view.index == 0
    view.show_message(MESSAGE)
    shown: list[QPixmap] = []
    for _ in range(len(view.frames)):
        shown.append(view.image.pixmap())
        view.advance()
    assert view.index == 0
    assert len({grey(p.toImage()).tobytes() for p in shown}) == len(view.frames)  # each frame once


def test_the_timer_moves_the_animation(qtbot: QtBot, view: AnimatedQr) -> None:
    view.show_message(MESSAGE)
    qtbot.waitUntil(lambda: view.index != 0, timeout=1500)
    view.stop()
    assert not view.timer.isActive()


def test_single_part_message_is_one_frame(view: AnimatedQr) -> None:
    view.show_message(UR("bytes", b"small"))
    assert (len(view.frames), view.parts) == (1, 1)
    view.advance()
    assert view.index == 0
    assert payloads_in_image(grey(view.grab().toImage()))[0].startswith("UR:BYTES/")


@pytest.mark.parametrize(
    ("up", "down"),
    [(Qt.Key.Key_Up, Qt.Key.Key_Down), (Qt.Key.Key_BracketRight, Qt.Key.Key_BracketLeft)],
    ids=["arrows", "brackets"],
)
def test_keys_change_density_within_its_steps(
    qtbot: QtBot, view: AnimatedQr, up: Qt.Key, down: Qt.Key
) -> None:
    view.show_message(MESSAGE)
    qtbot.keyClick(view, up)
    assert view.density == 1200
    assert "1200 bytes per frame" in view.info.text()
    assert payloads_in_image(grey(view.grab().toImage())) == [
        parts_for_message(MESSAGE, 1200, count=1)[0].upper()
    ]
    qtbot.keyClick(view, up)
    qtbot.keyClick(view, up)
    assert view.density == DENSITIES[-1]  # clamped at the densest
    view.density = DENSITIES[1]
    qtbot.keyClick(view, down)
    qtbot.keyClick(view, down)
    assert view.density == DENSITIES[0]  # clamped at the sparsest
    expected = parts_for_message(MESSAGE, 200, passes=DEFAULT_ANIMATION_PASSES)
    pure = len(
        [t for t in expected if int(t.split("/")[1].split("-")[0]) <= int(t.split("/")[1].split("-")[1])]
    )
    assert (len(view.frames), view.parts) == (len(expected), pure)
    assert view.info.text() == (
        f"{view.parts} part(s) in {len(view.frames)} frames · 200 bytes per frame · 10 frames/s · {KEYS_HELP}"
    )
    assert view.index == 0
    assert payloads_in_image(grey(view.grab().toImage())) == [expected[0].upper()]


def test_keys_change_the_rate_within_its_steps(qtbot: QtBot, view: AnimatedQr) -> None:
    view.show_message(MESSAGE)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.fps == 12.0
    assert view.timer.interval() == round(1000 / 12)
    assert "· 12 frames/s ·" in view.info.text()
    for _ in range(len(FPS_STEPS)):
        qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.fps == FPS_STEPS[-1]
    assert view.timer.interval() == round(1000 / FPS_STEPS[-1])
    for _ in range(len(FPS_STEPS) + 1):
        qtbot.keyClick(view, Qt.Key.Key_Left)
    assert view.fps == FPS_STEPS[0]
    assert view.timer.interval() == 500
    assert "· 2 frames/s ·" in view.info.text()
    assert view.density == 1000  # the rate keys leave density alone


def test_rate_key_neither_renders_again_nor_restarts_the_animation(qtbot: QtBot, view: AnimatedQr) -> None:
    """Regression: every Left/Right re-rendered the whole animation (seconds for a large message,
    the window frozen meanwhile) and sent it back to its first frame."""
    view.show_message(MESSAGE)
    view.stop()
    frames = view.frames
    view.advance()
    view.advance()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.fps == 12.0
    assert view.frames is frames
    assert view.index == 2
    assert "· 12 frames/s ·" in view.info.text()


def test_density_key_at_either_end_leaves_the_animation_running_on(qtbot: QtBot, view: AnimatedQr) -> None:
    """Regression: a density key pressed at the end of the steps rendered the same frames again and
    restarted the animation from its first frame."""
    view.density = DENSITIES[-1]
    view.show_message(MESSAGE)
    frames = view.frames
    view.advance()
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert (view.density, view.index) == (DENSITIES[-1], 1)
    assert view.frames is frames


def test_rate_key_does_not_start_a_stopped_animation(qtbot: QtBot, view: AnimatedQr) -> None:
    view.show_message(MESSAGE)
    view.stop()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.fps == 12.0
    assert not view.timer.isActive()


def test_keys_before_a_message_only_move_the_settings(qtbot: QtBot, view: AnimatedQr) -> None:
    qtbot.keyClick(view, Qt.Key.Key_Down)
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert (view.density, view.fps, view.frames) == (800, 8.0, [])
    view.show_message(MESSAGE)
    assert "800 bytes per frame · 8 frames/s" in view.info.text()


def test_other_keys_change_nothing(qtbot: QtBot, view: AnimatedQr) -> None:
    view.show_message(MESSAGE)
    for key in (Qt.Key.Key_A, Qt.Key.Key_Space, Qt.Key.Key_PageUp):
        qtbot.keyClick(view, key)
    assert (view.density, view.fps, view.index) == (1000, 10.0, 0)


def test_frame_follows_the_widget_size(qtbot: QtBot, view: AnimatedQr) -> None:
    view.show_message(MESSAGE)
    big = view.image.pixmap().width()
    view.resize(400, 460)
    qtbot.waitUntil(lambda: view.image.pixmap().width() < big, timeout=1000)
    side = view.image.pixmap().width()
    assert side == view.image.pixmap().height() == min(view.image.width(), view.image.height())
    assert payloads_in_image(grey(view.grab().toImage()))[0].startswith("UR:BYTES/")
