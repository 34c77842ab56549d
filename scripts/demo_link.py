#!/usr/bin/env python3
"""The demo: a message crosses the air gap both ways through simulated cameras.

Until the HSM and ceremony issues land, the demo exercises what exists: the
link. A sample request (CBOR) is rendered as animated QR frames on the "host"
screen, captured by a simulated 480p appliance camera and reassembled; a
sample response and a 40 KB sample audit export go back the other way
through a simulated 720p webcam.
Every artefact lands under --out. Exit code 0 only when every crossing
reproduce their message byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cbor2

from airgap.camera.frames import Frame
from airgap.camera.simulator import PROFILES, CameraSimulator
from airgap.link_defaults import (
    DEFAULT_FPS,
    DEFAULT_MAX_FRAGMENT,
    WEBCAM_MAX_FRAGMENT,
)
from airgap.qr.render import animation_frames
from airgap.qr.sinks import write_gif, write_png_folder
from airgap.scan import scan
from airgap.ur.ur import UR, URDecoder, UREncoder


def sample_request() -> bytes:
    """A stand-in payload shaped like a spend request (the real schema arrives with issue 4)."""
    return cbor2.dumps(
        {
            "version": 1,
            "request_id": bytes.fromhex("5f1c0ffee0ddba11c0ffee0ddba11c0f"),
            "vault": "cold-vault",
            "action": "withdraw",
            "asset": "XCH",
            "amount": 125_000_000_000,
            "destination": "xch1qqqq" + "9" * 54,
            "created_at": 1_795_000_000,
            "expires_at": 1_795_003_600,
            "memo": "quarterly treasury rebalance; " * 30,
        },
        canonical=True,
    )


def sample_response(request: bytes) -> bytes:
    return cbor2.dumps(
        {"version": 1, "request_digest": hashlib.sha256(request).digest(), "signature": bytes(64), "seq": 42},
        canonical=True,
    )


def sample_export() -> bytes:
    """A stand-in for a station's audit-log export: 200 hash-chained entries, about 40 KB."""
    entries = []
    head = bytes(32)
    for seq in range(200):
        body = {
            "seq": seq,
            "at": 1_795_000_000 + 60 * seq,
            "event": "signature",
            "prev": head,
            "note": "x" * 100,
        }
        head = hashlib.sha256(cbor2.dumps(body, canonical=True)).digest()
        entries.append({**body, "head": head})
    return cbor2.dumps({"version": 1, "station": "station-2", "entries": entries}, canonical=True)


def cross(label: str, ur: UR, profile_name: str, max_fragment: int, out: Path, seed: int) -> bool:
    print(f"\n== {label}: {len(ur.cbor)} bytes as ur:{ur.type}")
    t0 = time.perf_counter()
    frames = animation_frames(ur, max_fragment)
    t1 = time.perf_counter()
    seq_len = UREncoder(ur, max_fragment).seq_len
    kind = "single-part" if seq_len == 1 else f"{seq_len} fixed-rate, then fountain"
    print(
        f"   render   {len(frames)} frames ({kind}), "
        f"{frames[0].shape[1]}x{frames[0].shape[0]} px, {(t1 - t0) * 1000:.0f} ms"
    )
    write_png_folder(frames, out / f"{label}-display")
    write_gif(frames, out / f"{label}.gif", DEFAULT_FPS)
    profile = PROFILES[profile_name]
    simulator = CameraSimulator(frames, profile, seed=seed)
    seen: list[Frame] = []
    clock = [0.0]

    def camera() -> Iterator[Frame]:
        for i, (t, image) in enumerate(simulator.capture(60.0)):
            seen.append(Frame(i, image=image))
            clock[0] = t + 1 / profile.camera_fps
            yield seen[-1]

    result = scan(camera(), URDecoder(expected_types=frozenset({ur.type})))
    t2 = time.perf_counter()
    display_s = clock[0]
    print(
        f"   scan     {profile_name} camera (simulated): {result.stats.frames_read} frames read, "
        f"{result.stats.frames_decoded} decoded, {result.stats.parts_used} parts used; "
        f"{display_s:.1f} s of display time ({len(ur.cbor) / 1000 / display_s:.1f} KB/s), "
        f"{(t2 - t1) * 1000:.0f} ms machine time"
    )
    write_png_folder([f.image for f in seen if f.image is not None], out / f"{label}-camera")
    ok = result.ur == ur
    print(f"   result   {'identical, byte for byte' if ok else 'MISMATCH OR INCOMPLETE'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for frames, GIFs and camera captures")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    request = sample_request()
    (args.out / "request.cbor").write_bytes(request)
    # Host screen -> station camera: the density the weaker camera reads.
    ok = cross(
        "request", UR("x-spend-request", request), "480p-appliance", DEFAULT_MAX_FRAGMENT, args.out, args.seed
    )
    response = sample_response(request)
    (args.out / "response.cbor").write_bytes(response)
    # Station screen -> host webcam: denser frames, as a 720p webcam reads them.
    ok &= cross(
        "response",
        UR("x-signature-response", response),
        "720p-webcam",
        WEBCAM_MAX_FRAGMENT,
        args.out,
        args.seed + 1,
    )
    export = sample_export()
    (args.out / "export.cbor").write_bytes(export)
    ok &= cross(
        "export", UR("x-audit-export", export), "720p-webcam", WEBCAM_MAX_FRAGMENT, args.out, args.seed + 2
    )
    verdict = "OK" if ok else "FAILED"
    print(f"\n{verdict}: demo finished in {time.perf_counter() - start:.1f} s; artefacts in {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
