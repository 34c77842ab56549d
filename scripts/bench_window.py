#!/usr/bin/env python3
"""Window benchmark: what drawing costs per camera frame and per answer, on Qt's offscreen platform.

The station window draws every camera frame it decodes (the preview, with the
found code outlined) and keeps itself live between frames; the answer screen
renders the whole animation when it opens and again when the density key is
pressed. This measures those costs next to the decoding they accompany, so
the window's share of a sitting is known. Prints a markdown table (quoted in
docs/benchmarks.md). Run: .venv/bin/python scripts/bench_window.py [--count N]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_chia import timed  # scripts, found through the path above
from PySide6.QtWidgets import QApplication

from airgap.camera.simulator import PROFILES, CameraSimulator
from airgap.link_defaults import DEFAULT_MAX_FRAGMENT
from airgap.qr.decode import Quad, located_payloads
from airgap.qr.render import Image, animation_frames
from airgap.ur.ur import UR
from airgap.window.app import qt_app
from airgap.window.preview import CameraPreview
from airgap.window.qr_view import AnimatedQr


def draw(app: QApplication, preview: CameraPreview, image: Image, quads: list[Quad]) -> None:
    preview.show_frame(image, quads)
    app.processEvents()


def next_frame(app: QApplication, view: AnimatedQr) -> None:
    view.advance()
    app.processEvents()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=30, help="samples per row (default 30)")
    args = parser.parse_args()
    app = qt_app()
    print("| what | median ms | worst ms |")
    print("|---|---|---|")
    for profile in ("480p-appliance", "720p-webcam"):
        shown = animation_frames(UR("bytes", secrets.token_bytes(900)), DEFAULT_MAX_FRAGMENT)
        frames = [img for _, img in CameraSimulator(shown, PROFILES[profile], 1).capture(1.0)]
        image = frames[len(frames) // 2]
        _, quads = located_payloads(image)
        preview = CameraPreview()
        preview.resize(760, 560)
        preview.show()
        draw(app, preview, image, quads)  # the first paint sets Qt up; not counted
        median, worst = timed(partial(located_payloads, image), args.count)
        print(f"| {profile}: decode one frame in process (for scale) | {median:.2f} | {worst:.2f} |")
        median, worst = timed(partial(draw, app, preview, image, quads), args.count)
        print(
            f"| {profile}: draw it in the preview, outlined, and let Qt paint | {median:.2f} | {worst:.2f} |"
        )
    view = AnimatedQr(density=1500)
    view.resize(1200, 700)
    view.show()
    for size in (200, 10_000, 45_000):
        message = UR("bytes", secrets.token_bytes(size))
        median, worst = timed(partial(view.show_message, message), max(3, args.count // 5))
        view.stop()
        print(
            f"| answer screen: render a {size:,}-byte answer ({len(view.frames)} frames at 1500 B) "
            f"| {median:.1f} | {worst:.1f} |"
        )
    median, worst = timed(partial(next_frame, app, view), args.count)
    print(f"| answer screen: show the next frame | {median:.2f} | {worst:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
