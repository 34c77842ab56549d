"""Sinks write what sources read back: PNG folders in order, GIFs and MP4s frame for frame."""

from __future__ import annotations

import io
from pathlib import Path

import cbor2
import pytest
from PIL import Image as PILImage

from airgap.camera.frames import ImageFolderSource, VideoCaptureSource
from airgap.errors import RenderError
from airgap.qr.decode import payloads_in_image
from airgap.qr.render import RenderSettings, qr_matrix, render_frames
from airgap.qr.sinks import print_terminal, write_gif, write_mp4, write_png_folder
from airgap.ur.ur import UR, UREncoder


@pytest.fixture
def texts() -> list[str]:
    encoder = UREncoder(UR("x-test", cbor2.dumps(bytes(range(200)) * 6)), 250)
    return [encoder.next_part() for _ in range(12)]


def test_png_folder_keeps_display_order(tmp_path: Path, texts: list[str]) -> None:
    frames = render_frames(texts, RenderSettings(module_px=3))
    write_png_folder(frames, tmp_path / "out")
    read = [
        payloads_in_image(f.image)
        for f in ImageFolderSource(tmp_path / "out").frames()
        if f.image is not None
    ]
    assert read == [[t.upper()] for t in texts]


def test_gif_holds_every_frame(tmp_path: Path, texts: list[str]) -> None:
    frames = render_frames(texts, RenderSettings(module_px=3))
    write_gif(frames, tmp_path / "a.gif", fps=8)
    with PILImage.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == len(texts)
        assert gif.info["duration"] in (120, 130)


def test_mp4_decodes_frame_for_frame(tmp_path: Path, texts: list[str]) -> None:
    frames = render_frames(texts, RenderSettings(module_px=4))
    write_mp4(frames, tmp_path / "a.mp4", fps=8)
    source = VideoCaptureSource(str(tmp_path / "a.mp4"))
    read = [payloads_in_image(f.image) for f in source.frames() if f.image is not None]
    source.close()
    assert read == [[t.upper()] for t in texts]


def test_empty_animations_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RenderError):
        write_gif([], tmp_path / "a.gif", 8)
    with pytest.raises(RenderError):
        write_mp4([], tmp_path / "a.mp4", 8)


def test_terminal_prints_the_matrix() -> None:
    out = io.StringIO()
    print_terminal(qr_matrix("UR:X/AE"), out)
    assert out.getvalue().count("\n") >= 12
