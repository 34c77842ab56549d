"""``appliance init | keygen | export-key | cards rotate | selftest``: the key ceremonies."""

from __future__ import annotations

import argparse
from pathlib import Path

from appliance.console import Console, check_uri, collect_cards, threshold
from appliance.errors import UsageError
from custody.schemas.key_record import UR_TYPE as KEY_RECORD_UR_TYPE
from custody.schemas.key_record import Algorithm, KeyRecord


def cmd_init(args: argparse.Namespace, console: Console) -> int:
    from appliance.cards import PinFormat
    from appliance.hsm.uri import parse
    from appliance.key_ceremony import initialise

    def current_pin() -> str:
        if args.current_pin_file is not None:
            return str(args.current_pin_file.read_text().strip())
        return console.ask_secret("Current user PIN of the token being adopted (not shown): ")

    station = args.station or parse(args.token_uri).token or "station"
    result = initialise(
        uri_text=args.token_uri,
        station=station,
        custodians=args.custodians,
        threshold=args.threshold,
        cards_out=args.cards_out,
        state_dir=args.state,
        current_pin=current_pin,
        pin_format=PinFormat(args.pin_prefix, args.pin_chars),
        now=console.clock(),
    )
    how = "created and initialised" if result.created_token else "adopted"
    cs = result.state.card_set
    console.say(f"token {how}; a fresh random user PIN was set (never shown)")
    console.say(
        f"{cs.count} custodian cards written to {args.cards_out} (any {cs.threshold} open the station)"
    )
    console.say("print them, hand one to each custodian, then delete the files")
    console.say(f"station state: {args.state}")
    return 0


def cmd_keygen(args: argparse.Namespace, console: Console) -> int:
    from appliance.key_ceremony import generate_key

    check_uri(args)
    presented = collect_cards(args, console, threshold(args))
    record = generate_key(
        args.state, presented, label=args.label, algorithm=Algorithm(args.algorithm), now=console.clock()
    )
    args.out.write_bytes(record.to_cbor())
    console.say(f"generated {record.algorithm.value} key {record.label!r} inside token {record.token_serial}")
    console.say(f"key id: {record.key_id.hex()}")
    console.say(f"key record written to {args.out}")
    return 0


def cmd_export_key(args: argparse.Namespace, console: Console) -> int:
    from appliance import station_state

    record = station_state.load(args.state).keys.get(args.label)
    if record is None:
        raise UsageError(f"this station has no key labelled {args.label!r}")
    if args.out is None and args.qr_out is None:
        raise UsageError("say where to export: --out FILE and/or --qr-out DIR|X.gif|X.mp4")
    if args.out is not None:
        args.out.write_bytes(record.to_cbor())
        console.say(f"key record written to {args.out}")
    if args.qr_out is not None:
        count = export_qr(record, args.qr_out)
        console.say(f"{count} QR frames written to {args.qr_out}")
    console.say(f"key id: {record.key_id.hex()}  (compare it with the host's screen)")
    return 0


def export_qr(record: KeyRecord, out: Path) -> int:
    """The key record as animated UR QR frames, the way the host scans it at enrolment."""
    from airgap.link_defaults import DEFAULT_FPS, DEFAULT_MAX_FRAGMENT
    from airgap.qr.render import animation_frames
    from airgap.qr.sinks import write_animation
    from airgap.ur.ur import UR

    frames = animation_frames(UR(KEY_RECORD_UR_TYPE, record.to_cbor()), DEFAULT_MAX_FRAGMENT)
    write_animation(frames, out, DEFAULT_FPS)
    return len(frames)


def cmd_cards_rotate(args: argparse.Namespace, console: Console) -> int:
    from appliance.key_ceremony import rotate_cards

    check_uri(args)
    presented = collect_cards(args, console, threshold(args))
    card_set, _ = rotate_cards(
        args.state,
        presented,
        cards_out=args.cards_out,
        custodians=args.custodians,
        threshold=args.threshold,
        now=console.clock(),
    )
    console.say("new random PIN set; the previous cards are retired and will be refused")
    console.say(
        f"{card_set.count} new cards written to {args.cards_out} (any {card_set.threshold} open the station)"
    )
    return 0


def cmd_selftest(args: argparse.Namespace, console: Console) -> int:
    from appliance.key_ceremony import selftest

    key_uri = check_uri(args)
    presented = collect_cards(args, console, threshold(args))
    rows = selftest(args.state, presented, key_uri)
    console.say(f"{'label':<20} {'algorithm':<10} {'key id':<17} {'attributes':<11} signature")
    for row in rows:
        console.say(
            f"{row.label:<20} {row.algorithm:<10} {row.key_id:<17} {row.attributes:<11} {row.signature}"
        )
    console.say(f"selftest passed: {len(rows)} key(s)")
    return 0
