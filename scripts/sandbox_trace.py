#!/usr/bin/env python3
"""Which syscalls the confined decoder child makes: how airgap/qr/sandbox.py's allowlist was found.

Runs the isolated decoder with every confinement step but one change: the
seccomp filter's default is LOG instead of killing, so nothing is refused.
Under strace, everything the child calls after its seccomp() is what decoding
needs. Feeds each decoder (zxing, pyzbar, OpenCV) camera frames from both simulator
profiles, a blank frame, noise, a tiled frame of several codes and a 4K frame.

Run (root, as the station runs):
  strace -f -qq -o /tmp/trace .venv/bin/python scripts/sandbox_trace.py
  .venv/bin/python scripts/sandbox_trace.py --report /tmp/trace
The report lists each syscall made after the filter was loaded, with counts.
"""

from __future__ import annotations

import argparse
import collections
import re
import secrets
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from airgap.camera.simulator import PROFILES, CameraSimulator
from airgap.link_defaults import DEFAULT_MAX_FRAGMENT
from airgap.qr import sandbox
from airgap.qr.decode import FrameDecoder
from airgap.qr.isolated import IsolatedDecoder
from airgap.qr.render import Image, animation_frames
from airgap.ur.ur import UR


def permissive_enter(pipe_fd: int) -> sandbox.Confinement:
    """``sandbox.enter`` with a LOG default (libseccomp refuses ALLOW rules under ALLOW)."""
    original = sandbox.syscall_filter

    def logging(seccomp: ModuleType, pipe_fd: int, default: int) -> Any:
        return original(seccomp, pipe_fd, seccomp.LOG)

    sandbox.syscall_filter = logging
    return sandbox.enter(pipe_fd)


def frames() -> list[Image]:
    shown = animation_frames(UR("bytes", secrets.token_bytes(3000)), DEFAULT_MAX_FRAGMENT)
    images = [img for name in PROFILES for _, img in CameraSimulator(shown, PROFILES[name], 1).capture(1.0)]
    rng = np.random.default_rng(1)
    images.append(np.full((720, 1280), 255, np.uint8))
    images.append(rng.integers(0, 256, (480, 640), dtype=np.uint8))
    images.append(np.tile(shown[0], (2, 3)))
    images.append(np.pad(shown[0], ((0, 2160 - shown[0].shape[0]), (0, 3840 - shown[0].shape[1]))))
    return images


def report(trace: Path) -> None:
    """Syscalls each process made after its filter was loaded (the seccomp() call that returned 0)."""
    confined: set[str] = set()
    counts: collections.Counter[str] = collections.Counter()
    for line in trace.read_text().splitlines():
        match = re.match(r"(\d+)\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
        if not match:
            continue
        pid, name = match.groups()
        if pid in confined:
            counts[name] += 1
        elif name == "seccomp" and "SET_MODE_FILTER" in line and line.endswith("= 0"):
            confined.add(pid)
    for name, count in sorted(counts.items()):
        print(f"{name:20} {count}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--report", type=Path, help="summarise an strace -f log instead of running")
    args = parser.parse_args()
    if args.report:
        report(args.report)
        return 0
    images = frames()
    for decoder in FrameDecoder:
        isolated = IsolatedDecoder(decoder)
        isolated._confine = permissive_enter  # the point of this script
        with isolated:
            found = sum(bool(isolated(image)) for image in images)
            print(f"{decoder}: {found} of {len(images)} frames decoded; {isolated.confinement}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
