"""The camera simulator is deterministic, lossy as configured, and the link survives it."""

from __future__ import annotations

import random

import cbor2
import numpy as np
import pytest

from airgap.camera.simulator import PROFILES, CameraProfile, CameraSimulator, lost_display_frames
from airgap.qr.decode import payloads_in_image
from airgap.qr.render import RenderSettings, render_frames
from airgap.ur.ur import UR, ReceiveStatus, URDecoder, parts_for_message

WEBCAM = PROFILES["720p-webcam"]
APPLIANCE = PROFILES["480p-appliance"]


def display_frames(ur: UR, max_fragment: int, multiple: int = 3) -> list[np.ndarray]:  # type: ignore[type-arg]
    texts = parts_for_message(ur, max_fragment, passes=multiple)
    return render_frames(texts, RenderSettings(module_px=4))


def link(ur: UR, profile: CameraProfile, max_fragment: int, seed: int, seconds: float) -> URDecoder:
    simulator = CameraSimulator(display_frames(ur, max_fragment), profile, seed=seed)
    decoder = URDecoder()
    for _, image in simulator.capture(seconds):
        for text in payloads_in_image(image):
            if decoder.receive(text) is ReceiveStatus.COMPLETE:
                return decoder
    return decoder


def message(length: int, seed: int = 5) -> UR:
    return UR("x-test", cbor2.dumps(random.Random(seed).randbytes(length)))


def test_same_seed_same_pixels() -> None:
    frames = display_frames(message(2000), 400)
    a = [img for _, img in CameraSimulator(frames, WEBCAM, seed=9).capture(1.0)]
    b = [img for _, img in CameraSimulator(frames, WEBCAM, seed=9).capture(1.0)]
    c = [img for _, img in CameraSimulator(frames, WEBCAM, seed=10).capture(1.0)]
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert len(a) != len(c) or not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_loss_rate_and_bursts() -> None:
    rng = np.random.default_rng(1)
    bernoulli = CameraProfile("t", 64, 64, 30, 10, loss_rate=0.2)
    assert 0.18 < lost_display_frames(20_000, bernoulli, rng).mean() < 0.22
    bursty = CameraProfile("t", 64, 64, 30, 10, loss_rate=0.2, burst_prob=0.5, burst_len=4)
    assert lost_display_frames(20_000, bursty, rng).mean() > 0.3


def test_frames_are_dropped_and_join_point_varies() -> None:
    frames = display_frames(message(3000), 300)
    sim = CameraSimulator(frames, WEBCAM, seed=1)
    captured = list(sim.capture(3.0))
    assert len(captured) < 3.0 * WEBCAM.camera_fps  # some display frames were lost
    first_texts = set()
    for seed in range(6):
        _, image = next(iter(CameraSimulator(frames, PROFILES["ideal"], seed=seed).capture(1.0)))
        first_texts.update(payloads_in_image(image))
    assert len(first_texts) > 1


def test_exposure_straddling_a_change_blends_frames() -> None:
    black = np.zeros((64, 64), np.uint8)
    white = np.full((64, 64), 255, np.uint8)
    ideal = PROFILES["ideal"]
    sim = CameraSimulator([black, white], ideal, seed=1)
    mid = sim.render(0, 1, 0.5)
    centre = mid[ideal.height // 2, ideal.width // 2]
    assert 100 < centre < 155


@pytest.mark.parametrize(
    ("length", "max_fragment"),
    [(1, 800), (800, 800), (1600, 800), (10_000, 800)],
    ids=["1B", "one-fragment-boundary", "two-fragment-boundary", "10KB"],
)
def test_round_trip_through_the_simulator(length: int, max_fragment: int) -> None:
    # CBOR wraps the payload in a 3-byte header; aim the boundary cases at the CBOR length.
    payload_len = max(1, length - 3) if length > 23 else length
    ur = message(payload_len)
    decoder = link(ur, WEBCAM, max_fragment, seed=length, seconds=60)
    assert decoder.result == ur


def test_round_trip_on_the_appliance_camera() -> None:
    ur = message(3000)
    assert link(ur, APPLIANCE, 800, seed=2, seconds=60).result == ur


@pytest.mark.slow
def test_round_trip_100kb() -> None:
    ur = message(100_000)
    assert link(ur, WEBCAM, 800, seed=3, seconds=120).result == ur
