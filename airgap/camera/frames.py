"""Frame sources behind one small interface: camera, video file, image folder, text lines.

A source yields ``Frame`` values: an image for the QR decoder, or, for a
keyboard-wedge scanner (which types what it reads), a line of text that goes
straight to the UR decoder. Sources own their I/O and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import numpy as np
import numpy.typing as npt

from airgap.errors import SourceError

Image = npt.NDArray[np.uint8]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp"})
#: A keyboard-wedge line longer than this is cut off and reported unreadable,
#: so a runaway input cannot fill memory.
MAX_LINE_CHARS = 64 * 1024


@dataclass(frozen=True, slots=True)
class Frame:
    """One unit of input: exactly one of ``image`` or ``text`` is set."""

    index: int
    image: Image | None = None
    text: str | None = None
    unreadable: bool = False  # the source had something here but could not read it


class FrameSource(Protocol):
    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


class VideoCaptureSource:
    """A camera by index or a video file, through OpenCV's VideoCapture."""

    def __init__(self, target: int | str, width: int | None = None, height: int | None = None) -> None:
        import cv2

        self._cv2 = cv2
        self._capture = cv2.VideoCapture(target)
        if not self._capture.isOpened():
            kind = "camera" if isinstance(target, int) else "video file"
            raise SourceError(f"cannot open {kind} {target!r}")
        if width:
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)

    def frames(self) -> Iterator[Frame]:
        index = 0
        while True:
            ok, image = self._capture.read()
            if not ok:
                return
            yield Frame(index, image=np.asarray(image, dtype=np.uint8))
            index += 1

    def close(self) -> None:
        self._capture.release()


def _natural_key(path: Path) -> list[int | str]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


class ImageFolderSource:
    """Image files of a folder in name order (numbers compared as numbers)."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise SourceError(f"{folder} is not a folder")
        self.paths = sorted(
            (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key
        )
        if not self.paths:
            raise SourceError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")

    def frames(self) -> Iterator[Frame]:
        import cv2

        for index, path in enumerate(self.paths):
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is None:
                yield Frame(index, unreadable=True)
            else:
                yield Frame(index, image=np.asarray(image, dtype=np.uint8))

    def close(self) -> None:
        pass


class TextLineSource:
    """UR text typed by a keyboard-wedge scanner, one part a line."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def frames(self) -> Iterator[Frame]:
        index = 0
        while True:
            line = self._stream.readline(MAX_LINE_CHARS + 1)
            if not line:
                return
            if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
                self._skip_rest_of_line()
                yield Frame(index, unreadable=True)
            elif line.strip():
                yield Frame(index, text=line.strip())
            index += 1

    def _skip_rest_of_line(self) -> None:
        while True:
            chunk = self._stream.readline(MAX_LINE_CHARS)
            if not chunk or chunk.endswith("\n"):
                return

    def close(self) -> None:
        pass


def open_source(spec: str, stdin: IO[str] | None = None) -> FrameSource:
    """A source from a command-line word: a camera index, a folder, a video file, or ``-``."""
    if spec == "-":
        if stdin is None:
            raise SourceError("no standard input to read UR lines from")
        return TextLineSource(stdin)
    if spec.isdigit():
        return VideoCaptureSource(int(spec))
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path)
    if path.is_file():
        return VideoCaptureSource(str(path))
    raise SourceError(f"{spec!r} is not a camera index, a folder, a video file or '-'")
