#!/usr/bin/env python3
"""Link benchmark: effective throughput through the camera simulator, and per-frame costs.

Prints markdown tables (quoted in docs/benchmarks.md):

1. render: ms per frame for each backend, by QR version;
2. decode: ms per camera frame and the share of frames decoded, for each
   decoder on each simulator profile;
3. sweep: effective KB/s for a 10 KB message by fragment size and display
   rate, which is how the defaults in airgap/link_defaults.py were chosen;
4. throughput: effective KB/s for 1 KB, 10 KB and 100 KB messages at the
   defaults, median and worst over several seeds.

"Effective" means message bytes divided by display time from the camera's
random join point until the message is whole. Run: .venv/bin/python scripts/bench_link.py
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

import cbor2

from airgap.camera.simulator import PROFILES, CameraProfile, CameraSimulator
from airgap.link_defaults import (
    DEFAULT_FPS,
    DEFAULT_MAX_FRAGMENT,
    DEFAULT_MODULE_PX,
    WEBCAM_MAX_FRAGMENT,
)
from airgap.qr.decode import FrameDecoder, payloads_in_image
from airgap.qr.isolated import IsolatedDecoder
from airgap.qr.render import (
    Image,
    RenderBackend,
    RenderSettings,
    animation_frames,
    qr_matrix,
    render_frames,
    version_of,
)
from airgap.ur.fountain import FountainDecoder, FountainEncoder, PartStatus, choose_fragments
from airgap.ur.ur import UR, ReceiveStatus, URDecoder, UREncoder

BENCH_PROFILES = ("720p-webcam", "480p-appliance")


def message(length: int, seed: int = 1) -> UR:
    # Random bytes wrapped as a CBOR byte string; the UR carries len(cbor) bytes.
    payload_len = length - 3 if length > 255 else max(1, length - 2)
    return UR("x-bench", cbor2.dumps(random.Random(seed).randbytes(payload_len)))


def per_call_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1000


def display_frames(ur: UR, max_fragment: int, module_px: int) -> list[Image]:
    return animation_frames(ur, max_fragment, module_px=module_px)


def run_link(
    ur: UR,
    profile: CameraProfile,
    max_fragment: int,
    seed: int,
    decoder: FrameDecoder = FrameDecoder.ZXING,
    module_px: int = DEFAULT_MODULE_PX,
    max_seconds: float = 120.0,
    frames: Sequence[Image] | None = None,
) -> tuple[float | None, int, int, float]:
    """(display seconds to completion or None, camera frames, decoded frames, decode ms per frame)."""
    frames = frames if frames is not None else display_frames(ur, max_fragment, module_px)
    simulator = CameraSimulator(frames, profile, seed=seed)
    receiver = URDecoder()
    captured = decoded = 0
    decode_time = 0.0
    for t, image in simulator.capture(max_seconds):
        captured += 1
        start = time.perf_counter()
        texts = payloads_in_image(image, decoder)
        decode_time += time.perf_counter() - start
        decoded += bool(texts)
        for text in texts:
            if receiver.receive(text) is ReceiveStatus.COMPLETE:
                return t + 1 / profile.camera_fps, captured, decoded, decode_time / captured * 1000
    return None, captured, decoded, decode_time / max(captured, 1) * 1000


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def bench_render(repeat: int) -> str:
    rows = []
    for fragment in (100, 400, 800, 1000, 1200, 1500):
        text = UREncoder(message(20_000), fragment).next_part()
        settings = RenderSettings(module_px=DEFAULT_MODULE_PX)
        version = version_of(qr_matrix(text))
        zx = per_call_ms(partial(render_frames, [text], settings), repeat)
        ref_settings = replace(settings, backend=RenderBackend.QRCODE)
        qr = per_call_ms(partial(render_frames, [text], ref_settings), max(3, repeat // 10))
        rows.append((fragment, len(text), version, f"{zx:.2f}", f"{qr:.1f}"))
    return table(["fragment B", "UR chars", "QR version", "zxing-cpp ms", "python-qrcode ms"], rows)


def bench_decoders(seeds: int) -> str:
    rows = []
    ur = message(10_000)
    for name in BENCH_PROFILES:
        profile = PROFILES[name]
        frames = display_frames(ur, DEFAULT_MAX_FRAGMENT, DEFAULT_MODULE_PX)
        images = [
            img for seed in range(seeds) for _, img in CameraSimulator(frames, profile, seed).capture(2.0)
        ]
        for decoder in FrameDecoder:
            start = time.perf_counter()
            hits = sum(bool(payloads_in_image(img, decoder)) for img in images)
            ms = (time.perf_counter() - start) / len(images) * 1000
            rows.append((name, decoder.value, len(images), f"{hits / len(images):.0%}", f"{ms:.2f}"))
        with IsolatedDecoder(FrameDecoder.ZXING) as isolated:
            isolated(images[0])  # the child's imports are a one-off start-up cost, not a per-frame one
            start = time.perf_counter()
            hits = sum(bool(isolated(img)) for img in images)
            ms = (time.perf_counter() - start) / len(images) * 1000
        rows.append((name, "zxing, isolated child", len(images), f"{hits / len(images):.0%}", f"{ms:.2f}"))
    return table(["profile", "decoder", "frames", "decoded", "ms/frame"], rows)


def bench_sweep(seeds: int, fragments: Sequence[int], rates: Sequence[float]) -> str:
    rows = []
    ur = message(10_000)
    for name in BENCH_PROFILES:
        for fps in rates:
            profile = replace(PROFILES[name], display_fps=fps)
            for fragment in fragments:
                frames = display_frames(ur, fragment, DEFAULT_MODULE_PX)
                results = [
                    run_link(ur, profile, fragment, seed, frames=frames, max_seconds=20.0)
                    for seed in range(seeds)
                ]
                rates_kbs = [len(ur.cbor) / 1000 / r[0] if r[0] else 0.0 for r in results]
                hit = sum(r[2] for r in results) / max(1, sum(r[1] for r in results))
                version = version_of(qr_matrix(UREncoder(ur, fragment).next_part()))
                rows.append(
                    (
                        name,
                        f"{fps:g}",
                        fragment,
                        version,
                        f"{hit:.0%}",
                        f"{statistics.median(rates_kbs):.1f}",
                        f"{min(rates_kbs):.1f}",
                    )
                )
    return table(
        ["profile", "fps", "fragment B", "QR version", "frames decoded", "KB/s median", "KB/s worst"], rows
    )


def bench_throughput(seeds: int, sizes: Sequence[int]) -> str:
    rows = []
    configs = [(name, DEFAULT_MAX_FRAGMENT) for name in BENCH_PROFILES] + [
        ("720p-webcam", WEBCAM_MAX_FRAGMENT)
    ]
    for name, fragment in configs:
        profile = replace(PROFILES[name], display_fps=DEFAULT_FPS)
        for size in sizes:
            ur = message(size)
            frames = display_frames(ur, fragment, DEFAULT_MODULE_PX)
            results = [run_link(ur, profile, fragment, seed, frames=frames) for seed in range(seeds)]
            secs = [r[0] if r[0] is not None else float("inf") for r in results]
            kbs = [len(ur.cbor) / 1000 / s for s in secs]
            decode_ms = statistics.mean(r[3] for r in results)
            rows.append(
                (
                    name,
                    fragment,
                    f"{size // 1000 or size} {'KB' if size >= 1000 else 'B'}",
                    f"{statistics.median(secs):.2f}",
                    f"{max(secs):.2f}",
                    f"{statistics.median(kbs):.1f}",
                    f"{min(kbs):.1f}",
                    f"{decode_ms:.2f}",
                )
            )
    headers = [
        "profile",
        "fragment B",
        "message",
        "s median",
        "s worst",
        "KB/s median",
        "KB/s worst",
        "decode ms",
    ]
    return table(headers, rows)


def peeling_parts_needed(seq_len: int, checksum: int, order: Sequence[int]) -> int:
    """Parts received until the reference (peeling-only) decoder completes; fragment sets only."""
    simple: set[int] = set()
    mixed: set[frozenset[int]] = set()
    for count, seq_num in enumerate(order, start=1):
        queue = [choose_fragments(seq_num, seq_len, checksum)]
        while queue:
            part = queue.pop()
            if len(part) == 1:
                if part <= simple:
                    continue
                simple |= part
                for held in [m for m in mixed if part < m]:
                    mixed.discard(held)
                    queue.append(held - part)
                continue
            part = part - simple
            for held in list(mixed):
                if held < part:
                    part = part - held
            if len(part) == 1:
                queue.append(part)
            elif part and part not in mixed:
                for held in [m for m in mixed if part < m]:
                    mixed.discard(held)
                    queue.append(held - part)
                mixed.add(part)
        if len(simple) == seq_len:
            return count
    return len(order) + 1


def bench_fountain(seeds: int, loss: float = 0.28) -> str:
    """Parts received per fragment until complete, for a looping 3-pass animation with loss."""
    rows = []
    for seq_len in (10, 30, 100, 300):
        ours, reference = [], []
        for seed in range(seeds):
            rng = random.Random(seed)
            data = rng.randbytes(seq_len * 20)
            encoder = FountainEncoder(data, 20)
            loop = 3 * seq_len
            start = rng.randrange(loop)
            order = [(start + i) % loop + 1 for i in range(20 * loop) if rng.random() >= loss]
            reference.append(peeling_parts_needed(seq_len, encoder.checksum, order) / seq_len)
            decoder = FountainDecoder(max_message_len=len(data), max_seq_len=seq_len)
            for count, seq_num in enumerate(order, start=1):
                if decoder.receive(encoder.part_at(seq_num)) is PartStatus.COMPLETE:
                    ours.append(count / seq_len)
                    break
        rows.append(
            (
                seq_len,
                f"{statistics.median(reference):.2f}",
                f"{max(reference):.2f}",
                f"{statistics.median(ours):.2f}",
                f"{max(ours):.2f}",
            )
        )
    return table(
        ["fragments", "peeling median", "peeling worst", "elimination median", "elimination worst"], rows
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seeds", type=int, default=5, help="simulator seeds per cell (worst case over them)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer seeds and no sweep, for a smoke run")
    parser.add_argument(
        "--only", choices=["render", "decoders", "fountain", "sweep", "throughput"], action="append"
    )
    args = parser.parse_args()
    seeds = 2 if args.quick else args.seeds
    parts = args.only or (
        ["render", "decoders", "throughput"] if args.quick else ["render", "decoders", "sweep", "throughput"]
    )
    print(
        f"defaults: max fragment {DEFAULT_MAX_FRAGMENT} B, {DEFAULT_FPS:g} fps, "
        f"{DEFAULT_MODULE_PX} px/module; "
        f"seeds per cell: {seeds}\n"
    )
    if "render" in parts:
        print("### Render, ms per frame (pre-rendering, incl. scaling to pixels)\n")
        print(bench_render(repeat=30 if args.quick else 100) + "\n")
    if "decoders" in parts:
        print("### Decode, per camera frame (10 KB message at the defaults)\n")
        print(bench_decoders(seeds) + "\n")
    if "fountain" in parts:
        print("### Fountain decoding: parts received per fragment until complete (28% loss, 3-pass loop)\n")
        print(bench_fountain(seeds=4 * seeds) + "\n")
    if "sweep" in parts:
        print("### Sweep: 10 KB message, effective KB/s by fragment size and display rate\n")
        print(bench_sweep(seeds, (400, 600, 800, 1000, 1200, 1500, 1800), (5.0, 8.0, 10.0, 15.0)) + "\n")
    if "throughput" in parts:
        print(f"### Effective throughput at {DEFAULT_FPS:g} fps (median and worst over seeds)\n")
        print(bench_throughput(seeds, (1000, 10_000, 100_000)) + "\n")


if __name__ == "__main__":
    main()
