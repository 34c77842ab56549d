"""The live window really shows a scannable QR: run `airgap show` on a virtual X display and grab it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import cbor2
import numpy as np
import pytest

from airgap.qr.decode import payloads_in_image
from airgap.ur.ur import UR, encode_single

pytestmark = pytest.mark.skipif(
    shutil.which("Xvfb") is None, reason="Xvfb not installed (scripts/setup installs it)"
)


@pytest.fixture
def display() -> Iterator[str]:
    # a display number no other X server holds (the demo's own Xvfb may be running beside the suite)
    number = next(n for n in range(140, 200) if not os.path.exists(f"/tmp/.X{n}-lock"))
    name = f":{number}"
    server = subprocess.Popen(["Xvfb", name, "-screen", "0", "1024x768x24"], stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    try:
        yield name
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_show_window_displays_the_frames(display: str) -> None:
    from PIL import ImageGrab

    message = cbor2.dumps("hello window")
    # on the X display, not the offscreen platform the rest of the suite renders to
    env = {**{k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}, "DISPLAY": display}
    # generous: a slow machine takes a few seconds to start Python and open the window
    argv = [sys.executable, "-m", "airgap.cli", "show", "--type", "x-test", "--seconds", "8"]
    shown = subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert shown.stdin is not None
    shown.stdin.write(message)
    shown.stdin.close()
    try:
        found: list[str] = []
        deadline = time.monotonic() + 7.5
        while not found and time.monotonic() < deadline:
            time.sleep(0.3)
            screen = ImageGrab.grab(xdisplay=display).convert("L")
            found = payloads_in_image(np.asarray(screen))
        assert found == [encode_single(UR("x-test", message)).upper()]
    finally:
        assert shown.wait(timeout=20) == 0
