"""The camera preview outlines the codes found; the progress bar and its words follow the fountain decoder."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from airgap.qr.decode import located_payloads
from airgap.qr.render import RenderSettings, render_frame
from airgap.ur.ur import UR, Progress, URDecoder, parts_for_message
from airgap.window.preview import CameraPreview, ScanProgress, describe

YELLOW = (0xFF, 0xE0, 0x66)


def rgb(image: QImage) -> npt.NDArray[np.uint8]:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).copy()


def yellow(preview: CameraPreview) -> npt.NDArray[np.bool_]:
    """Where the shown picture is the outline's yellow."""
    return np.all(rgb(preview.pixmap().toImage()) == YELLOW, axis=2)


@pytest.fixture
def preview(qtbot: QtBot) -> CameraPreview:
    widget = CameraPreview()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_before_any_frame(preview: CameraPreview) -> None:
    assert preview.text() == "no camera frame yet"
    assert (preview.frames, preview.outlined) == (0, 0)


def test_frames_are_counted_and_those_with_codes_outlined(preview: CameraPreview) -> None:
    frame = np.full((300, 400), 128, np.uint8)
    preview.show_frame(frame, [])
    assert (preview.frames, preview.outlined) == (1, 0)
    assert not yellow(preview).any()
    preview.show_frame(frame, [(50, 50, 350, 50, 350, 250, 50, 250)])
    assert (preview.frames, preview.outlined) == (2, 1)
    outline = yellow(preview)
    assert outline[50, 200] and outline[250, 200] and outline[150, 50] and outline[150, 350]
    assert not outline[150, 200]  # an outline, not a filled box
    preview.show_frame(frame, [])
    assert (preview.frames, preview.outlined) == (3, 1)
    assert not yellow(preview).any()


def test_every_quad_is_outlined(preview: CameraPreview) -> None:
    frame = np.zeros((300, 400, 3), np.uint8)  # BGR, as a camera delivers
    preview.show_frame(frame, [(10, 10, 90, 10, 90, 90, 10, 90), (210, 110, 390, 110, 390, 290, 210, 290)])
    assert preview.outlined == 1  # frames with outlines, not outlines
    outline = yellow(preview)
    assert outline[10, 50] and outline[110, 300]


def test_frame_is_scaled_to_the_widget(preview: CameraPreview) -> None:
    preview.show_frame(np.full((600, 1600), 90, np.uint8), [])
    shown = preview.pixmap()
    assert (shown.width(), shown.height()) == (400, 150)  # fits, keeping the aspect ratio


def test_a_found_code_is_outlined_around_it(preview: CameraPreview) -> None:
    frame = np.pad(
        render_frame("UR:X-TEST/AEADAOLAZMJENDEOTI", RenderSettings(module_px=4)), 84, constant_values=255
    )
    frame = np.pad(frame, ((0, 0), (0, 400 - frame.shape[1])), constant_values=255)[:300]
    texts, quads = located_payloads(frame)
    assert len(texts) == len(quads) == 1
    preview.show_frame(frame, quads)
    assert preview.outlined == 1
    ys, xs = np.nonzero(yellow(preview))
    x1, y1, _, _, x3, y3, _, _ = quads[0]
    assert abs(xs.min() - x1) <= 4 and abs(xs.max() - x3) <= 4
    assert abs(ys.min() - y1) <= 4 and abs(ys.max() - y3) <= 4


def progress(
    expected: int | None, received: int = 0, used: int = 0, foreign: int = 0, invalid: int = 0
) -> Progress:
    fraction = 0.0 if expected is None else min(1.0, received / expected)
    return Progress(fraction, received, expected, used + foreign + invalid, used, foreign, invalid, None)


@pytest.mark.parametrize(
    ("state", "text"),
    [
        (progress(None), "0 part(s) held; size not known yet"),
        (progress(None, invalid=2), "0 part(s) held; size not known yet"),
        (progress(10, 4, 3), "3 part(s) held; 4/10 fragments' worth, about 6 more"),
        (
            progress(10, 4, 3, foreign=2, invalid=1),
            "3 part(s) held; 4/10 fragments' worth, about 6 more; 2 foreign part(s) ignored; "
            "1 unreadable part(s) ignored",
        ),
        (progress(5, 5, 5), "5 part(s) held; 5/5 fragments' worth, about 0 more"),
        (progress(5, 7, 7), "7 part(s) held; 7/5 fragments' worth, about 0 more"),
    ],
    ids=["unknown", "unknown-invalid", "known", "known-ignored", "complete", "over"],
)
def test_describe(state: Progress, text: str) -> None:
    assert describe(state) == text


def test_scan_progress_follows_the_decoder(qtbot: QtBot) -> None:
    widget = ScanProgress()
    qtbot.addWidget(widget)
    assert widget.text.text() == "waiting for the first QR part"
    message = UR("bytes", bytes(range(256)) * 4)
    decoder = URDecoder()
    parts = parts_for_message(message, 200, passes=1)
    for text in parts[:2]:
        decoder.receive(text)
    state = decoder.progress
    widget.update_progress(state)
    assert state.fragments_expected is not None and 0 < state.fraction < 1
    assert widget.bar.value() == round(state.fraction * 1000)
    assert widget.bar.format() == f"{state.fraction:.0%}"
    assert widget.text.text() == describe(state)
    assert widget.text.text().startswith("2 part(s) held; 2/")
    for text in parts[2:]:
        decoder.receive(text)
    widget.update_progress(decoder.progress)
    assert (widget.bar.value(), widget.bar.format()) == (1000, "100%")
    widget.reset()
    assert (widget.bar.value(), widget.text.text()) == (0, "waiting for the first QR part")


def test_reset_does_not_keep_the_last_scans_percentage(qtbot: QtBot) -> None:
    """Regression: reset emptied the bar but left the format update_progress had written, so the
    empty bar of the next scan still read 100%."""
    widget = ScanProgress()
    qtbot.addWidget(widget)
    message = UR("bytes", b"done")
    decoder = URDecoder()
    decoder.receive(parts_for_message(message, 200)[0])
    widget.update_progress(decoder.progress)
    assert widget.bar.text() == "100%"
    widget.reset()
    assert widget.bar.text() == "0%"
