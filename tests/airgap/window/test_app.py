"""The shared Qt pieces: the display check, labels, frames as images, screenshots, Qt's messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPalette
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from airgap.errors import DecodeError
from airgap.window.app import (
    STYLE,
    DisplayError,
    Screenshots,
    _qt_message,
    label,
    qt_app,
    set_state,
    to_qimage,
)


def test_no_platform_and_no_display_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    # checked before QApplication.instance(): refused even though the suite already has an app
    with pytest.raises(DisplayError, match="no display"):
        qt_app()


@pytest.mark.parametrize("name", ["QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"])
def test_any_one_of_platform_or_display_is_enough(
    monkeypatch: pytest.MonkeyPatch, qapp: QApplication, name: str
) -> None:
    for other in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(other, raising=False)
    # a remote display is not probed (a local one must answer: see the test below)
    monkeypatch.setenv(name, "offscreen" if name == "QT_QPA_PLATFORM" else "buildhost:0")
    assert qt_app() is qapp  # the process's one application, not a second


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.setenv(name, "")
    with pytest.raises(DisplayError):
        qt_app()


def test_label_is_named_for_the_style_and_not_selectable(qtbot: QtBot) -> None:
    title = label("Signing request", "title")
    qtbot.addWidget(title)
    assert title.text() == "Signing request"
    assert title.objectName() == "title"
    assert title.wordWrap()
    assert title.textInteractionFlags() == Qt.TextInteractionFlag.NoTextInteraction
    plain = label(wrap=False)
    qtbot.addWidget(plain)
    assert (plain.text(), plain.objectName(), plain.wordWrap()) == ("", "", False)


@pytest.mark.parametrize(("state", "colour"), [("good", "#7cff7c"), ("bad", "#ff8080"), ("wait", "#ffe066")])
def test_set_state_restyles_a_status_label(qtbot: QtBot, state: str, colour: str) -> None:
    box = QWidget()
    qtbot.addWidget(box)
    box.setStyleSheet(STYLE)
    status = label("SIGNED", "status")
    status.setParent(box)
    set_state(status, state)
    assert status.property("state") == state
    assert status.palette().color(QPalette.ColorRole.WindowText).name() == colour


def rgb(image: QImage, x: int, y: int) -> tuple[int, int, int]:
    colour = image.pixelColor(x, y)
    return colour.red(), colour.green(), colour.blue()


def test_grey_frame_becomes_a_grey_image_with_its_values() -> None:
    frame = np.arange(37 * 23, dtype=np.uint8).reshape(23, 37)  # odd width: rows are not 4-aligned
    image = to_qimage(frame)
    assert (image.width(), image.height()) == (37, 23)
    assert image.format() == QImage.Format.Format_Grayscale8
    for y, x in [(0, 0), (5, 36), (22, 1), (22, 36)]:
        assert rgb(image, x, y) == (frame[y, x],) * 3


def test_bgr_frame_keeps_its_colours() -> None:
    frame = np.zeros((20, 31, 3), np.uint8)
    frame[2, 3] = (0, 0, 255)  # BGR red
    frame[4, 30] = (255, 0, 0)  # BGR blue
    frame[19, 0] = (10, 20, 30)
    image = to_qimage(frame)
    assert (image.width(), image.height()) == (31, 20)
    assert image.format() == QImage.Format.Format_RGB888
    assert rgb(image, 3, 2) == (255, 0, 0)
    assert rgb(image, 30, 4) == (0, 0, 255)
    assert rgb(image, 0, 19) == (30, 20, 10)
    assert rgb(image, 0, 0) == (0, 0, 0)


def test_bgra_and_strided_frames() -> None:
    bgra = np.zeros((10, 12, 4), np.uint8)
    bgra[1, 2] = (0, 255, 0, 7)
    assert rgb(to_qimage(bgra), 2, 1) == (0, 255, 0)
    wide = np.zeros((10, 24), np.uint8)
    wide[3, 6] = 200
    strided = to_qimage(wide[:, ::2])  # not contiguous
    assert (strided.width(), strided.height()) == (12, 10)
    assert rgb(strided, 3, 3) == (200, 200, 200)


def test_image_is_a_copy_of_the_frame() -> None:
    frame = np.full((8, 8), 50, np.uint8)
    image = to_qimage(frame)
    frame[:] = 250
    del frame
    assert rgb(image, 4, 4) == (50, 50, 50)


def test_single_channel_frame_is_not_read_as_three_bytes_a_pixel() -> None:
    """Regression: a (h, w, 1) frame was handed to Qt as RGB888 with 3 bytes a pixel, so Qt read
    three times the frame's buffer, past its end; it is grey."""
    frame = np.full((40, 50, 1), 200, np.uint8)
    image = to_qimage(frame)
    assert image.format() == QImage.Format.Format_Grayscale8
    assert rgb(image, 0, 0) == rgb(image, 49, 39) == (200, 200, 200)


@pytest.mark.parametrize(
    "frame",
    [np.zeros((10, 10, 2), np.uint8), np.zeros((10, 10, 5), np.uint8), np.zeros((10, 10), np.uint16)],
    ids=["two-channels", "five-channels", "16-bit"],
)
def test_frames_qt_would_misread_are_refused(frame: np.ndarray) -> None:  # type: ignore[type-arg]
    with pytest.raises(DecodeError, match="not a grey, BGR or BGRA image"):
        to_qimage(frame)


def coloured(qtbot: QtBot, colour: str) -> QWidget:
    widget = label()
    qtbot.addWidget(widget)
    widget.setStyleSheet(f"background: {colour};")
    widget.resize(60, 40)
    return widget


def png_colour(path: Path) -> tuple[int, int, int]:
    return rgb(QImage(str(path)), 30, 20)


def test_screenshots_one_png_per_screen_first_kept(qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "shots" / "run"
    shots = Screenshots(folder)
    assert folder.is_dir()
    widget = coloured(qtbot, "#ff0000")
    first = shots.take(widget, "welcome")
    assert first == folder / "welcome.png"
    assert png_colour(first) == (255, 0, 0)
    before = first.read_bytes()
    widget.setStyleSheet("background: #0000ff;")
    assert shots.take(widget, "welcome") is None  # the first showing is the one kept
    assert first.read_bytes() == before
    other = shots.take(widget, "signed")
    assert other == folder / "signed.png"
    assert png_colour(other) == (0, 0, 255)
    assert sorted(p.name for p in folder.iterdir()) == ["signed.png", "welcome.png"]
    assert shots.taken == {"welcome": first, "signed": other}


def test_screenshots_without_a_folder_take_none(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shots = Screenshots(None)
    assert shots.take(coloured(qtbot, "#00ff00"), "welcome") is None
    assert shots.taken == {}
    assert list(tmp_path.iterdir()) == []


def test_screenshot_that_cannot_be_written_is_an_error(qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "gone"
    shots = Screenshots(folder)
    folder.rmdir()
    with pytest.raises(DisplayError, match="could not write"):
        shots.take(coloured(qtbot, "#00ff00"), "welcome")
    assert shots.taken == {}


def test_qt_message_filter(capsys: pytest.CaptureFixture[str]) -> None:
    _qt_message(None, None, "This plugin does not support propagateSizeHints()")
    assert capsys.readouterr().err == ""
    _qt_message(None, None, "QPainter::begin: Paint device returned engine == 0")
    assert capsys.readouterr().err == "qt: QPainter::begin: Paint device returned engine == 0\n"


def test_an_unreachable_local_x_display_is_a_clear_error_not_an_abort(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":987")  # no server there
    with pytest.raises(DisplayError, match="cannot reach the X display :987"):
        qt_app()
