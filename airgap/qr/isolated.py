"""Frame decoding in a child process with memory and time limits.

The QR decoder is native code fed by whoever stands in front of the camera:
the riskiest code on a station. Running it in a separate process means a
decoder crash, a runaway allocation or a hang costs one frame (reported as
unreadable) and a worker restart, never the station process or its state.
The child gets an address-space limit; the parent enforces a per-frame
deadline and kills the child when it passes.

Nothing the child sends back is unpickled: answers are raw bytes of bounded
length, parsed as ASCII lines and checked again, so even a child taken over
through a decoder bug can only hand the parent some text to reject. The
status line may carry where the codes were found (for a preview's outline):
integers, parsed strictly and clipped to the frame.
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
    MAX_QUADS,
    FrameDecoder,
    Quad,
    is_plausible_payload,
    located_payloads,
    to_gray,
)

Image = npt.NDArray[np.uint8]
#: Payloads, or payloads and where they were found.
DecodeFn = Callable[[Image, FrameDecoder], "list[str] | tuple[list[str], list[Quad]]"]

#: Address space for the decoder child: ample for 4K frames, small enough to stop a runaway.
DEFAULT_MEMORY_LIMIT = 1 << 30
#: A frame that takes longer than this to decode is abandoned (normal frames take a few ms).
DEFAULT_FRAME_TIMEOUT = 2.0


#: Longest answer accepted from the child: a few full QR payloads, after a status line of outlines
#: (each at most eight 5-character numbers, their commas and a semicolon).
_MAX_ANSWER = 8 * (MAX_PAYLOAD_CHARS + 1) + MAX_QUADS * (8 * 6) + 64
_HEADER = struct.Struct(">II")
#: The child says so once it is up, so its start-up (a fresh interpreter) never counts against a frame.
_READY = b"ready"
#: Longest wait for a child to start: a loaded machine takes seconds to spawn an interpreter.
START_TIMEOUT = 60.0


def _worker(conn: Connection, decode: DecodeFn, decoder: FrameDecoder, memory_limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file of frame data
    conn.send_bytes(_READY)
    while True:
        try:
            message = conn.recv_bytes()
        except EOFError:
            return
        height, width = _HEADER.unpack_from(message)
        image = np.frombuffer(message, dtype=np.uint8, offset=_HEADER.size).reshape(height, width)
        try:
            found = decode(image, decoder)
            texts, quads = found if isinstance(found, tuple) else (found, [])
            where = ";".join(",".join(str(c) for c in quad) for quad in quads[:MAX_QUADS])
            answer = f"ok {where}".rstrip() + "\n" + "\n".join(texts)
        except (DecodeError, MemoryError, ValueError) as exc:
            answer = f"error\n{type(exc).__name__}: {exc}"
        conn.send_bytes(answer.encode("ascii", "replace")[:_MAX_ANSWER])


def _quads(where: str, width: int, height: int) -> list[Quad]:
    """Outlines from the child's status line; anything malformed is dropped, values clipped to the frame."""
    quads: list[Quad] = []
    for item in where.split(";")[:MAX_QUADS] if where else []:
        fields = item.split(",")
        if len(fields) != 8 or not all(f.isdigit() and len(f) <= 5 for f in fields):
            continue
        x1, y1, x2, y2, x3, y3, x4, y4 = (
            min(int(f), (width if i % 2 == 0 else height) - 1) for i, f in enumerate(fields)
        )
        quads.append((x1, y1, x2, y2, x3, y3, x4, y4))
    return quads


class IsolatedDecoder:
    """``payloads_in_image`` behind a process boundary; use as a context manager."""

    def __init__(
        self,
        decoder: FrameDecoder = DEFAULT_FRAME_DECODER,
        *,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        frame_timeout: float = DEFAULT_FRAME_TIMEOUT,
        decode: DecodeFn = located_payloads,
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
        try:
            ready = parent.poll(START_TIMEOUT) and parent.recv_bytes(len(_READY)) == _READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            self._kill()
            raise DecodeError(f"frame decoder did not start within {START_TIMEOUT:g} s")
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
        return self.located(image)[0]

    def located(self, image: npt.NDArray[np.generic]) -> tuple[list[str], list[Quad]]:
        """The payloads and where the codes are, as far as the child's answer can be believed."""
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
        word, _, where = status.partition(" ")
        if word != "ok":
            raise DecodeError(f"frame decoder refused this frame: {body[:200]}")
        texts = [text for text in body.split("\n") if is_plausible_payload(text)] if body else []
        return texts, _quads(where, gray.shape[1], gray.shape[0])

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
