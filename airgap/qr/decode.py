"""One function from a camera image to the QR payload strings in it.

This is the code that touches untrusted pixels, so it stays small: check the
image's shape and size, hand it to a native decoder restricted to QR, and keep
only payloads that are printable ASCII of bounded length (every UR is). Which
decoder is the default was decided by measurement on the camera simulator; see
docs/benchmarks.md.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt

from airgap.errors import DecodeError

Image = npt.NDArray[np.uint8]

#: Larger frames are refused rather than decoded: 4K is more than any camera here delivers.
MAX_FRAME_PIXELS = 3840 * 2160
#: A version 40 QR holds at most 4296 alphanumeric characters.
MAX_PAYLOAD_CHARS = 4296


class FrameDecoder(StrEnum):
    ZXING = "zxing"  # zxing-cpp
    PYZBAR = "pyzbar"  # ZBar through pyzbar
    OPENCV = "opencv"  # OpenCV's QRCodeDetector


DEFAULT_FRAME_DECODER = FrameDecoder.ZXING


def to_gray(image: npt.NDArray[np.generic]) -> Image:
    """A contiguous 8-bit grayscale view of a camera frame, after checking its shape."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise DecodeError("frame is not an 8-bit image")
    if image.ndim == 3 and image.shape[2] in (3, 4):
        import cv2

        code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        image = np.asarray(cv2.cvtColor(np.asarray(image, dtype=np.uint8), code), dtype=np.uint8)
    if image.ndim != 2 or min(image.shape) < 21:
        raise DecodeError(f"frame of shape {image.shape} is not a usable image")
    if image.size > MAX_FRAME_PIXELS:
        raise DecodeError(
            f"frame of {image.shape[1]}x{image.shape[0]} exceeds the {MAX_FRAME_PIXELS} pixel cap"
        )
    return np.ascontiguousarray(image)


#: Four corners of a found QR code, in image pixels: x1, y1, ... x4, y4 (for a preview's outline).
Quad = tuple[int, int, int, int, int, int, int, int]
#: At most this many outlines per frame are kept; a frame of many codes is outlined in part.
MAX_QUADS = 8


def payloads_in_image(
    image: npt.NDArray[np.generic], decoder: FrameDecoder = DEFAULT_FRAME_DECODER
) -> list[str]:
    """QR payloads found in ``image`` that could be UR text; others are dropped."""
    return located_payloads(image, decoder)[0]


def located_payloads(
    image: npt.NDArray[np.generic], decoder: FrameDecoder = DEFAULT_FRAME_DECODER
) -> tuple[list[str], list[Quad]]:
    """The payloads, and where each code was found (zxing only: the others report no position)."""
    gray = to_gray(image)
    quads: list[Quad] = []
    if decoder is FrameDecoder.ZXING:
        raw, quads = _zxing(gray)
    elif decoder is FrameDecoder.PYZBAR:
        raw = _pyzbar(gray)
    else:
        raw = _opencv(gray)
    return [text for text in raw if is_plausible_payload(text)], quads[:MAX_QUADS]


def is_plausible_payload(text: str) -> bool:
    """Could this be UR text? Printable ASCII of bounded length."""
    return 0 < len(text) <= MAX_PAYLOAD_CHARS and text.isascii() and text.isprintable()


def _zxing(gray: Image) -> tuple[list[str], list[Quad]]:
    import zxingcpp

    results = zxingcpp.read_barcodes(
        gray,
        formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
        try_rotate=False,
        try_downscale=False,
        try_invert=False,
    )
    valid = [r for r in results if r.valid]
    return [r.text for r in valid], [_corners(r.position) for r in valid]


def _corners(position: object) -> Quad:
    points = [getattr(position, name) for name in ("top_left", "top_right", "bottom_right", "bottom_left")]
    x1, y1, x2, y2, x3, y3, x4, y4 = (int(c) for p in points for c in (p.x, p.y))
    return (x1, y1, x2, y2, x3, y3, x4, y4)


def _pyzbar(gray: Image) -> list[str]:
    from pyzbar import pyzbar

    results = pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE])
    return [r.data.decode("latin-1") for r in results]


def _opencv(gray: Image) -> list[str]:
    import cv2

    detector = cv2.QRCodeDetector()
    text, _points, _straight = detector.detectAndDecode(gray)
    return [text] if text else []
