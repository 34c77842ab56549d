from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from airgap.camera.frames import MAX_LINE_CHARS, ImageFolderSource, TextLineSource, open_source
from airgap.errors import SourceError


def test_folder_order_is_natural_and_bad_files_are_flagged(tmp_path: Path) -> None:
    import cv2

    for name in ("frame-10.png", "frame-2.png", "frame-1.png"):
        cv2.imwrite(str(tmp_path / name), np.full((30, 30), int(name.split("-")[1][:-4]), np.uint8))
    (tmp_path / "frame-3.png").write_bytes(b"not a png")
    (tmp_path / "notes.txt").write_text("ignored")
    source = ImageFolderSource(tmp_path)
    assert [p.name for p in source.paths] == ["frame-1.png", "frame-2.png", "frame-3.png", "frame-10.png"]
    frames = list(source.frames())
    assert [f.unreadable for f in frames] == [False, False, True, False]
    assert frames[3].image is not None and frames[3].image[0, 0] == 10


def test_text_lines_skip_blanks_and_cut_runaway_lines() -> None:
    stream = io.StringIO("ur:a/aa\n\n" + "x" * (MAX_LINE_CHARS + 10) + "\nur:b/bb\n")
    frames = list(TextLineSource(stream).frames())
    assert [f.text for f in frames] == ["ur:a/aa", None, "ur:b/bb"]
    assert frames[1].unreadable


def test_open_source_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a camera index"):
        open_source(str(tmp_path / "missing"))
    with pytest.raises(SourceError, match="holds no images"):
        open_source(str(tmp_path))
    (tmp_path / "junk.mp4").write_bytes(b"junk")
    with pytest.raises(SourceError, match="cannot open video file"):
        open_source(str(tmp_path / "junk.mp4"))
    with pytest.raises(SourceError, match="cannot open camera"):
        open_source("97")
