"""``appliance policy install | compile | show`` and ``appliance run``: policies and the signing ceremony."""

from __future__ import annotations

import argparse
import sys

from appliance.console import Console, card_provider, check_uri, terminal_screen
from appliance.errors import UsageError


def cmd_policy_install(args: argparse.Namespace, console: Console) -> int:
    from appliance.policy_install import install_policy
    from appliance.station import Station
    from custody.schemas.policy_toml import load_policy_file

    check_uri(args)
    policy = load_policy_file(args.policy)
    authorization = args.authorization.read_bytes() if args.authorization else None
    with Station(args.state, clock=console.clock) as station:
        cards = card_provider(args, console)(station.state.card_set.threshold)
        entry = install_policy(
            station, policy, cards, screen=terminal_screen(args, console), authorization=authorization
        )
    console.say(f"policy for vault {policy.vault.vault_id!r} installed and sealed (audit entry {entry.seq})")
    console.say(f"policy digest: {policy.digest().hex()}")
    console.say(f"vault digest:  {policy.vault.digest().hex()}  (what requests must name)")
    return 0


def cmd_policy_compile(args: argparse.Namespace, console: Console) -> int:
    from custody.schemas.policy_toml import load_policy_file

    policy = load_policy_file(args.policy)
    if args.out is not None:
        args.out.write_bytes(policy.to_cbor())
        console.say(f"compiled policy written to {args.out}")
    console.say(
        f"vault {policy.vault.vault_id!r} generation {policy.vault.generation}: "
        f"{policy.vault.threshold} of {len(policy.vault.keys)}"
    )
    console.say(f"policy digest: {policy.digest().hex()}")
    console.say(f"vault digest:  {policy.vault.digest().hex()}")
    return 0


def cmd_policy_show(args: argparse.Namespace, console: Console) -> int:
    from appliance import policy_store

    vaults = policy_store.installed(args.state)
    if not vaults:
        console.say("no policies installed")
    for vault_id in vaults:
        policy = policy_store.load(args.state, vault_id)
        v = policy.vault
        console.say(
            f"{vault_id}: generation {v.generation}, {v.threshold} of {len(v.keys)}, "
            f"key {policy.key_label!r}, digest {policy.digest().hex()[:16]}"
        )
    return 0


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from contextlib import ExitStack

    from airgap.camera.frames import open_source
    from airgap.qr.decode import located_payloads, payloads_in_image
    from airgap.qr.isolated import IsolatedDecoder
    from airgap.scan import ImageDecoder, ProgressBar
    from appliance.ceremony import Ceremony, Outcome
    from appliance.run_loop import run
    from appliance.station import Station

    check_uri(args)
    if not (args.approve_with_cards or args.card or args.type_cards or args.scan_cards):
        raise UsageError(
            "say how cards are presented: --type-cards, --scan-cards, --card or --approve-with-cards"
        )
    if args.ui != "window" and (args.screenshots or args.answer_seconds is not None):
        raise UsageError("--screenshots and --answer-seconds need --ui window")
    with ExitStack() as stack:
        station = stack.enter_context(Station(args.state, clock=console.clock))
        # '-' reads UR lines from standard input: a keyboard-wedge scanner types each part as a line.
        source = open_source(args.source, console.stdin if console.stdin is not None else sys.stdin)
        stack.callback(source.close)
        isolated = None
        if not args.in_process_decoder and args.source != "-":
            isolated = stack.enter_context(IsolatedDecoder())
        console.say(f"station {station.state.station}: scanning {args.source} for spend requests")
        if args.ui == "window":
            from appliance.window.sitting import run_in_window

            card_source = open_source(args.scan_cards) if args.scan_cards else None
            if card_source is not None:
                stack.callback(card_source.close)
            located = isolated.located if isolated is not None else located_payloads
            echo = terminal_screen(args, console, show="none")
            summary = run_in_window(args, echo, station, source, located, card_source)
        else:
            shown = terminal_screen(args, console, answers=args.answers, show=args.show)
            decode_image: ImageDecoder = isolated if isolated is not None else payloads_in_image
            ceremony = Ceremony(station, screen=shown, cards=card_provider(args, console))
            bar = ProgressBar(sys.stderr)
            stack.callback(bar.finish)
            summary = run(
                ceremony,
                source,
                decode_image=decode_image,
                max_requests=args.max_requests,
                idle_timeout=args.timeout,
                on_progress=bar,
            )
    counts = {o: sum(a.outcome is o for a in summary.answers) for o in Outcome}
    console.say(
        f"done: {counts[Outcome.SIGNED]} signed, {counts[Outcome.REFUSED]} refused, "
        f"{counts[Outcome.REISSUED]} shown again, {summary.unreadable} unreadable part(s) or message(s)"
    )
    return 0
