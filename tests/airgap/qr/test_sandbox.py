"""The decoder child is confined: no network, no file writes, no root, only the syscalls decoding needs.

The probes run inside the real confined child, as its decode function (the
same way test_isolated acts out crashes): a marker in the frame's top-left
pixel says what to try, and the child either answers or is killed.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from airgap.camera.simulator import PROFILES, CameraSimulator
from airgap.errors import DecodeError, SandboxError
from airgap.qr import sandbox
from airgap.qr.decode import FrameDecoder, Quad, located_payloads
from airgap.qr.isolated import IsolatedDecoder
from airgap.qr.render import RenderSettings, animation_frames, render_frame
from airgap.qr.sandbox import NOBODY, Confinement
from airgap.ur.ur import UR

Image = npt.NDArray[np.uint8]
TEXT = "UR:X-TEST/AEADAOLAZMJENDEOTI"
SOCKET, WRITE, READ, MKDIR, FORK, EXEC, PTRACE, SETUID = range(31, 39)
#: Loaded when this module is imported (in the child: before it is confined), so a probe can call it.
LIBC = ctypes.CDLL(None, use_errno=True)


def probe_decode(image: Image, decoder: FrameDecoder) -> tuple[list[str], list[Quad]]:
    """The real decoder, unless the top-left pixel names something the child must not be able to do.

    A path for the file probes is spelled in the second row. A probe that comes back answers
    "survived", which the tests treat as a failure of the sandbox.
    """
    marker = int(image[0, 0])
    path = bytes(image[1]).rstrip(b"\0").decode("latin-1")
    if marker == SOCKET:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    elif marker == WRITE:
        with open(path, "w") as file:
            file.write("escaped")
    elif marker == READ:
        with open("/etc/passwd", "rb") as file:
            file.read()
    elif marker == MKDIR:
        os.mkdir(path)
    elif marker == FORK:
        if os.fork() == 0:
            os._exit(0)
    elif marker == EXEC:
        os.execv("/bin/true", ["true"])
    elif marker == PTRACE:
        LIBC.ptrace(0, 0, 0, 0)  # PTRACE_TRACEME
    elif marker == SETUID:
        os.setuid(0)
    else:
        return located_payloads(image, decoder)
    return ["survived"], []


def decode_without_binding(image: Image, decoder: FrameDecoder) -> tuple[list[str], list[Quad]]:
    """Runs during the child's warm-up: from then on neither seccomp binding can be imported."""
    sys.modules["seccomp"] = None  # type: ignore[assignment]
    sys.modules["pyseccomp"] = None  # type: ignore[assignment]
    return located_payloads(image, decoder)


def lying_confine(pipe_fd: int) -> Confinement:
    return Confinement("none", 0, 0)


def padded() -> Image:
    return np.pad(render_frame(TEXT, RenderSettings(module_px=4)), 50, constant_values=255)


def probe(marker: int, path: Path | None = None) -> Image:
    image = np.full((60, 400), 255, np.uint8)
    image[0, 0] = marker
    image[1] = 0
    spelled = str(path or "").encode()
    image[1, : len(spelled)] = np.frombuffer(spelled, np.uint8)
    return image


