"""The demo's camera films long enough for the fountain code to finish every hand-over.

Regression: filming one loop of the animation and a second more lost, about one
seed in fifty, a frame that a 12-frame audit export could not make up for, so a
clean-clone demo failed at "no complete audit export was read". Seed 24 below is
such a seed; the demo now films two loops (``demo_steps.film_seconds``).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import cbor2
import pytest

from airgap.camera.frames import ImageFolderSource
from airgap.camera.simulator import PROFILES, CameraSimulator
from airgap.link_defaults import DEFAULT_FPS, DEFAULT_MAX_FRAGMENT
from airgap.qr.render import animation_frames
from airgap.qr.sinks import write_png_folder
from airgap.scan import scan
from airgap.ur.ur import UR, URDecoder

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import demo_steps  # scripts, found through the path above

pytestmark = pytest.mark.slow

UNLUCKY_SEED = 24  # one loop of this 12-frame message misses what the decoder needs


def _decodes(frames: list, seconds: float, folder: Path) -> bool:
    camera = CameraSimulator(frames, PROFILES["720p-webcam"], UNLUCKY_SEED)
    captured = [image for _, image in camera.capture(seconds)]
    write_png_folder(captured, folder)
    return scan(ImageFolderSource(folder).frames(), URDecoder()).ur is not None


def test_demo_camera_films_long_enough_for_an_unlucky_twelve_frame_export(tmp_path: Path) -> None:
    message = cbor2.dumps(random.Random(7).randbytes(3600))
    frames = animation_frames(UR("x-test", message), DEFAULT_MAX_FRAGMENT)
    assert len(frames) == 12
    assert not _decodes(frames, 1.0 + len(frames) / DEFAULT_FPS, tmp_path / "one-loop")
    assert _decodes(frames, demo_steps.film_seconds(len(frames)), tmp_path / "two-loops")
