"""A seeded camera pointed at a screen that plays an animated QR sequence.

It is how the link is tested and measured without hardware. The model, per
camera frame:

1. Time. The display shows frame ``i`` during ``[i, i+1) / display_fps`` and
   loops; the camera samples at ``camera_fps`` from a random join point, each
   exposure lasting ``exposure`` of a camera interval.
2. Loss. Display frames are lost (Bernoulli, plus bursts: a lost frame starts a
   burst with probability ``burst_prob``); a camera frame whose exposure is
   mostly a lost display frame is never delivered.
3. Blending. An exposure that straddles a frame change mixes both frames by
   the time each was on screen.
4. Optics. A perspective warp of the screen into the camera frame (a fixed
   seeded pose plus per-frame hand shake), Gaussian blur, gamma and contrast,
   Gaussian sensor noise, then JPEG compression.

Everything random comes from one ``numpy.random.Generator`` seeded by the
caller, so a run is reproducible to the pixel.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class CameraProfile:
    """A camera, its pose towards the screen, and the screen's frame rate."""

    name: str
    width: int
    height: int
    camera_fps: float
    display_fps: float
    screen_fraction: float = 0.7  # QR frame height as a fraction of the camera frame height
    tilt: float = 0.04  # perspective: max corner displacement, as a fraction of the QR size
    shake: float = 0.004  # per-frame corner jitter, as a fraction of the QR size
    blur_sigma: float = 0.8  # Gaussian blur, camera pixels
    gamma: float = 1.2
    contrast: float = 0.8  # output range used: 255 * contrast, centred
    noise_sigma: float = 4.0  # Gaussian sensor noise, grey levels
    jpeg_quality: int = 80
    loss_rate: float = 0.0  # fraction of display frames never captured (Bernoulli)
    burst_prob: float = 0.0  # probability that a lost frame starts a burst
    burst_len: int = 3  # display frames in a burst
    exposure: float = 0.5  # exposure time as a fraction of the camera frame interval


PROFILES: dict[str, CameraProfile] = {
    p.name: p
    for p in (
        CameraProfile(
            name="720p-webcam",
            width=1280,
            height=720,
            camera_fps=30.0,
            display_fps=10.0,
            screen_fraction=0.75,
            blur_sigma=0.9,
            loss_rate=0.2,
            burst_prob=0.2,
        ),
        CameraProfile(
            name="480p-appliance",
            width=640,
            height=480,
            camera_fps=30.0,
            display_fps=10.0,
            screen_fraction=0.8,
            blur_sigma=1.0,
            noise_sigma=6.0,
            jpeg_quality=70,
            loss_rate=0.1,
            burst_prob=0.1,
        ),
        CameraProfile(
            name="ideal",
            width=1280,
            height=720,
            camera_fps=30.0,
            display_fps=10.0,
            tilt=0.0,
            shake=0.0,
            blur_sigma=0.0,
            gamma=1.0,
            contrast=1.0,
            noise_sigma=0.0,
            jpeg_quality=95,
        ),
    )
}


def lost_display_frames(
    count: int, profile: CameraProfile, rng: np.random.Generator
) -> npt.NDArray[np.bool_]:
    """Which of ``count`` display slots are lost: Bernoulli losses, some growing into bursts."""
    lost = rng.random(count) < profile.loss_rate
    if profile.burst_prob > 0:
        starts = np.flatnonzero(lost & (rng.random(count) < profile.burst_prob))
        for s in starts:
            lost[s : s + profile.burst_len] = True
    return lost


class CameraSimulator:
    """Produces camera frames of a screen looping ``display_frames``."""

    def __init__(self, display_frames: Sequence[Image], profile: CameraProfile, seed: int) -> None:
        if not display_frames:
            raise ValueError("nothing to display")
        self.frames = display_frames
        self.profile = profile
        self.rng = np.random.default_rng(seed)
        self._pose = self._base_pose()

    def _base_pose(self) -> npt.NDArray[np.float32]:
        p = self.profile
        side = p.height * p.screen_fraction
        cx = p.width / 2 + self.rng.uniform(-0.05, 0.05) * p.width
        cy = p.height / 2 + self.rng.uniform(-0.03, 0.03) * p.height
        half = side / 2
        corners = np.array(
            [[cx - half, cy - half], [cx + half, cy - half], [cx + half, cy + half], [cx - half, cy + half]],
            dtype=np.float32,
        )
        corners += self.rng.uniform(-p.tilt, p.tilt, size=(4, 2)).astype(np.float32) * side
        return corners

    def display_slots(self, seconds: float) -> int:
        return math.ceil(seconds * self.profile.display_fps) + 2

    def capture(self, seconds: float) -> Iterator[tuple[float, Image]]:
        """Camera frames for ``seconds`` of wall time after a random join point, with their times."""
        p = self.profile
        n = len(self.frames)
        join = self.rng.uniform(0, n / p.display_fps)
        slots = self.display_slots(seconds + join)
        lost = lost_display_frames(slots, p, self.rng)
        exposure = p.exposure / p.camera_fps
        for k in range(math.floor(seconds * p.camera_fps)):
            t = k / p.camera_fps
            start = (join + t) * p.display_fps
            end = (join + t + exposure) * p.display_fps
            first = math.floor(start)
            weight_first = min(1.0, (first + 1 - start) / max(end - start, 1e-9))
            dominant = first if weight_first >= 0.5 else first + 1
            if lost[dominant]:
                continue
            yield t, self.render(first % n, (first + 1) % n, weight_first)

    def render(self, index_a: int, index_b: int, weight_a: float) -> Image:
        """One camera frame of display frames ``a`` and ``b`` blended by exposure time."""
        p = self.profile
        a = self.frames[index_a]
        screen: Image = a
        if weight_a < 0.999:
            b = self.frames[index_b]
            screen = np.asarray(cv2.addWeighted(a, weight_a, b, 1.0 - weight_a, 0.0), dtype=np.uint8)
        h, w = screen.shape[:2]
        src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
        side = p.height * p.screen_fraction
        jitter = np.asarray(self.rng.normal(0, p.shake * side, size=(4, 2)), dtype=np.float32)
        dst = self._pose + jitter
        matrix = cv2.getPerspectiveTransform(src, dst)
        frame = cv2.warpPerspective(
            screen, matrix, (p.width, p.height), flags=cv2.INTER_LINEAR, borderValue=(40,)
        )
        if p.blur_sigma > 0:
            frame = cv2.GaussianBlur(frame, (0, 0), p.blur_sigma)
        frame = cv2.LUT(frame, self._tone_curve())
        if p.noise_sigma > 0:
            noise = self.rng.standard_normal(size=frame.shape, dtype=np.float32) * np.float32(p.noise_sigma)
            frame = np.clip(frame.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, p.jpeg_quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        decoded = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
        return np.asarray(decoded, dtype=np.uint8)

    def _tone_curve(self) -> Image:
        p = self.profile
        x = np.arange(256, dtype=np.float64) / 255.0
        y = (x**p.gamma) * p.contrast + (1 - p.contrast) / 2
        return np.clip(np.round(y * 255), 0, 255).astype(np.uint8)
