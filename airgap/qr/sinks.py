"""Where rendered frames go: a PNG folder, an animated GIF, an MP4, a window, a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt

from airgap.errors import RenderError
from airgap.qr.render import Matrix, terminal_art

Image = npt.NDArray[np.uint8]


def write_png_folder(frames: Sequence[Image], folder: Path) -> list[Path]:
    """``frame-00001.png``, … so that name order is display order."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames, start=1):
        path = folder / f"frame-{i:05d}.png"
        if not cv2.imwrite(str(path), frame, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
            raise RenderError(f"cannot write {path}")
        paths.append(path)
    return paths


def write_gif(frames: Sequence[Image], path: Path, fps: float) -> None:
    """An endlessly looping GIF; GIF delays are in centiseconds, so fps is rounded to fit."""
    from PIL import Image as PILImage

    if not frames:
        raise RenderError("no frames to write")
    images = [PILImage.fromarray(f, mode="L") for f in frames]
    duration = max(20, round(1000 / fps / 10) * 10)
    try:
        images[0].save(
            path, save_all=True, append_images=images[1:], duration=duration, loop=0, optimize=False
        )
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc}") from exc


def write_mp4(frames: Sequence[Image], path: Path, fps: float) -> None:
    """An MP4 (MPEG-4 Part 2, which OpenCV's bundled FFmpeg always has)."""
    import cv2

    if not frames:
        raise RenderError("no frames to write")
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height), isColor=True)
    if not writer.isOpened():
        raise RenderError(f"cannot open {path} for MP4 writing")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    finally:
        writer.release()


def write_animation(frames: Sequence[Image], out: Path, fps: float) -> None:
    """Frames to ``out`` by its name: X.gif, X.mp4, or a folder of numbered PNGs."""
    suffix = out.suffix.lower()
    if suffix == ".gif":
        write_gif(frames, out, fps)
    elif suffix == ".mp4":
        write_mp4(frames, out, fps)
    elif suffix:
        raise RenderError(f"cannot tell what to write for {out}: use a folder, .gif or .mp4")
    else:
        write_png_folder(frames, out)


def show_window(
    frames: Sequence[Image], fps: float, title: str = "airgap", seconds: float | None = None
) -> None:
    """Loop the frames in a window until a key is pressed, the window closes, or ``seconds`` pass."""
    import cv2

    if not frames:
        raise RenderError("no frames to show")
    try:
        cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)
    except cv2.error as exc:
        raise RenderError(f"cannot open a window (is there a display?): {exc}") from exc
    delay = 1.0 / fps
    start = time.monotonic()
    i = 0
    try:
        while seconds is None or time.monotonic() - start < seconds:
            due = start + i * delay
            cv2.imshow(title, frames[i % len(frames)])
            wait_ms = max(1, int((due + delay - time.monotonic()) * 1000))
            if cv2.waitKey(wait_ms) != -1:
                break
            if cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1:
                break
            i += 1
    finally:
        cv2.destroyWindow(title)


def print_terminal(matrix: Matrix, stream: TextIO = sys.stdout) -> None:
    stream.write(terminal_art(matrix) + "\n")
    stream.flush()
