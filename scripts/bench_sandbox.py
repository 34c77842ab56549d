#!/usr/bin/env python3
"""Sandbox benchmark: what confining the decoder child costs per camera frame, and per start.

Decodes the same simulated camera frames (a 10 KB message at the link's
defaults, both simulator profiles) three ways: in this process; through the
isolated child with only its memory limit (as before issue 17); and
through the confined child (network namespace, nobody's uid, seccomp
allowlist). Each frame is timed from the caller's side, the copy through the
pipe included; the three take turns on each frame, so all see the same load.
Also times a child's start (spawn, imports, warm-up, confinement) to its
ready message. Prints a markdown table (quoted in docs/benchmarks.md).
Run: .venv/bin/python scripts/bench_sandbox.py [--frames N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

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


def per_frame(ways: list[Callable[[Image], object]], images: list[Image]) -> list[list[float]]:
    """Milliseconds per frame for each way, taken in turn on each frame so all see the same load."""
    samples: list[list[float]] = [[] for _ in ways]
    for way in ways:
        way(images[0])  # not counted: a first call's one-off costs
    for image in images:
        for way, times in zip(ways, samples, strict=True):
            start = time.perf_counter()
            way(image)
            times.append((time.perf_counter() - start) * 1000)
    return samples


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
    print("| profile | decoding | frames | median ms | p95 ms |")
    print("|---|---|---|---|---|")
    for name in PROFILE_NAMES:
        images = [img for _, img in CameraSimulator(shown, PROFILES[name], 1).capture(60.0)][: args.frames]
        plain = IsolatedDecoder()
        plain._confine = unconfined  # the comparison only; never done outside this script
        rows: list[tuple[str, Callable[[Image], object]]] = [("in process", located_payloads)]
        with plain, IsolatedDecoder() as confined:
            assert confined.confinement is not None
            rows += [
                ("child, unconfined (memory limit only)", plain.located),
                (f"child, confined ({confined.confinement.network})", confined.located),
            ]
            labels, ways = zip(*rows, strict=True)
            for label, samples in zip(labels, per_frame(list(ways), images), strict=True):
                median = statistics.median(samples)
                print(f"| {name} | {label} | {len(samples)} | {median:.2f} | {p95(samples):.2f} |")
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
            f"{max(starts):.0f} (worst) |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
