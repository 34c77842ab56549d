#!/usr/bin/env python3
"""Sandbox benchmark: what confining the decoder child costs per camera frame, and per start.

Decodes the same simulated camera frames (a 10 KB message at the link's
defaults, both simulator profiles) three ways: in this process; through the
isolated child with only its memory limit (as before issue 17); and
through the confined child (network namespace, nobody's uid, seccomp
allowlist). Each frame is timed from the caller's side, the copy through the
pipe included; the three take turns on each frame, so all see the same load.
The CPU column adds this process's time and the child's (from /proc): the
cost a loaded machine's wall times hide. Also times a child's start (spawn,
imports, warm-up, confinement) to its ready message. Prints a markdown table (quoted in docs/benchmarks.md).
Run: .venv/bin/python scripts/bench_sandbox.py [--frames N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from airgap.camera.simulator import PROFILES, CameraSimulator
from airgap.link_defaults import DEFAULT_MAX_FRAGMENT, DEFAULT_MODULE_PX
from airgap.qr.decode import located_payloads
from airgap.qr.isolated import IsolatedDecoder
from airgap.qr.render import Image, animation_frames
from airgap.qr.sandbox import Confinement
from airgap.ur.ur import UR

PROFILE_NAMES = ("720p-webcam", "480p-appliance")


def unconfined(pipe_fd: int) -> Confinement:
    """The child without its confinement: memory and time limits only (for comparison)."""
    return Confinement("filter", 0, 0)


class Way:
    """One way of decoding, with its wall time per frame and the CPU time it spent in all."""

    def __init__(self, label: str, locate: Callable[[Image], object], child_pid: int | None = None) -> None:
        self.label, self.locate, self.child_pid = label, locate, child_pid
        self.wall: list[float] = []
        self.cpu = 0.0  # ms: this process's thread, plus the child's whole process

    def child_cpu(self) -> float:
        if self.child_pid is None:
            return 0.0
        fields = Path(f"/proc/{self.child_pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") * 1000  # utime + stime


def per_frame(ways: list[Way], images: list[Image]) -> None:
    """Each way decodes each frame in turn, so all see the same load from the rest of the machine."""
    for way in ways:
        way.locate(images[0])  # not counted: a first call's one-off costs
        way.cpu = -way.child_cpu()
    for image in images:
        for way in ways:
            start, cpu = time.perf_counter(), time.thread_time()
            way.locate(image)
            way.wall.append((time.perf_counter() - start) * 1000)
            way.cpu += (time.thread_time() - cpu) * 1000
    for way in ways:
        way.cpu += way.child_cpu()


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=60, help="camera frames per profile (default 60)")
    parser.add_argument("--starts", type=int, default=3, help="child starts to time (default 3)")
    args = parser.parse_args()
    shown = animation_frames(
        UR("bytes", random.Random(1).randbytes(10_000)), DEFAULT_MAX_FRAGMENT, module_px=DEFAULT_MODULE_PX
    )
    print("| profile | decoding | frames | median ms | p95 ms | CPU ms a frame (mean) |")
    print("|---|---|---|---|---|---|")
    for name in PROFILE_NAMES:
        images = [img for _, img in CameraSimulator(shown, PROFILES[name], 1).capture(60.0)][: args.frames]
        plain = IsolatedDecoder()
        plain._confine = unconfined  # the comparison only; never done outside this script
        with plain, IsolatedDecoder() as confined:
            assert confined.confinement is not None
            ways = [
                Way("in process", located_payloads),
                Way("child, unconfined (memory limit only)", plain.located, plain._process.pid),
                Way(
                    f"child, confined ({confined.confinement.network})",
                    confined.located,
                    confined._process.pid,
                ),
            ]
            per_frame(ways, images)
        for way in ways:
            median, cpu = statistics.median(way.wall), way.cpu / len(images)
            print(
                f"| {name} | {way.label} | {len(images)} | {median:.2f} | {p95(way.wall):.2f} | {cpu:.2f} |"
            )
    for label, confine in (("memory limit only", unconfined), ("confined", None)):
        starts = []
        for _ in range(args.starts):
            decoder = IsolatedDecoder()
            if confine is not None:
                decoder._confine = confine
            start = time.perf_counter()
            with decoder:
                starts.append((time.perf_counter() - start) * 1000)
        print(
            f"| start to ready | child, {label} | {len(starts)} | {statistics.median(starts):.0f} | "
            f"{max(starts):.0f} (worst) | |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
