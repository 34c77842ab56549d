"""``appliance run --ui window``: the same sitting as on a terminal, drawn in the station window."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from airgap.camera.frames import FrameSource
from airgap.errors import AirgapError
from appliance.errors import ApplianceError
from appliance.review import stamp
from appliance.screen import TerminalScreen
from appliance.station import Station
from appliance.window.reading import grouped
from appliance.window.station_window import StationWindow
from appliance.window.window_screen import DONE_KEYS, Located, WindowOptions, WindowScreen
from custody.errors import CustodyError
from custody.schemas.audit_log import EntryKind

if TYPE_CHECKING:
    from appliance.run_loop import RunSummary


def identity(station: Station) -> Callable[[], str]:
    """What the scanning screen says the station is: name, keys, clock and log head, read afresh."""

    def text() -> str:
        seq, head, _ = station.store.head()
        keys = [
            f"  {label}: {record.algorithm.value}\n    id {grouped(record.key_id.hex()[:24])}"
            for label, record in sorted(station.state.keys.items())
        ]
        return "\n".join(
            [
                f"Station {station.state.station}",
                "Keys:",
                *(keys or ["  none yet"]),
                f"Clock: {stamp(station.clock())}",
                f"Log head: entry {seq}",
                f"  {grouped(head.hex()[:32])}",
            ]
        )

    return text


def run_in_window(
    args: argparse.Namespace,
    echo: TerminalScreen,
    station: Station,
    source: FrameSource,
    located: Located,
    card_source: FrameSource | None,
) -> RunSummary:
    from appliance.card_files import read_card_file
    from appliance.ceremony import Ceremony
    from appliance.run_loop import run

    card_paths = args.approve_with_cards or args.card or []
    options = WindowOptions(
        auto=bool(args.approve_with_cards),
        card_files=[read_card_file(path) for path in card_paths],
        card_source=card_source,
        answer_seconds=args.answer_seconds,
        answers=args.answers,
    )
    window = StationWindow(station.state.station, args.screenshots)

    def log_refused_card(reason: str) -> None:
        station.log(EntryKind.CARDS, {"accepted": False, "reason": reason[:300]}, station.clock())

    screen = WindowScreen(window, station.state.card_set, identity(station), options, log_refused_card, echo)
    window.open()
    screen.scanning()
    ceremony = Ceremony(station, screen=screen, cards=screen.collect_cards)
    try:
        return run(
            ceremony,
            screen.frames(source),
            decode_image=screen.decoder(located),
            max_requests=args.max_requests,
            idle_timeout=args.timeout,
            on_progress=screen.progress,
        )
    except (ApplianceError, AirgapError, CustodyError, OSError) as exc:
        screen.trouble(exc)
        window.screenshot("error")
        if not options.auto:
            window.wait_for(DONE_KEYS)
        raise
    finally:
        window.close()
