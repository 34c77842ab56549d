"""Reading messages off a station's screen: a camera, a video, a folder of frames, or UR text lines.

Frames are decoded in a memory-limited child process by default, so a
hostile image cannot take the host tool down with it; ``in_process`` trades
that for speed in tests.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from typing import IO

from airgap.camera.frames import open_source
from airgap.qr.decode import payloads_in_image
from airgap.scan import ImageDecoder, ProgressBar, Unreadable, messages
from airgap.ur.ur import UR, DecodeLimits, URDecoder


def scan_messages(
    spec: str,
    types: frozenset[str],
    limits: DecodeLimits,
    *,
    in_process: bool = False,
    idle_timeout: float | None = None,
    stdin: IO[str] | None = None,
) -> Iterator[UR | Unreadable]:
    """Each message of the wanted types from ``spec``, in the order they complete."""
    bar = ProgressBar(sys.stderr)
    with ExitStack() as stack:
        source = open_source(spec, stdin if stdin is not None else sys.stdin)
        stack.callback(source.close)
        stack.callback(bar.finish)
        decode_image: ImageDecoder = payloads_in_image
        if not in_process and spec != "-":
            from airgap.qr.isolated import IsolatedDecoder

            decode_image = stack.enter_context(IsolatedDecoder())
        yield from messages(
            source.frames(),
            lambda: URDecoder(limits=limits, expected_types=types),
            decode_image=decode_image,
            idle_timeout=idle_timeout,
            on_progress=bar,
        )
