"""Where the codes are: zxing's positions in process and through the isolated child, parsed strictly."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest

from airgap.qr.decode import (
    MAX_PAYLOAD_CHARS,
    MAX_QUADS,
    FrameDecoder,
    Quad,
    is_plausible_payload,
    located_payloads,
    payloads_in_image,
)
from airgap.qr.isolated import IsolatedDecoder, _quads
from airgap.qr.render import RenderSettings, render_frame

Image = npt.NDArray[np.uint8]
TEXT = "UR:X-TEST/AEADAOLAZMJENDEOTI"
PAD = 50
QUIET = 4 * 4  # RenderSettings' quiet zone of 4 modules, 4 pixels each
#: Markers in the top-left pixel telling the child's decode what to act out.
FORGE, FULL = 21, 22


def padded() -> Image:
    return np.pad(render_frame(TEXT, RenderSettings(module_px=4)), PAD, constant_values=255)


def tiled(count: int) -> Image:
    """``count`` small codes side by side, three a row."""
    cell = 120
    rows = -(-count // 3)
    image = np.full((rows * cell + 20, 3 * cell + 20), 255, np.uint8)
    for n in range(count):
        code = render_frame(f"UR:X-TEST/{'A' * (n + 5)}", RenderSettings(module_px=3))
        y, x = 10 + (n // 3) * cell, 10 + (n % 3) * cell
        image[y : y + code.shape[0], x : x + code.shape[1]] = code
    return image


def scripted_decode(image: Image, decoder: FrameDecoder) -> tuple[list[str], list[Quad]] | list[str]:
    """The real decoder, unless the top-left pixel asks for a hostile or a full answer."""
    marker = int(image[0, 0])
    if marker == FORGE:
        # a status line forged through the quads, and texts no UR could be
        forged = ("0\nUR:X\x00EVIL\n\xff\xfe\nok 1,1,1,1,1,1,1,1",) + (0,) * 7
        texts = ["A" * (MAX_PAYLOAD_CHARS + 1), "tab\there", "caf\u00e9", "", "UR:X-TEST/OK"]
        return texts, [forged] * 20  # type: ignore[list-item]
    if marker == FULL:
        # as much as an honest child may say: eight full payloads, eight outlines of 5-digit numbers
        texts = [chr(ord("A") + n) * MAX_PAYLOAD_CHARS for n in range(8)]
        return texts, [(99999, 99999, 99999, 99999, 99999, 99999, 99999, 99999)] * MAX_QUADS
    return located_payloads(image, decoder)


@pytest.fixture(scope="module")
def isolated() -> Iterator[IsolatedDecoder]:
    # no test here is about the deadline: a generous one so a loaded machine's slow child start
    # (the first frame waits for it) cannot fail them
    with IsolatedDecoder(decode=scripted_decode, frame_timeout=30.0) as decoder:
        yield decoder


def test_located_payloads_finds_the_code_and_where_it_is() -> None:
    image = padded()
    texts, quads = located_payloads(image)
    assert texts == [TEXT]
    assert len(quads) == 1
    xs, ys = quads[0][0::2], quads[0][1::2]
    height, width = image.shape
    assert all(0 <= x < width for x in xs) and all(0 <= y < height for y in ys)
    # the symbol's corners, inside the quiet zone: top-left, top-right, bottom-right, bottom-left
    near, far = PAD + QUIET, width - PAD - QUIET
    corners = [(near, near), (far, near), (far, far), (near, far)]
    for (x, y), (cx, cy) in zip(zip(xs, ys, strict=True), corners, strict=True):
        assert abs(x - cx) <= 2 and abs(y - cy) <= 2


def test_bgr_frame_is_located_the_same() -> None:
    image = padded()
    assert located_payloads(np.dstack([image] * 3)) == located_payloads(image)


def test_quads_are_capped_and_texts_are_not() -> None:
    texts, quads = located_payloads(tiled(MAX_QUADS + 1))
    assert sorted(texts) == sorted(f"UR:X-TEST/{'A' * (n + 5)}" for n in range(MAX_QUADS + 1))
    assert len(quads) == MAX_QUADS


@pytest.mark.parametrize("decoder", [FrameDecoder.PYZBAR, FrameDecoder.OPENCV])
def test_other_decoders_report_no_position(decoder: FrameDecoder) -> None:
    assert located_payloads(padded(), decoder) == ([TEXT], [])


@pytest.mark.parametrize(
    "image",
    [padded(), tiled(4), np.full((100, 100), 255, np.uint8)],
    ids=["one", "four", "none"],
)
def test_payloads_in_image_are_the_located_texts(image: Image) -> None:
    assert payloads_in_image(image) == located_payloads(image)[0]


@pytest.mark.parametrize(
    "image", [padded(), tiled(MAX_QUADS + 1), np.full((100, 100), 255, np.uint8)], ids=["one", "many", "none"]
)
def test_isolated_locates_like_in_process(isolated: IsolatedDecoder, image: Image) -> None:
    assert isolated.located(image) == located_payloads(image)
    assert isolated(image) == payloads_in_image(image)


@pytest.mark.parametrize(
    ("where", "width", "height", "expected"),
    [
        ("", 100, 100, []),
        ("1,2,3,4,5,6,7,8", 100, 100, [(1, 2, 3, 4, 5, 6, 7, 8)]),
        (
            "1,2,3,4,5,6,7,8;10,20,30,40,50,60,70,80",
            100,
            100,
            [(1, 2, 3, 4, 5, 6, 7, 8), (10, 20, 30, 40, 50, 60, 70, 80)],
        ),
        ("garbage", 100, 100, []),
        ("1,2,3,4,5,6,7", 100, 100, []),
        ("1,2,3,4,5,6,7,8,9", 100, 100, []),
        ("-1,2,3,4,5,6,7,8", 100, 100, []),
        ("1,2,3,4,5,6,7,+8", 100, 100, []),
        ("1,2,3,4,5,6,7,8.0", 100, 100, []),
        ("1,2,3,4,5,6,7, 8", 100, 100, []),
        ("1,2,3,4,5,6,7,0x8", 100, 100, []),
        ("1,2,3,4,5,6,7,\ufffd", 100, 100, []),
        ("1,2,3,4,,6,7,8", 100, 100, []),
        ("123456,2,3,4,5,6,7,8", 100, 100, []),
        ("1,2,3,4,5,6,7," + "9" * 400, 100, 100, []),
        ("99999,99999,0,0,0,0,0,0", 100, 50, [(99, 49, 0, 0, 0, 0, 0, 0)]),
        ("00007,150,150,7,7,150,150,7", 100, 200, [(7, 150, 99, 7, 7, 150, 99, 7)]),
        ("garbage;1,2,3,4,5,6,7,8;;1,1,1,1,1,1,1", 100, 100, [(1, 2, 3, 4, 5, 6, 7, 8)]),
        (";".join(["1,1,1,1,1,1,1,1"] * (MAX_QUADS + 3)), 100, 100, [(1,) * 8] * MAX_QUADS),
        (";".join(["bad"] * MAX_QUADS + ["1,1,1,1,1,1,1,1"]), 100, 100, []),
    ],
    ids=[
        "empty",
        "one",
        "two",
        "garbage",
        "7-fields",
        "9-fields",
        "negative",
        "plus-sign",
        "decimal",
        "space",
        "hex",
        "replacement-char",
        "empty-field",
        "6-digits",
        "huge",
        "clipped",
        "clipped-by-axis",
        "malformed-items-dropped",
        "more-than-max",
        "only-the-first-max-items-read",
    ],
)
def test_quads_from_the_status_line_are_strict(
    where: str, width: int, height: int, expected: list[Quad]
) -> None:
    assert _quads(where, width, height) == expected


def test_forged_status_line_cannot_inject(isolated: IsolatedDecoder) -> None:
    image = padded()
    image[0, 0] = FORGE
    texts, quads = isolated.located(image)
    assert all(is_plausible_payload(text) for text in texts)
    assert "UR:X-TEST/OK" in texts
    assert not any("EVIL" in text or "\t" in text for text in texts)  # the unprintable lines are dropped
    assert quads == []  # outlines come from the first line only, and its "0" is no outline
    # the child is still answering sensibly afterwards
    assert isolated.located(padded()) == located_payloads(padded())


def test_full_answer_with_outlines_arrives_whole(isolated: IsolatedDecoder) -> None:
    """Regression: the answer's length cap counted the payloads but not the outlines on the status
    line, so an honest answer of eight full payloads lost the end of its last one."""
    image = np.full((60, 80), 255, np.uint8)
    image[0, 0] = FULL
    texts, quads = isolated.located(image)
    assert texts == [chr(ord("A") + n) * MAX_PAYLOAD_CHARS for n in range(8)]
    assert quads == [(79, 59, 79, 59, 79, 59, 79, 59)] * MAX_QUADS
