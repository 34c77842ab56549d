"""Frame decoding in a child process with memory and time limits.

The QR decoder is native code fed by whoever stands in front of the camera:
the riskiest code on a station. Running it in a separate process means a
decoder crash, a runaway allocation or a hang costs one frame (reported as
unreadable) and a worker restart, never the station process or its state.
The child gets an address-space limit; the parent enforces a per-frame
deadline and kills the child when it passes.

Nothing the child sends back is unpickled: answers are raw bytes of bounded
length, parsed as ASCII lines and checked again, so even a child taken over
through a decoder bug can only hand the parent some text to reject.
"""

from __future__ import annotations

import multiprocessing
import resource
import struct
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from airgap.errors import DecodeError
from airgap.qr.decode import (
    DEFAULT_FRAME_DECODER,
    MAX_PAYLOAD_CHARS,
    FrameDecoder,
    is_plausible_payload,
    payloads_in_image,
    to_gray,
)

Image = npt.NDArray[np.uint8]
DecodeFn = Callable[[Image, FrameDecoder], list[str]]

#: Address space for the decoder child: ample for 4K frames, small enough to stop a runaway.
DEFAULT_MEMORY_LIMIT = 1 << 30
#: A frame that takes longer than this to decode is abandoned (normal frames take a few ms).
DEFAULT_FRAME_TIMEOUT = 2.0


#: Longest answer accepted from the child: a few full QR payloads.
_MAX_ANSWER = 8 * (MAX_PAYLOAD_CHARS + 1) + 64
_HEADER = struct.Struct(">II")


def _worker(conn: Connection, decode: DecodeFn, decoder: FrameDecoder, memory_limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file of frame data
    while True:
        try:
            message = conn.recv_bytes()
        except EOFError:
            return
        height, width = _HEADER.unpack_from(message)
        image = np.frombuffer(message, dtype=np.uint8, offset=_HEADER.size).reshape(height, width)
        try:
            answer = "ok\n" + "\n".join(decode(image, decoder))
        except (DecodeError, MemoryError, ValueError) as exc:
            answer = f"error\n{type(exc).__name__}: {exc}"
        conn.send_bytes(answer.encode("ascii", "replace")[:_MAX_ANSWER])


class IsolatedDecoder:
    """``payloads_in_image`` behind a process boundary; use as a context manager."""

    def __init__(
        self,
        decoder: FrameDecoder = DEFAULT_FRAME_DECODER,
        *,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        frame_timeout: float = DEFAULT_FRAME_TIMEOUT,
        decode: DecodeFn = payloads_in_image,
    ) -> None:
        self.decoder = decoder
        self.memory_limit = memory_limit
        self.frame_timeout = frame_timeout
        self._decode = decode
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._conn: Connection | None = None
        self.restarts = 0

    def _start(self) -> Connection:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(
            target=_worker, args=(child, self._decode, self.decoder, self.memory_limit), daemon=True
        )
        self._process.start()
        child.close()
        self._conn = parent
        return parent

    def _kill(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.kill()
            self._process.join(timeout=5)
            self._process = None

    def __call__(self, image: npt.NDArray[np.generic]) -> list[str]:
        gray = to_gray(image)
        conn = self._conn or self._start()
        try:
            conn.send_bytes(_HEADER.pack(*gray.shape) + gray.tobytes())
            if not conn.poll(self.frame_timeout):
                self._restart()
                raise DecodeError(f"frame decoder gave no answer within {self.frame_timeout:g} s; restarted")
            answer = conn.recv_bytes(_MAX_ANSWER)
        except (EOFError, OSError):
            self._restart()
            raise DecodeError("frame decoder crashed on this frame; restarted") from None
        status, _, body = answer.decode("ascii", "replace").partition("\n")
        if status != "ok":
            raise DecodeError(f"frame decoder refused this frame: {body[:200]}")
        return [text for text in body.split("\n") if is_plausible_payload(text)] if body else []

    def _restart(self) -> None:
        self._kill()
        self.restarts += 1

    def close(self) -> None:
        self._kill()

    def __enter__(self) -> IsolatedDecoder:
        self._start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
