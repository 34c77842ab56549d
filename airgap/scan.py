"""The scan loop: frames in, one UR out, stopping the moment the message is whole."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import TextIO

import numpy as np
import numpy.typing as npt

from airgap.camera.frames import Frame
from airgap.errors import DecodeError
from airgap.progress import TaskBar, on_terminal
from airgap.qr.decode import payloads_in_image
from airgap.ur.ur import UR, Progress, ReceiveStatus, URDecoder

ImageDecoder = Callable[[npt.NDArray[np.uint8]], list[str]]


@dataclass(slots=True)
class ScanStats:
    """What the scan saw; printed as one JSON line by ``airgap scan --stats``."""

    frames_read: int = 0
    frames_decoded: int = 0  # frames (or lines) that yielded at least one QR payload
    frames_unreadable: int = 0
    payloads: int = 0
    parts_used: int = 0
    parts_seen: int = 0
    foreign: int = 0
    invalid: int = 0
    seconds: float = 0.0
    complete: bool = False

    def to_json(self) -> str:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 4)
        return json.dumps(data, sort_keys=True)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Input that looked like a UR and could not be read, with how many times it came in one scan.

    Never acted on; shown and logged, so junk on the link is seen, not
    silently dropped."""

    reason: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class ScanResult:
    ur: UR | None
    stats: ScanStats
    progress: Progress
    timed_out: bool


def scan(
    frames: Iterable[Frame],
    decoder: URDecoder,
    *,
    decode_image: ImageDecoder = payloads_in_image,
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    on_progress: Callable[[Progress], None] | None = None,
) -> ScanResult:
    """Feed frames to ``decoder`` until it completes, the frames end, or ``timeout`` passes.

    ``decode_image`` turns an image into QR payloads: in-process by default,
    or an ``IsolatedDecoder``. Unreadable frames and non-UR payloads are
    counted and skipped. A message
    that breaks a hard cap or fails its checksum raises (DecodeError), since
    no further frame can repair it.
    """
    stats = ScanStats()
    start = clock()
    timed_out = False
    for frame in frames:
        stats.frames_read += 1
        for text in _payloads(frame, decode_image, stats):
            status = decoder.receive(text)
            if on_progress is not None and status is not ReceiveStatus.NOT_UR:
                on_progress(decoder.progress)
            if status is ReceiveStatus.COMPLETE:
                break
        if decoder.is_complete:
            break
        if timeout is not None and clock() - start >= timeout:
            timed_out = True
            break
    progress = decoder.progress
    stats.seconds = clock() - start
    stats.parts_used = progress.parts_used
    stats.parts_seen = progress.parts_seen
    stats.foreign = progress.foreign
    stats.invalid = progress.invalid
    stats.complete = decoder.is_complete
    return ScanResult(decoder.result, stats, progress, timed_out)


def messages(
    frames: Iterable[Frame],
    new_decoder: Callable[[], URDecoder],
    *,
    decode_image: ImageDecoder = payloads_in_image,
    idle_timeout: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Iterator[UR | Unreadable]:
    """Every message in a stream of frames, in turn, until the frames end or go idle.

    An animation left looping on a screen is yielded once, not once per
    loop. A message that can never complete (bad checksum, over a cap) is
    yielded as Unreadable and scanning goes on, so one bad sender does not
    end a sitting; so are parts that never parsed (each reason once per scan,
    with its count), which the decoder skips without stopping.
    """
    stream = iter(frames)
    last: bytes | None = None
    while True:
        decoder = new_decoder()
        try:
            result = scan(
                stream, decoder, decode_image=decode_image, timeout=idle_timeout, on_progress=on_progress
            )
        except DecodeError as exc:
            yield from (Unreadable(reason, count) for reason, count in decoder.errors.items())
            yield Unreadable(str(exc))
            continue
        yield from (Unreadable(reason, count) for reason, count in decoder.errors.items())
        if result.ur is None:
            return
        if result.ur.cbor != last:
            last = result.ur.cbor
            yield result.ur


def _payloads(frame: Frame, decode_image: ImageDecoder, stats: ScanStats) -> list[str]:
    if frame.unreadable:
        stats.frames_unreadable += 1
        return []
    if frame.text is not None:
        found = [frame.text]
    elif frame.image is not None:
        try:
            found = decode_image(frame.image)
        except DecodeError:
            stats.frames_unreadable += 1
            return []
    else:
        return []
    if found:
        stats.frames_decoded += 1
        stats.payloads += len(found)
    return found


class ProgressBar:
    """The decoder's progress as a bar on a terminal (see ``airgap.progress``); silent off a TTY.

    A callback for ``scan``/``messages``. Each message gets its own bar,
    erased the moment the message is whole, so what follows (a prompt, the
    next message's bar) starts on a clean line.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.enabled = on_terminal(self.stream)
        self._bar: TaskBar | None = None

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            self._bar = TaskBar(self.stream, total=1.0, width=self.width)
        self._bar.update(progress.fraction, description=progress.describe())
        if progress.last_status is ReceiveStatus.COMPLETE:
            self.finish()

    def finish(self) -> None:
        """Erase the bar; safe to call again, or when nothing was shown."""
        if self._bar is not None:
            self._bar.finish()
            self._bar = None
