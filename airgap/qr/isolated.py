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

Before it says it is ready, the child imports and warms up the decoder and
then confines itself for good (``airgap.qr.sandbox``: no network, no file
writes, nobody's uid, a syscall allowlist). A child that cannot be confined
says so instead, and the parent raises ``SandboxError``: it never decodes
unconfined.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import resource
import signal
import struct
import sys
import warnings
from collections.abc import Callable
from multiprocessing import reduction
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from airgap.errors import DecodeError, SandboxError
from airgap.qr.decode import (
    DEFAULT_FRAME_DECODER,
    MAX_FRAME_PIXELS,
    MAX_PAYLOAD_CHARS,
    MAX_QUADS,
    FrameDecoder,
    Quad,
    is_plausible_payload,
    located_payloads,
    to_gray,
)
from airgap.qr.sandbox import Confinement, enter

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
#: A frame's height and width; its pixels are in the shared frame memory, not on the pipe.
_HEADER = struct.Struct(">II")
#: The child says so once it is up and confined (with how), so its start-up never counts against a frame.
_READY = b"ready "
#: Or it says why it could not be confined, and is not used.
_UNCONFINED = b"unconfined "
_MAX_HELLO = 512
#: Longest wait for a child to start: a loaded machine takes seconds to spawn an interpreter.
START_TIMEOUT = 60.0


class FrameMemory:
    """Shared memory the parent writes each frame into, for the child to read in place.

    Sending a 720p frame through the pipe took about 1.7 ms on a quiet machine
    and several times that on a loaded one (a dozen round trips between the two
    processes); one copy into shared memory takes about 0.1 ms. The child maps it
    read-only, and the parent never reads it: a child taken over can change
    nothing the parent believes. Passed to the child at spawn, as a Connection is.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @classmethod
    def create(cls) -> FrameMemory:
        fd = os.memfd_create("airgap-frame", os.MFD_CLOEXEC)
        os.ftruncate(fd, MAX_FRAME_PIXELS)
        return cls(fd)

    def __reduce__(self) -> tuple[Callable[[Any], FrameMemory], tuple[Any]]:
        return _rebuild_frame_memory, (reduction.DupFd(self.fd),)


def _rebuild_frame_memory(dup: Any) -> FrameMemory:
    return FrameMemory(dup.detach())


def _answer(decode: DecodeFn, decoder: FrameDecoder, image: Image) -> bytes:
    try:
        found = decode(image, decoder)
        texts, quads = found if isinstance(found, tuple) else (found, [])
        where = ";".join(",".join(str(c) for c in quad) for quad in quads[:MAX_QUADS])
        answer = f"ok {where}".rstrip() + "\n" + "\n".join(texts)
    except (DecodeError, MemoryError, ValueError) as exc:
        answer = f"error\n{type(exc).__name__}: {exc}"
    return answer.encode("ascii", "replace")[:_MAX_ANSWER]


def _warm_up(decode: DecodeFn, decoder: FrameDecoder) -> None:
    """Load what decoding loads on first use (imports, tables, arenas) while the child still may."""
    if decoder is FrameDecoder.OPENCV or "cv2" in sys.modules:
        import cv2

        cv2.setNumThreads(1)  # no thread pool to start under the filter
    from airgap.qr.render import RenderSettings, render_frame

    code = np.pad(render_frame("UR:X-WARM/UP", RenderSettings(module_px=4)), 40, constant_values=255)
    for image in (np.full((720, 1280), 255, np.uint8), code, np.zeros((5, 5), np.uint8)):  # the last fails
        _answer(decode, decoder, image)


def _worker(
    conn: Connection,
    memory: FrameMemory,
    decode: DecodeFn,
    decoder: FrameDecoder,
    memory_limit: int,
    confine: Callable[[int], Confinement],
) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file of frame data
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it ends the child
    warnings.simplefilter("ignore")  # showing one would read source files, which the filter forbids
    frames = mmap.mmap(memory.fd, MAX_FRAME_PIXELS, prot=mmap.PROT_READ)
    os.close(memory.fd)
    try:
        _warm_up(decode, decoder)
        confinement = confine(conn.fileno())
    except SandboxError as exc:
        conn.send_bytes(_UNCONFINED + str(exc).encode("ascii", "replace")[: _MAX_HELLO - len(_UNCONFINED)])
        return
    conn.send_bytes(_READY + confinement.line().encode("ascii"))
    while True:
        try:
            message = conn.recv_bytes()
        except EOFError:
            os._exit(0)  # no interpreter shutdown under the filter: it would need syscalls decoding does not
        height, width = _HEADER.unpack_from(message)
        if height * width > MAX_FRAME_PIXELS:
            conn.send_bytes(b"error\nframe larger than the shared frame memory")
            continue
        image = np.frombuffer(frames, dtype=np.uint8, count=height * width).reshape(height, width)
        conn.send_bytes(_answer(decode, decoder, image))


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


def _how(exitcode: int | None) -> str:
    """How a child ended, in words: a forbidden syscall is told apart from an ordinary crash."""
    if exitcode == -signal.SIGSYS:
        return "was killed for a forbidden system call (SIGSYS)"
    if exitcode is not None and exitcode < 0:
        return f"crashed (signal {-exitcode})"
    return "crashed" if exitcode is None else f"crashed (exit code {exitcode})"


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
        self._frames: mmap.mmap | None = None
        self._confine: Callable[[int], Confinement] = enter  # scripts/sandbox_trace.py loosens it to trace
        #: How the running child is confined, as it said when ready.
        self.confinement: Confinement | None = None
        self.restarts = 0
        #: The exit code of the last child that died or was stopped on a frame (-31: killed by the filter).
        self.last_exit: int | None = None

    def _start(self) -> Connection:
        parent, child = self._context.Pipe()
        memory = FrameMemory.create()
        self._frames = mmap.mmap(memory.fd, MAX_FRAME_PIXELS)
        self._process = self._context.Process(
            target=_worker,
            args=(child, memory, self._decode, self.decoder, self.memory_limit, self._confine),
            daemon=True,
        )
        try:
            self._process.start()
        finally:
            os.close(memory.fd)
            child.close()
        self._conn = parent
        try:
            hello = parent.recv_bytes(_MAX_HELLO) if parent.poll(START_TIMEOUT) else None
        except (EOFError, OSError):
            hello = b""
        if hello is not None and hello.startswith(_READY):
            try:
                self.confinement = Confinement.parse(hello[len(_READY) :].decode("ascii"))
            except (SandboxError, UnicodeDecodeError) as exc:
                self._kill()
                raise SandboxError(f"frame decoder's confinement is unknown: {hello[:100]!r}") from exc
            return parent
        exited = self._kill()
        if hello is not None and hello.startswith(_UNCONFINED):
            raise SandboxError(hello[len(_UNCONFINED) :].decode("ascii", "replace"))
        if hello is None:
            raise DecodeError(f"frame decoder did not start within {START_TIMEOUT:g} s")
        raise DecodeError(f"frame decoder {_how(exited)} before it was ready")

    def _kill(self) -> int | None:
        """Stop the child; its exit code (negative: the signal that ended it) if it had ended."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._frames is not None:
            self._frames.close()
            self._frames = None
        code = None
        if self._process is not None:
            code = self._process.exitcode
            if code is None:
                self._process.join(timeout=0.2)  # one killed by the filter may still be on its way out
                code = self._process.exitcode
            self._process.kill()
            self._process.join(timeout=5)
            self._process = None
        return code

    def __call__(self, image: npt.NDArray[np.generic]) -> list[str]:
        return self.located(image)[0]

    def located(self, image: npt.NDArray[np.generic]) -> tuple[list[str], list[Quad]]:
        """The payloads and where the codes are, as far as the child's answer can be believed."""
        gray = to_gray(image)
        conn = self._conn or self._start()
        assert self._frames is not None
        self._frames[: gray.size] = gray.data.cast("B")
        try:
            conn.send_bytes(_HEADER.pack(*gray.shape))
            if not conn.poll(self.frame_timeout):
                self._restart()
                raise DecodeError(f"frame decoder gave no answer within {self.frame_timeout:g} s; restarted")
            answer = conn.recv_bytes(_MAX_ANSWER)
        except (EOFError, OSError):
            exited = self._restart()
            raise DecodeError(f"frame decoder {_how(exited)} on this frame; restarted") from None
        status, _, body = answer.decode("ascii", "replace").partition("\n")
        word, _, where = status.partition(" ")
        if word != "ok":
            raise DecodeError(f"frame decoder refused this frame: {body[:200]}")
        texts = [text for text in body.split("\n") if is_plausible_payload(text)] if body else []
        return texts, _quads(where, gray.shape[1], gray.shape[0])

    def _restart(self) -> int | None:
        self.restarts += 1
        self.last_exit = self._kill()
        return self.last_exit

    def close(self) -> None:
        self._kill()

    def __enter__(self) -> IsolatedDecoder:
        self._start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
