"""Frame decoding: every backend reads our frames; hostile images are refused, not crashed on."""

from __future__ import annotations

import numpy as np
import pytest

from airgap.errors import DecodeError
from airgap.qr.decode import FrameDecoder, payloads_in_image
from airgap.qr.render import RenderSettings, render_frame

TEXT = "UR:X-TEST/AEADAOLAZMJENDEOTI"


@pytest.mark.parametrize("decoder", list(FrameDecoder))
def test_each_backend_reads_a_clean_frame(decoder: FrameDecoder) -> None:
    image = render_frame(TEXT, RenderSettings(module_px=6))
    assert payloads_in_image(image, decoder) == [TEXT]


def test_colour_frames_are_accepted() -> None:
    gray = render_frame(TEXT, RenderSettings(module_px=4))
    bgr = np.repeat(gray[:, :, None], 3, axis=2)
    assert payloads_in_image(bgr) == [TEXT]


def test_blank_and_noise_frames_yield_nothing() -> None:
    rng = np.random.default_rng(3)
    assert payloads_in_image(np.full((480, 640), 128, np.uint8)) == []
    assert payloads_in_image(rng.integers(0, 256, (480, 640), dtype=np.uint8)) == []


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((10, 10), np.uint8), "not a usable image"),
        (np.zeros((100, 100), np.float32), "8-bit"),
        (np.zeros((100, 100, 2), np.uint8), "not a usable image"),
        (np.zeros((4000, 4000), np.uint8), "pixel cap"),
    ],
)
def test_unusable_frames_are_refused(image: np.ndarray, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(DecodeError, match=message):
        payloads_in_image(image)


def test_binary_payloads_are_dropped() -> None:
    import qrcode

    code = qrcode.QRCode(border=4, box_size=4)
    code.add_data(b"\x00\x01binary\xff")
    image = np.array(code.make_image().get_image().convert("L"))
    assert payloads_in_image(image, FrameDecoder.PYZBAR) == []
