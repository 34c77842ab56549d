"""A decoder crash, hang or runaway allocation costs one frame, not the scanning process."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from airgap.errors import DecodeError
from airgap.qr.decode import FrameDecoder, payloads_in_image
from airgap.qr.isolated import IsolatedDecoder
from airgap.qr.render import RenderSettings, render_frame

TEXT = "UR:X-TEST/AEADAOLAZMJENDEOTI"
CRASH, HANG, HOG, LIE = 13, 14, 15, 16


def hostile_decode(image: np.ndarray, decoder: FrameDecoder) -> list[str]:  # type: ignore[type-arg]
    """Behaves like the real decoder unless the top-left pixel names a failure to act out."""
    marker = int(image[0, 0])
    if marker == CRASH:
        ctypes.string_at(0)  # a native crash (SIGSEGV), as a decoder bug would be
    if marker == HANG:
        while True:  # spinning, not sleeping: the confined child may not even call the clock to sleep
            pass
    if marker == HOG:
        bytearray(4 << 30)  # beyond the child's address-space limit
    if marker == LIE:
        return ["x\x00y", "A" * 10_000, "ok-text"]
    return payloads_in_image(image, decoder)


def frame(marker: int | None = None) -> np.ndarray:  # type: ignore[type-arg]
    image = render_frame(TEXT, RenderSettings(module_px=4)).copy()
    if marker is not None:
        image[0, 0] = marker
    return image


@pytest.fixture(scope="module")
def decoder() -> IsolatedDecoder:
    with IsolatedDecoder(decode=hostile_decode, frame_timeout=1.0) as isolated:
        yield isolated  # type: ignore[misc]


def test_decodes_like_the_in_process_decoder(decoder: IsolatedDecoder) -> None:
    assert decoder(frame()) == [TEXT]
    assert decoder(np.full((100, 100), 255, np.uint8)) == []


@pytest.mark.parametrize("marker", [CRASH, HANG, HOG], ids=["crash", "hang", "memory"])
def test_failure_costs_one_frame_then_recovers(decoder: IsolatedDecoder, marker: int) -> None:
    restarts = decoder.restarts
    with pytest.raises(DecodeError, match=r"crashed|no answer|refused"):
        decoder(frame(marker))
    assert decoder(frame()) == [TEXT]
    assert decoder.restarts >= restarts + (0 if marker == HOG else 1)


def test_child_answers_are_rechecked(decoder: IsolatedDecoder) -> None:
    assert decoder(frame(LIE)) == ["ok-text"]


def test_bad_frames_are_refused_before_crossing(decoder: IsolatedDecoder) -> None:
    with pytest.raises(DecodeError, match="not a usable image"):
        decoder(np.zeros((5, 5), np.uint8))
