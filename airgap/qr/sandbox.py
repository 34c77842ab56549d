"""Confinement of the QR decoder child: no network, no file writes, no privileges, few syscalls.

The decoder is native code parsing pixels from whoever stands before the
camera. If a bug lets such a frame take over the child, the memory and time
limits of ``airgap.qr.isolated`` do not stop it from reaching a network,
writing into the station's state or calling into the kernel at large. So the
child, once it has imported and warmed up everything decoding needs, enters
this confinement before it says it is ready:

1. standard input, output and error are /dev/null, so it cannot write to
   the operator's terminal or a log (escape sequences, forged lines);
2. a new, empty network namespace when the kernel allows it (root, or
   CAP_SYS_ADMIN); otherwise sockets are left to the filter below;
3. as root, it becomes nobody/nogroup (65534) with no supplementary groups;
4. no new privileges, no core dumps, no file growth (RLIMIT_FSIZE 0), no new
   processes or threads (RLIMIT_NPROC 0 once unprivileged);
5. a seccomp filter on every thread whose default kills the whole process:
   only reading and writing the pipe (and writing /dev/null), memory
   management without executable mappings, futexes and exiting are allowed;
   no open of any kind, so nothing on disk can be read into an answer.

Every step either holds or raises ``SandboxError``: a station never decodes
unconfined because libseccomp or a privilege was missing (fail closed). Only
the network namespace is optional, since the filter already kills socket().
The allowlist was found by tracing the child (strace -f) through warm-up and
decoding, then tightened; docs/link.md says how to repeat that.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import importlib
import os
import resource
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from airgap.errors import SandboxError

#: nobody/nogroup on Debian: owns none of the station's files (its keys' state, logs, the HSM's token).
NOBODY = 65534

_CLONE_NEWNET = 0x40000000
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_DUMPABLE = 4
_PROT_EXEC = 0x4

#: What decoding a frame needs once everything is imported and warmed up (traced, see the module doc).
_ALLOWED = (
    # memory: each frame, the decoder's buffers, the allocator's heap and arenas
    "brk",
    "munmap",
    "mremap",
    "madvise",
    # numpy's BLAS thread spins (sched_yield) for a while after it starts, then sleeps on a futex
    "futex",
    "sched_yield",
    # the clock, where the vDSO cannot serve it
    "clock_gettime",
    # returning from a signal handler; leaving (os._exit, or a thread)
    "rt_sigreturn",
    "exit",
    "exit_group",
)


@dataclass(frozen=True)
class Confinement:
    """What held in the child: reported to the parent with the ready message."""

    network: str  # "namespace": its own empty one; "filter": sockets are killed, no namespace
    uid: int
    gid: int

    def line(self) -> str:
        return f"network={self.network} uid={self.uid} gid={self.gid}"

    @classmethod
    def parse(cls, line: str) -> Confinement:
        """From the child's ready line; anything malformed is refused (the child is not trusted)."""
        fields = {key: value for key, _, value in (item.partition("=") for item in line.split(" "))}
        network, uid, gid = fields.get("network"), fields.get("uid", ""), fields.get("gid", "")
        if set(fields) != {"network", "uid", "gid"} or network not in ("namespace", "filter"):
            raise SandboxError(f"decoder child reported an unknown confinement: {line[:100]!r}")
        if not (uid.isdigit() and gid.isdigit() and len(uid) <= 10 and len(gid) <= 10):
            raise SandboxError(f"decoder child reported an unknown confinement: {line[:100]!r}")
        return cls(network, int(uid), int(gid))


def seccomp_binding() -> ModuleType:
    """libseccomp's Python binding, or ``SandboxError``: without it the decoder must not start."""
    for name in ("seccomp", "pyseccomp"):  # libseccomp's own module, else the ctypes one (same API)
        try:
            return importlib.import_module(name)
        except (ImportError, RuntimeError, OSError):  # pyseccomp raises RuntimeError without libseccomp
            continue
    raise SandboxError(
        "cannot confine the QR decoder: libseccomp or its Python binding (pyseccomp) is missing; "
        "install libseccomp2 (scripts/setup) rather than decode unconfined"
    )


def enter(pipe_fd: int) -> Confinement:
    """Confine this process for good; ``pipe_fd`` is the only descriptor left to read or write
    (besides /dev/null on 1 and 2)."""
    seccomp = seccomp_binding()  # first: nothing is changed if it is missing
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    _silence_stdio()
    network = "namespace" if _unshare_network(libc) else "filter"
    uid, gid = _drop_privileges()
    _limit(libc, unprivileged=uid != 0)
    try:
        syscall_filter(seccomp, pipe_fd, seccomp.KILL_PROCESS).load()
    except OSError as exc:
        raise SandboxError(f"cannot confine the QR decoder: the seccomp filter did not load: {exc}") from exc
    return Confinement(network, uid, gid)


def syscall_filter(seccomp: ModuleType, pipe_fd: int, default: int) -> Any:
    """The allowlist as a libseccomp filter; ``default`` is what any other syscall meets."""
    allow, arg = seccomp.ALLOW, seccomp.Arg
    rules = seccomp.SyscallFilter(default)
    rules.set_attr(seccomp.Attr.CTL_TSYNC, 1)  # every thread, not only this one
    for name in _ALLOWED:
        rules.add_rule(allow, name)
    rules.add_rule(allow, "read", arg(0, seccomp.EQ, pipe_fd))  # the frames
    for fd in (pipe_fd, 1, 2):  # the answers; stdout and stderr are /dev/null by now
        rules.add_rule(allow, "write", arg(0, seccomp.EQ, fd))
    no_exec = seccomp.MASKED_EQ, _PROT_EXEC, 0  # no new executable memory for injected code
    rules.add_rule(allow, "mmap", arg(2, *no_exec))
    rules.add_rule(allow, "mprotect", arg(2, *no_exec))
    return rules


def _silence_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _unshare_network(libc: ctypes.CDLL) -> bool:
    """A new network namespace (only a loopback, down) when permitted; False where it is not."""
    if libc.unshare(_CLONE_NEWNET) == 0:
        return True
    if ctypes.get_errno() in (errno.EPERM, errno.EINVAL, errno.ENOSPC, errno.EUSERS, errno.ENOSYS):
        return False  # no CAP_SYS_ADMIN, or namespaces refused here: the filter still kills socket()
    raise SandboxError(f"cannot confine the QR decoder: unshare: {os.strerror(ctypes.get_errno())}")


def _drop_privileges() -> tuple[int, int]:
    if os.geteuid() != 0 and os.getuid() != 0:
        return os.getuid(), os.getgid()
    try:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    except OSError as exc:
        raise SandboxError(f"cannot confine the QR decoder: cannot become uid {NOBODY}: {exc}") from exc
    if 0 in (*os.getresuid(), *os.getresgid()) or os.getgroups():
        raise SandboxError("cannot confine the QR decoder: root privileges remained after dropping them")
    return os.getuid(), os.getgid()


def _limit(libc: ctypes.CDLL, *, unprivileged: bool) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    if unprivileged:  # root ignores RLIMIT_NPROC; the filter refuses clone and fork either way
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    for option, value in ((_PR_SET_DUMPABLE, 0), (_PR_SET_NO_NEW_PRIVS, 1)):
        # prctl is variadic and its unused arguments must be 0: pass them at full width
        args = (ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
        if libc.prctl(option, *args) != 0:
            reason = os.strerror(ctypes.get_errno())
            raise SandboxError(f"cannot confine the QR decoder: prctl({option}): {reason}")
