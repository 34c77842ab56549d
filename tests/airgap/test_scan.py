"""The scan loop stops the moment the message completes, honours its timeout, and counts."""

from __future__ import annotations

from collections.abc import Iterator

import cbor2
import numpy as np
import pytest

from airgap.camera.frames import Frame
from airgap.qr.render import RenderSettings, render_frames
from airgap.scan import ProgressBar, scan
from airgap.ur.ur import UR, URDecoder, UREncoder

UR_MSG = UR("x-test", cbor2.dumps(bytes(range(256)) * 8))


def image_frames(count: int) -> list[Frame]:
    encoder = UREncoder(UR_MSG, 300)
    images = render_frames([encoder.next_part() for _ in range(count)], RenderSettings(module_px=3))
    return [Frame(i, image=img) for i, img in enumerate(images)]


def test_stops_as_soon_as_complete() -> None:
    frames = image_frames(30)
    consumed = []

    def source() -> Iterator[Frame]:
        for f in frames:
            consumed.append(f.index)
            yield f

    result = scan(source(), URDecoder())
    assert result.ur == UR_MSG
    seq_len = UREncoder(UR_MSG, 300).seq_len
    assert len(consumed) == seq_len  # pure parts first: done after exactly seq_len frames
    assert result.stats.frames_read == seq_len and result.stats.complete


def test_noise_unreadable_and_text_frames_are_counted() -> None:
    frames = [
        Frame(0, unreadable=True),
        Frame(1, image=np.full((100, 100), 255, np.uint8)),
        Frame(2, image=np.zeros((5, 5), np.uint8)),
        Frame(3, text="not a ur"),
        *image_frames(30),
    ]
    result = scan(frames, URDecoder())
    assert result.ur == UR_MSG
    assert result.stats.frames_unreadable == 2
    assert result.stats.frames_read >= 4


def test_timeout_uses_the_injected_clock() -> None:
    ticks = iter(range(1000))
    frames = image_frames(2)  # not enough to finish
    result = scan(frames * 50, URDecoder(), timeout=5, clock=lambda: float(next(ticks)))
    assert result.ur is None and result.timed_out
    assert result.stats.frames_read == 5


def test_progress_callback_and_stats_json() -> None:
    seen: list[float] = []
    result = scan(image_frames(30), URDecoder(), on_progress=lambda p: seen.append(p.fraction))
    assert seen[-1] == 1.0 and seen == sorted(seen)
    line = result.stats.to_json()
    for key in ("frames_read", "frames_decoded", "parts_used", "seconds"):
        assert f'"{key}"' in line


def test_progress_bar_silent_off_terminal() -> None:
    import io

    stream = io.StringIO()
    bar = ProgressBar(stream)
    assert not bar.enabled
    result = scan(image_frames(30), URDecoder(), on_progress=bar)
    bar.finish()
    assert result.ur == UR_MSG and stream.getvalue() == ""


def test_progress_bar_on_a_terminal_shows_the_decoder_then_erases(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawn with the decoder's own description; gone once the message is whole; finish() is idempotent."""
    from tests.airgap.test_progress import FakeTty

    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.delenv("TTY_INTERACTIVE", raising=False)
    stream = FakeTty()
    bar = ProgressBar(stream)
    assert bar.enabled
    bar.finish()  # nothing shown yet: nothing written
    assert stream.getvalue() == ""
    encoder, decoder = UREncoder(UR_MSG, 300), URDecoder()
    decoder.receive(encoder.next_part())
    bar(decoder.progress)
    shown = stream.getvalue()
    assert "%" in shown and "fragments' worth" in shown
    while not decoder.is_complete:
        decoder.receive(encoder.next_part())
        bar(decoder.progress)
    erased = stream.getvalue()
    assert "\x1b[2K" in erased[-20:]  # the bar's line cleared, last thing written
    bar.finish()
    bar.finish()
    assert stream.getvalue() == erased
