"""``appliance run``: scan, hold a ceremony, show the answer, and back to scanning.

The same animation stays on the host's screen after the station has read it;
a request identical to the one just handled is skipped rather than answered
twice. Frames that cannot be assembled into a message (a broken checksum, a
payload over the caps) are refused and logged like any bad request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from airgap.camera.frames import FrameSource
from airgap.errors import DecodeError
from airgap.scan import ImageDecoder, messages
from airgap.ur.ur import DecodeLimits, Progress, URDecoder
from appliance.ceremony import Answer, Ceremony
from custody.schemas.request import MAX_REQUEST_BYTES
from custody.schemas.request import UR_TYPE as REQUEST_UR_TYPE

#: A request is at most 16 KiB; nothing larger is assembled on the station.
STATION_LIMITS = DecodeLimits(max_message_len=MAX_REQUEST_BYTES, max_seq_len=1024)


@dataclass(slots=True)
class RunSummary:
    answers: list[Answer] = field(default_factory=list)
    unreadable: int = 0


def run(
    ceremony: Ceremony,
    source: FrameSource,
    *,
    decode_image: ImageDecoder,
    max_requests: int | None = None,
    idle_timeout: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> RunSummary:
    summary = RunSummary()
    if max_requests == 0:
        return summary
    found = messages(
        source.frames(),
        lambda: URDecoder(limits=STATION_LIMITS, expected_types=frozenset({REQUEST_UR_TYPE})),
        decode_image=decode_image,
        idle_timeout=idle_timeout,
        on_progress=on_progress,
    )
    for item in found:
        if isinstance(item, DecodeError):
            summary.unreadable += 1
            summary.answers.append(ceremony.refuse_unreadable(str(item)))
        else:
            summary.answers.append(ceremony.handle(item))
        if max_requests is not None and len(summary.answers) >= max_requests:
            break
    return summary
