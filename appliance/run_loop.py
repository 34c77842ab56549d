"""``appliance run``: scan, hold a ceremony, show the answer, and back to scanning.

The same animation stays on the host's screen after the station has read it;
a request identical to the one just handled is skipped rather than answered
twice. Input that cannot be read (a broken checksum, a payload over the caps,
parts that do not parse) is refused and logged like any bad request, once per
reason; when the same junk keeps coming (a looping screen, a flood), its
repeats are counted and logged as one summary entry at the end of the sitting,
so the log records it without filling up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from airgap.camera.frames import FrameSource
from airgap.scan import ImageDecoder, Unreadable, messages
from airgap.ur.ur import DecodeLimits, Progress, URDecoder
from appliance.ceremony import Answer, Ceremony
from appliance.wallet_envelopes import WALLET_ENVELOPES
from custody.schemas.request import MAX_REQUEST_BYTES
from custody.schemas.request import UR_TYPE as REQUEST_UR_TYPE

#: A request is at most 64 KiB; nothing larger is assembled on the station.
STATION_LIMITS = DecodeLimits(max_message_len=MAX_REQUEST_BYTES, max_seq_len=1024)
#: Distinct reasons a sitting refuses and logs one by one; further ones share one summary.
MAX_LOGGED_REASONS = 32
OTHER_REASONS = "further unreadable input of other kinds"


@dataclass(slots=True)
class RunSummary:
    answers: list[Answer] = field(default_factory=list)
    unreadable: int = 0  # UR parts or messages that could not be read, repeats included


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
        lambda: URDecoder(
            limits=STATION_LIMITS, expected_types=frozenset({REQUEST_UR_TYPE, *WALLET_ENVELOPES})
        ),
        decode_image=decode_image,
        idle_timeout=idle_timeout,
        on_progress=on_progress,
    )
    repeats: dict[str, int] = {}  # reason -> times seen since it was refused and logged
    try:
        for item in found:
            if isinstance(item, Unreadable):
                summary.unreadable += item.count
                reason = item.reason if item.reason in repeats or len(repeats) < MAX_LOGGED_REASONS else None
                if reason is None:
                    repeats[OTHER_REASONS] = repeats.get(OTHER_REASONS, 0) + item.count
                    continue
                if reason in repeats:
                    repeats[reason] += item.count
                    continue
                repeats[reason] = item.count - 1
                summary.answers.append(ceremony.refuse_unreadable(reason))
            else:
                summary.answers.append(ceremony.handle(item))
            if max_requests is not None and len(summary.answers) >= max_requests:
                break
    finally:
        for reason, count in repeats.items():
            if count:
                ceremony.log_repeats(reason, count)
    return summary
