"""Rendering: standard QR, ECC L, smallest version, uppercase, stable frame size."""

from __future__ import annotations

import cbor2
import numpy as np
import pytest

from airgap.errors import RenderError
from airgap.qr.decode import FrameDecoder, payloads_in_image
from airgap.qr.render import (
    RenderBackend,
    RenderSettings,
    matrix_to_image,
    qr_matrix,
    render_frame,
    render_frames,
    terminal_art,
    version_of,
)
from airgap.ur.ur import UR, UREncoder
from tests.conftest import load_vectors

PART: str = load_vectors("ur/ur.json")["multipart"]["parts"][0]


def test_backends_agree_on_the_smallest_version() -> None:
    for length in (20, 200, 900, 2000):
        text = ("ur:x-t/1-2/" + "lpadascfadaxcywenbpljkhdca" * 100)[:length]
        fast, reference = qr_matrix(text, RenderBackend.ZXING), qr_matrix(text, RenderBackend.QRCODE)
        # python-qrcode with fit=True picks the smallest version holding the data at ECC L.
        assert version_of(fast) == version_of(reference)


@pytest.mark.parametrize("backend", list(RenderBackend))
def test_rendered_frame_decodes_to_uppercase_text(backend: RenderBackend) -> None:
    image = render_frame(PART, RenderSettings(module_px=3, backend=backend))
    for decoder in (FrameDecoder.ZXING, FrameDecoder.PYZBAR):
        assert payloads_in_image(image, decoder) == [PART.upper()]


def test_uppercase_uses_alphanumeric_mode() -> None:
    # The same text in lowercase needs byte mode and so a larger symbol.
    text = PART * 3
    import qrcode
    from qrcode.util import MODE_8BIT_BYTE, QRData

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L)
    code.add_data(QRData(text.encode(), mode=MODE_8BIT_BYTE))
    code.make(fit=True)
    assert version_of(qr_matrix(text)) < code.version


def test_frames_share_one_size_and_pure_parts_come_first() -> None:
    ur = UR("x-test", cbor2.dumps(bytes(range(256)) * 12))
    encoder = UREncoder(ur, 300)
    texts = [encoder.next_part() for _ in range(3 * encoder.seq_len)]
    assert [t.split("/")[1] for t in texts[: encoder.seq_len]] == [
        f"{i}-{encoder.seq_len}" for i in range(1, encoder.seq_len + 1)
    ]
    frames = render_frames(texts, RenderSettings(module_px=2))
    assert len({f.shape for f in frames}) == 1
    assert all(f.dtype == np.uint8 for f in frames)


def test_quiet_zone_and_scale() -> None:
    matrix = qr_matrix("UR:X/AE")
    image = matrix_to_image(matrix, RenderSettings(module_px=5, quiet_zone=4))
    assert image.shape == ((matrix.shape[0] + 8) * 5,) * 2
    assert (image[:20, :] == 255).all()


def test_terminal_art_has_two_module_rows_per_line() -> None:
    matrix = qr_matrix("UR:X/AE")
    art = terminal_art(matrix, quiet_zone=2)
    assert len(art.splitlines()) == (matrix.shape[0] + 4 + 1) // 2


def test_too_much_text_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="cannot make a QR code"):
        qr_matrix("A" * 5000)
