"""Turning UR text into QR frames, fast enough to pre-render a whole animation.

Why zxing-cpp's writer by default: python-qrcode's default path spends most of
its 20-130 ms a frame in pure-Python mask evaluation and module placement;
zxing-cpp does the same standard-conforming work in C++ (about 1-6 ms for the
versions we use, see docs/benchmarks.md) and already ships as our decoder
candidate. Both backends are kept behind ``qr_matrix`` and cross-checked in the
tests; qrcode stays available as the reference.

Text is uppercased so that the whole UR fits QR alphanumeric mode (5.5 bits a
character instead of 8), error correction is L (the fountain code, not QR's
Reed-Solomon, is what recovers lost frames), and the symbol is the smallest
version that holds the text. All frames of one animation are padded to the
size of the largest symbol so the picture does not jump between frames.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from airgap.errors import RenderError
from airgap.link_defaults import DEFAULT_ANIMATION_PASSES, DEFAULT_MODULE_PX
from airgap.ur.ur import UR, parts_for_message

Image = npt.NDArray[np.uint8]
Matrix = npt.NDArray[np.bool_]

#: Light and dark levels of a rendered frame (a screen's white and black).
LIGHT = 255
DARK = 0


class RenderBackend(StrEnum):
    ZXING = "zxing"  # zxing-cpp's C++ writer: the fast default
    QRCODE = "qrcode"  # python-qrcode with its slow paths skipped: the reference


@dataclass(frozen=True, slots=True)
class RenderSettings:
    """How UR text becomes pixels."""

    module_px: int = 4  # screen pixels per QR module
    quiet_zone: int = 4  # modules of light margin, as ISO/IEC 18004 requires
    backend: RenderBackend = RenderBackend.ZXING


def qr_matrix(text: str, backend: RenderBackend = RenderBackend.ZXING) -> Matrix:
    """The module matrix (True = dark) of the smallest ECC-L QR code holding ``text`` uppercased."""
    upper = text.upper()
    try:
        if backend is RenderBackend.ZXING:
            return _zxing_matrix(upper)
        return _qrcode_matrix(upper)
    except (ValueError, RuntimeError) as exc:
        raise RenderError(f"cannot make a QR code of {len(upper)} characters: {exc}") from exc


def _zxing_matrix(text: str) -> Matrix:
    import zxingcpp

    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="L")
    pixels = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False))
    return pixels < 128


def _qrcode_matrix(text: str) -> Matrix:
    import qrcode
    from qrcode.util import MODE_8BIT_BYTE, MODE_ALPHA_NUM, QRData

    mode = MODE_ALPHA_NUM if all(c in _ALNUM for c in text) else MODE_8BIT_BYTE
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L, border=0, box_size=1)
    code.add_data(QRData(text.encode(), mode=mode))
    code.make(fit=True)
    return np.array(code.get_matrix(), dtype=np.bool_)


_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def version_of(matrix: Matrix) -> int:
    """The QR version of a module matrix without quiet zone (21 modules is version 1)."""
    return (int(matrix.shape[0]) - 17) // 4


def matrix_to_image(matrix: Matrix, settings: RenderSettings, canvas_modules: int | None = None) -> Image:
    """Scale a module matrix to pixels, centred in a light square of ``canvas_modules`` plus margins."""
    size = matrix.shape[0]
    canvas = max(size, canvas_modules or size) + 2 * settings.quiet_zone
    modules = np.full((canvas, canvas), LIGHT, dtype=np.uint8)
    offset = (canvas - size) // 2
    modules[offset : offset + size, offset : offset + size] = np.where(matrix, DARK, LIGHT)
    px = settings.module_px
    if px == 1:
        return modules
    return np.repeat(np.repeat(modules, px, axis=0), px, axis=1)


def render_frames(texts: Iterable[str], settings: RenderSettings = RenderSettings()) -> list[Image]:
    """Pre-render a whole animation; every frame has the same size."""
    matrices = [qr_matrix(t, settings.backend) for t in texts]
    if not matrices:
        return []
    canvas = max(m.shape[0] for m in matrices)
    return [matrix_to_image(m, settings, canvas) for m in matrices]


def animation_frames(
    ur: UR, max_fragment: int, *, module_px: int = DEFAULT_MODULE_PX, passes: int = DEFAULT_ANIMATION_PASSES
) -> list[Image]:
    """A message as the looping animation a screen shows: fixed-rate parts first, then fountain parts."""
    return render_frames(
        parts_for_message(ur, max_fragment, passes=passes), RenderSettings(module_px=module_px)
    )


def render_frame(text: str, settings: RenderSettings = RenderSettings()) -> Image:
    return matrix_to_image(qr_matrix(text, settings.backend), settings)


def terminal_art(matrix: Matrix, quiet_zone: int = 2) -> str:
    """A QR for a terminal: two module rows per text line with half-block characters.

    Dark modules print as spaces on a light background, so it scans from a
    dark-themed terminal too; ANSI colours pin light and dark explicitly.
    """
    padded = np.pad(matrix, quiet_zone, constant_values=False)
    if padded.shape[0] % 2:
        padded = np.pad(padded, ((0, 1), (0, 0)), constant_values=False)
    glyph = {(False, False): "█", (False, True): "▀", (True, False): "▄", (True, True): " "}
    lines = []
    for top, bottom in zip(padded[0::2], padded[1::2], strict=True):
        row = "".join(glyph[(bool(a), bool(b))] for a, b in zip(top, bottom, strict=True))
        lines.append(f"\x1b[97;40m{row}\x1b[0m")
    return "\n".join(lines)