@pytest.fixture(scope="module")
def confined() -> Iterator[IsolatedDecoder]:
    with IsolatedDecoder(decode=probe_decode, frame_timeout=30.0) as decoder:
        yield decoder


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory anyone may write in: only the sandbox, not file permissions, stops the child."""
    path = Path(tempfile.mkdtemp(prefix="sandbox-probe-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path)


@pytest.mark.parametrize("decoder", list(FrameDecoder))
def test_confined_child_decodes_like_in_process(decoder: FrameDecoder) -> None:
    with IsolatedDecoder(decoder, frame_timeout=30.0) as isolated:
        assert isolated.located(padded()) == located_payloads(padded(), decoder)
        assert isolated.confinement is not None


def test_camera_frames_decode_the_same(confined: IsolatedDecoder) -> None:
    shown = animation_frames(UR("bytes", bytes(range(256)) * 4), 400)
    frames = [img for _, img in CameraSimulator(shown, PROFILES["720p-webcam"], 1).capture(0.5)]
    assert [confined.located(img) for img in frames] == [located_payloads(img) for img in frames]
    assert any(confined(img) for img in frames)


def status(pid: int | str, task: str | None = None) -> dict[str, str]:
    where = f"/proc/{pid}/task/{task}/status" if task else f"/proc/{pid}/status"
    lines = Path(where).read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def test_every_thread_is_unprivileged_and_filtered(confined: IsolatedDecoder) -> None:
    """Read from outside, in /proc: what the child reported when ready is what holds."""
    pid = confined._process.pid
    assert confined.confinement is not None
    if os.geteuid() == 0:
        assert (confined.confinement.uid, confined.confinement.gid) == (NOBODY, NOBODY)
    else:
        assert confined.confinement.uid == os.getuid()
    uid, gid = confined.confinement.uid, confined.confinement.gid
    tasks = os.listdir(f"/proc/{pid}/task")
    for task in tasks:
        fields = status(pid, task)
        assert fields["Uid"].split() == [str(uid)] * 4
        assert fields["Gid"].split() == [str(gid)] * 4
        assert fields["Groups"] == ""
        assert fields["CapEff"] == "0000000000000000"
        assert fields["NoNewPrivs"] == "1"
        assert fields["Seccomp"] == "2"  # a filter, on every thread (numpy's BLAS thread too)
    limits = Path(f"/proc/{pid}/limits").read_text()
    file_size = next(line for line in limits.splitlines() if line.startswith("Max file size"))
    assert file_size.split()[3:5] == ["0", "0"]


@pytest.mark.skipif(os.geteuid() != 0, reason="another process's namespace is root's to read")
def test_network_namespace_when_the_kernel_allows_it(confined: IsolatedDecoder) -> None:
    assert confined.confinement is not None
    child = os.readlink(f"/proc/{confined._process.pid}/ns/net")
    if confined.confinement.network == "namespace":
        assert child != os.readlink("/proc/self/ns/net")
    else:  # CI without CLONE_NEWNET: sockets are still killed by the filter (the next test)
        assert confined.confinement.network == "filter"


@pytest.mark.parametrize(
    "marker",
    [SOCKET, READ, FORK, EXEC, PTRACE, SETUID],
    ids=["socket", "open-read", "fork", "execve", "ptrace", "setuid"],
)
def test_forbidden_syscall_kills_the_child_and_costs_one_frame(
    confined: IsolatedDecoder, marker: int
) -> None:
    restarts = confined.restarts
    with pytest.raises(DecodeError, match=r"killed for a forbidden system call \(SIGSYS\)"):
        confined(probe(marker))
    assert confined.last_exit == -signal.SIGSYS
    assert confined.restarts == restarts + 1
    assert confined(padded()) == [TEXT]  # a fresh, confined child took over


@pytest.mark.parametrize(
    ("marker", "name"), [(WRITE, "escaped.txt"), (MKDIR, "escaped")], ids=["open-write", "mkdir"]
)
def test_child_cannot_write_files(confined: IsolatedDecoder, open_dir: Path, marker: int, name: str) -> None:
    target = open_dir / name
    with pytest.raises(DecodeError, match="forbidden system call"):
        confined(probe(marker, target))
    assert not target.exists()
    assert confined.last_exit == -signal.SIGSYS
    # the control: unconfined, the same probe writes there
    assert probe_decode(probe(marker, target), FrameDecoder.ZXING) == (["survived"], [])
    assert target.exists()


def test_missing_seccomp_binding_refuses_to_start() -> None:
    """Fail closed: a station without libseccomp does not decode at all, rather than unconfined."""
    with pytest.raises(SandboxError, match="libseccomp"), IsolatedDecoder(decode=decode_without_binding):
        pytest.fail("the decoder started without its sandbox")


def test_seccomp_binding_missing_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "seccomp", None)
    monkeypatch.setitem(sys.modules, "pyseccomp", None)
    with pytest.raises(SandboxError, match="pyseccomp"):
        sandbox.seccomp_binding()


def test_unknown_confinement_is_refused() -> None:
    isolated = IsolatedDecoder()
    isolated._confine = lying_confine
    with pytest.raises(SandboxError, match="confinement is unknown"), isolated:
        pytest.fail("a child reporting no known confinement was used")


@pytest.mark.parametrize(
    "line",
    [
        "network=namespace uid=65534 gid=65534",
        "network=filter uid=1000 gid=1000",
    ],
)
def test_confinement_line_round_trips(line: str) -> None:
    assert Confinement.parse(line).line() == line


@pytest.mark.parametrize(
    "line",
    [
        "",
        "network=none uid=0 gid=0",
        "network=namespace uid=-1 gid=0",
        "network=namespace uid=65534",
        "network=namespace uid=65534 gid=65534 extra=1",
        "network=namespace uid=99999999999 gid=1",
        "network=namespace  uid=1 gid=1",
    ],
)
def test_malformed_confinement_lines_are_refused(line: str) -> None:
    with pytest.raises(SandboxError):
        Confinement.parse(line)


class FakeLibc:
    def __init__(self, error: int) -> None:
        self.error = error

    def unshare(self, flags: int) -> int:
        ctypes.set_errno(self.error)
        return -1


@pytest.mark.parametrize("error", [errno.EPERM, errno.EINVAL, errno.ENOSYS])
def test_network_namespace_refused_falls_back_to_the_filter(error: int) -> None:
    assert sandbox._unshare_network(FakeLibc(error)) is False  # type: ignore[arg-type]


def test_unexpected_unshare_failure_is_an_error() -> None:
    with pytest.raises(SandboxError, match="unshare"):
        sandbox._unshare_network(FakeLibc(errno.ENOMEM))  # type: ignore[arg-type]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root drops privileges")
def test_failed_privilege_drop_is_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*ids: int) -> None:
        raise PermissionError(errno.EPERM, "not permitted")

    monkeypatch.setattr(os, "setgroups", lambda groups: None)
    monkeypatch.setattr(os, "setresgid", lambda *ids: None)
    monkeypatch.setattr(os, "setresuid", refuse)
    with pytest.raises(SandboxError, match="cannot become uid 65534"):
        sandbox._drop_privileges()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root drops privileges")
def test_privilege_drop_is_checked_after_the_fact(monkeypatch: pytest.MonkeyPatch) -> None:
    """A platform whose setuid pretends to succeed still leaves root: that is refused too."""
    for name in ("setgroups", "setresgid", "setresuid"):
        monkeypatch.setattr(os, name, lambda *args: None)
    with pytest.raises(SandboxError, match="root privileges remained"):
        sandbox._drop_privileges()
