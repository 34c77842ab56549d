"""The operator's terminal and what every station command needs from it: cards, the token check.

Shared by the command modules under ``appliance/commands``; nothing here
touches the HSM.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from appliance.cards import PresentedCard
from appliance.clock import Clock, system_clock
from appliance.errors import UsageError
from appliance.hsm.uri import Pkcs11Uri

if TYPE_CHECKING:
    from appliance.screen import TerminalScreen


class Console:
    """The operator's terminal: output, prompts, and prompts without echo."""

    def __init__(
        self,
        out: TextIO,
        ask: Callable[[str], str],
        ask_secret: Callable[[str], str],
        clock: Clock = system_clock,
        stdin: TextIO | None = None,
    ) -> None:
        self.out = out
        self.ask = ask
        self.ask_secret = ask_secret
        self.clock = clock
        self.stdin = stdin

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


def collect_cards(args: argparse.Namespace, console: Console, needed: int) -> list[PresentedCard]:
    from appliance.card_files import read_card_file, read_typed_card

    presented = [read_card_file(path) for path in args.card]
    if args.scan_cards:
        presented += scan_cards(args.scan_cards, needed - len(presented), console)
    if args.type_cards:
        while len(presented) < needed:
            console.say(f"Card {len(presented) + 1} of the {needed} needed (empty number to stop).")
            typed = read_typed_card(console.ask, console.ask_secret)
            if typed.claimed_index is None and typed.card is None:
                break
            presented.append(typed)
    if not presented:
        raise UsageError("no cards given: use --card FILE (repeat), --type-cards or --scan-cards")
    return presented


def scan_cards(source_spec: str, wanted: int, console: Console) -> list[PresentedCard]:
    """Read card QR codes from a camera or folder until ``wanted`` distinct cards were seen."""
    from airgap.camera.frames import open_source
    from airgap.qr.decode import payloads_in_image
    from appliance.card_files import card_from_payloads

    found: dict[int, PresentedCard] = {}
    source = open_source(source_spec)
    try:
        for frame in source.frames():
            if frame.image is None:
                continue
            offered = card_from_payloads(payloads_in_image(frame.image), None)
            if offered.card is not None and offered.card.index not in found:
                found[offered.card.index] = offered
                console.say(f"scanned card {offered.card.index}")
                if len(found) >= wanted:
                    break
    finally:
        source.close()
    return list(found.values())


def check_uri(args: argparse.Namespace) -> Pkcs11Uri | None:
    """The --token-uri given, after checking it names the station's own token."""
    from appliance import station_state
    from appliance.hsm.uri import parse

    if args.token_uri is None:
        return None
    given = parse(args.token_uri)
    if given.token_part() != parse(station_state.load(args.state).token_uri).token_part():
        raise UsageError("--token-uri differs from the token this station was initialised with")
    return given


def threshold(args: argparse.Namespace) -> int:
    from appliance import station_state

    return station_state.load(args.state).card_set.threshold


def terminal_screen(args: argparse.Namespace, console: Console, **options: object) -> TerminalScreen:
    from appliance.screen import TerminalScreen

    return TerminalScreen(console.out, ask=console.ask, auto_confirm=bool(args.approve_with_cards), **options)  # type: ignore[arg-type]


def card_provider(args: argparse.Namespace, console: Console) -> Callable[[int], list[PresentedCard]]:
    from appliance.card_files import read_card_file

    if args.approve_with_cards:
        return lambda needed: [read_card_file(path) for path in args.approve_with_cards]
    return lambda needed: collect_cards(args, console, needed)
