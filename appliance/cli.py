"""The ``appliance`` command: the station's key ceremonies, policies, signing ceremony and audit log.

Exit codes:

====  ==============================================================
0     success
1     bad input (a malformed file or message)
2     usage error
10    HSM failure not listed below
11    PKCS#11 module missing          12  token missing
13    key missing                     14  mechanism not supported
15    PIN incorrect                   16  PIN locked
17    token removed mid-ceremony      18  key attributes refused
19    HSM signature failed to verify
20    custodian cards refused (wrong, altered, foreign, duplicate)
21    fewer valid cards than the threshold
22    the custodians declined
30    station state missing or damaged
31    audit log rolled back or broken   32  no policy installed for the vault
33    policy change refused (ratchet, authorization)
====  ==============================================================
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from airgap.errors import AirgapError
from appliance.cards import PresentedCard
from appliance.clock import Clock, system_clock
from appliance.errors import ApplianceError, UsageError
from appliance.hsm.uri import Pkcs11Uri
from custody.errors import CustodyError
from custody.schemas.key_record import UR_TYPE as KEY_RECORD_UR_TYPE
from custody.schemas.key_record import Algorithm, KeyRecord

if TYPE_CHECKING:
    from appliance.screen import TerminalScreen

EPILOG = """exit codes: 0 ok, 1 bad input, 2 usage, 10 HSM, 11 module missing, 12 token missing,
13 key missing, 14 mechanism unsupported, 15 PIN incorrect, 16 PIN locked, 17 token removed,
18 key attributes refused, 19 signature check failed, 20 cards refused, 21 too few cards,
30 station state, 31 audit log rolled back or broken, 32 no policy, 33 policy change refused"""

DEFAULT_STATE = Path("station")


def _add_state(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--state", type=Path, default=DEFAULT_STATE, help="station state folder (default ./station)"
    )


def _add_cards(p: argparse.ArgumentParser) -> None:
    p.add_argument("--token-uri", help="PKCS#11 URI; must match the one the station was initialised with")
    p.add_argument(
        "--card", type=Path, action="append", default=[], metavar="FILE", help="a card's .txt or .png"
    )
    p.add_argument(
        "--type-cards", action="store_true", help="type cards at the keyboard (words are not shown)"
    )
    p.add_argument(
        "--scan-cards", metavar="DIR|VIDEO|INDEX", help="scan card QR codes from a camera or folder"
    )


def _add_approve(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--approve-with-cards",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="non-interactive: these card files, and the custodians' confirmation taken as given "
        "(the review is still shown and logged)",
    )


def create_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="appliance",
        description="The signing station: HSM keys gated by k-of-n custodian cards.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "init",
        help="give the token a random PIN and split it into custodian cards",
        description="Give the token a fresh random user PIN that nobody sees, split it k-of-n into "
        "custodian cards (DIR/card-<i>.txt and .png), and store a commitment per card. A SoftHSM "
        "token named in the URI that does not exist is created; an existing token is adopted, "
        "given its current user PIN once (prompted, or --current-pin-file).",
        epilog=EPILOG,
    )
    p.add_argument("--token-uri", required=True, help="e.g. pkcs11:token=station-a?module-path=/usr/lib/…")
    p.add_argument("--custodians", type=int, required=True, metavar="N")
    p.add_argument("--threshold", type=int, required=True, metavar="K")
    p.add_argument("--cards-out", type=Path, required=True, metavar="DIR")
    p.add_argument("--station", help="station name printed on cards (default: the token label)")
    p.add_argument("--current-pin-file", type=Path, help="adopting a token: file holding its current PIN")
    p.add_argument(
        "--pin-prefix",
        default="",
        metavar="TEXT",
        help="what the module wants before the password in a PIN (YubiHSM 2: the auth key id, e.g. 0001)",
    )
    p.add_argument(
        "--pin-chars",
        type=int,
        default=32,
        metavar="N",
        help="keep N hex characters of the card secret in the PIN (16 to 32; Nitrokey HSM 2: 16)",
    )
    _add_state(p)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "keygen",
        help="generate a key inside the HSM",
        description="With k cards, generate a key "
        "inside the HSM (every attribute explicit; LOCAL, ALWAYS_SENSITIVE and NEVER_EXTRACTABLE "
        "checked) and write its key record (CBOR).",
        epilog=EPILOG,
    )
    _add_cards(p)
    p.add_argument("--label", required=True)
    p.add_argument("--algorithm", required=True, choices=[a.value for a in Algorithm])
    p.add_argument("--out", type=Path, required=True, metavar="RECORD.cbor")
    _add_state(p)
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser(
        "export-key",
        help="write a key record as a file and as QR frames for the host",
        description="Write a stored key record as CBOR and, with --qr-out, as animated UR QR frames "
        "(a PNG folder, .gif or .mp4) for the host to scan at enrolment. Prints the key id for "
        "out-of-band comparison.",
        epilog=EPILOG,
    )
    p.add_argument("--label", required=True)
    p.add_argument("--out", type=Path, metavar="RECORD.cbor")
    p.add_argument("--qr-out", type=Path, metavar="DIR|X.gif|X.mp4")
    _add_state(p)
    p.set_defaults(func=cmd_export_key)

    p = sub.add_parser("cards", help="custodian card ceremonies", epilog=EPILOG)
    cards_sub = p.add_subparsers(dest="cards_command", required=True, metavar="COMMAND")
    r = cards_sub.add_parser(
        "rotate",
        help="new PIN and new cards; the old cards are retired",
        description="With k current cards, set a new random PIN (and SO PIN) and issue a new set of "
        "cards, optionally with a new N and K. The old cards stop working at once.",
        epilog=EPILOG,
    )
    _add_cards(r)
    r.add_argument("--cards-out", type=Path, required=True, metavar="DIR")
    r.add_argument("--custodians", type=int, metavar="N")
    r.add_argument("--threshold", type=int, metavar="K")
    _add_state(r)
    r.set_defaults(func=cmd_cards_rotate)

    p = sub.add_parser("policy", help="install, show and compile vault policies", epilog=EPILOG)
    policy_sub = p.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    r = policy_sub.add_parser(
        "install",
        help="install a policy and seal its digest in the HSM (k cards)",
        description="Compile a TOML policy (firmware-config/), show it for review, and with k cards "
        "seal its digest in the HSM. Changing a vault's key set or lock level also needs the signed "
        "rekey or raise-lock bundle (--authorization); the lock level never goes down except by a rekey.",
        epilog=EPILOG,
    )
    r.add_argument("policy", type=Path, metavar="POLICY.toml")
    r.add_argument(
        "--authorization", type=Path, metavar="BUNDLE.cbor", help="signed rekey or raise-lock bundle"
    )
    _add_cards(r)
    _add_approve(r)
    _add_state(r)
    r.set_defaults(func=cmd_policy_install)
    r = policy_sub.add_parser(
        "compile",
        help="check a TOML policy and print its digest (or write its CBOR)",
        description="Compile a TOML policy without installing it: errors name the line.",
        epilog=EPILOG,
    )
    r.add_argument("policy", type=Path, metavar="POLICY.toml")
    r.add_argument("--out", type=Path, metavar="POLICY.cbor")
    r.set_defaults(func=cmd_policy_compile)
    r = policy_sub.add_parser("show", help="list the installed policies", epilog=EPILOG)
    _add_state(r)
    r.set_defaults(func=cmd_policy_show)

    p = sub.add_parser(
        "run",
        help="the signing ceremony: scan requests, review, cards, sign, log, show the answer",
        description="Scan spend requests from a camera, video, image folder or stdin; show every field "
        "and each rule's result; with k custodian cards sign in the HSM; log and seal before the "
        "answer is shown as animated QR. Refusals are shown and logged too. The review is always "
        "shown; --approve-with-cards answers the custodians' confirmation for automation and tests.",
        epilog=EPILOG,
    )
    p.add_argument(
        "--source", required=True, metavar="INDEX|VIDEO|DIR|-", help="camera, video, folder or - (stdin)"
    )
    _add_cards(p)
    _add_approve(p)
    p.add_argument(
        "--answers", type=Path, metavar="DIR", help="also write each answer as CBOR and PNG frames"
    )
    p.add_argument(
        "--show",
        choices=["terminal", "window", "none"],
        default="terminal",
        help="how to show answers (default: terminal)",
    )
    p.add_argument("--max-requests", type=int, metavar="N", help="stop after N requests")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="stop when a scan sees nothing this long")
    p.add_argument(
        "--in-process-decoder",
        action="store_true",
        help="decode frames in this process (default: an isolated, memory-limited child)",
    )
    _add_state(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("audit", help="export and verify the audit log", epilog=EPILOG)
    audit_sub = p.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    r = audit_sub.add_parser(
        "export",
        help="write the log as a file and/or animated QR for the host",
        description="Write the whole audit log (a CBOR sequence: header, then one entry per item) to "
        "--out, and/or as animated UR QR frames (--qr-out) for the host to scan with 'host audit'.",
        epilog=EPILOG,
    )
    r.add_argument("--out", type=Path, metavar="LOG.cbor")
    r.add_argument("--qr-out", type=Path, metavar="DIR|X.gif|X.mp4")
    _add_state(r)
    r.set_defaults(func=cmd_audit_export)
    r = audit_sub.add_parser(
        "verify",
        help="check the hash chain of the log (or of an export)",
        description="Recompute every entry's hash and link, from the station database or an export "
        "file. Exit 0 when the chain holds, 31 otherwise, listing each problem.",
        epilog=EPILOG,
    )
    r.add_argument("--file", type=Path, metavar="LOG.cbor", help="an export instead of the station database")
    _add_state(r)
    r.set_defaults(func=cmd_audit_verify)

    p = sub.add_parser(
        "selftest",
        help="check every key's attributes, then sign and verify with each",
        description="With k cards: check each key's attributes, then sign and verify a random digest "
        "with every key on the token, or only the key a --token-uri names with object= or id=.",
        epilog=EPILOG,
    )
    _add_cards(p)
    _add_state(p)
    p.set_defaults(func=cmd_selftest)
    return parser


class Console:
    """The operator's terminal: output, prompts, and prompts without echo."""

    def __init__(
        self,
        out: TextIO,
        ask: Callable[[str], str],
        ask_secret: Callable[[str], str],
        clock: Clock = system_clock,
    ) -> None:
        self.out = out
        self.ask = ask
        self.ask_secret = ask_secret
        self.clock = clock

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


def _check_uri(args: argparse.Namespace) -> Pkcs11Uri | None:
    """The --token-uri given, after checking it names the station's own token."""
    from appliance import station_state
    from appliance.hsm.uri import parse

    if args.token_uri is None:
        return None
    given = parse(args.token_uri)
    if given.token_part() != parse(station_state.load(args.state).token_uri).token_part():
        raise UsageError("--token-uri differs from the token this station was initialised with")
    return given


def _threshold(args: argparse.Namespace) -> int:
    from appliance import station_state

    return station_state.load(args.state).card_set.threshold


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

    _check_uri(args)
    presented = collect_cards(args, console, _threshold(args))
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

    _check_uri(args)
    presented = collect_cards(args, console, _threshold(args))
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

    key_uri = _check_uri(args)
    presented = collect_cards(args, console, _threshold(args))
    rows = selftest(args.state, presented, key_uri)
    console.say(f"{'label':<20} {'algorithm':<10} {'key id':<17} {'attributes':<11} signature")
    for row in rows:
        console.say(
            f"{row.label:<20} {row.algorithm:<10} {row.key_id:<17} {row.attributes:<11} {row.signature}"
        )
    console.say(f"selftest passed: {len(rows)} key(s)")
    return 0


def _screen(args: argparse.Namespace, console: Console, **options: object) -> TerminalScreen:
    from appliance.screen import TerminalScreen

    return TerminalScreen(console.out, ask=console.ask, auto_confirm=bool(args.approve_with_cards), **options)  # type: ignore[arg-type]


def _card_provider(args: argparse.Namespace, console: Console) -> Callable[[int], list[PresentedCard]]:
    from appliance.card_files import read_card_file

    if args.approve_with_cards:
        return lambda needed: [read_card_file(path) for path in args.approve_with_cards]
    return lambda needed: collect_cards(args, console, needed)


def cmd_policy_install(args: argparse.Namespace, console: Console) -> int:
    from appliance.policy_install import install_policy
    from appliance.station import Station
    from custody.schemas.policy_toml import load_policy_file

    _check_uri(args)
    policy = load_policy_file(args.policy)
    authorization = args.authorization.read_bytes() if args.authorization else None
    with Station(args.state, clock=console.clock) as station:
        cards = _card_provider(args, console)(station.state.card_set.threshold)
        entry = install_policy(
            station, policy, cards, screen=_screen(args, console), authorization=authorization
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
    from airgap.qr.decode import payloads_in_image
    from airgap.qr.isolated import IsolatedDecoder
    from airgap.scan import ImageDecoder, ProgressBar
    from appliance.ceremony import Ceremony, Outcome
    from appliance.run_loop import run
    from appliance.station import Station

    _check_uri(args)
    if not (args.approve_with_cards or args.card or args.type_cards or args.scan_cards):
        raise UsageError(
            "say how cards are presented: --type-cards, --scan-cards, --card or --approve-with-cards"
        )
    screen = _screen(args, console, answers=args.answers, show=args.show)
    bar = ProgressBar(sys.stderr)
    with ExitStack() as stack:
        station = stack.enter_context(Station(args.state, clock=console.clock))
        source = open_source(args.source)
        stack.callback(source.close)
        decode_image: ImageDecoder = payloads_in_image
        if not args.in_process_decoder:
            decode_image = stack.enter_context(IsolatedDecoder())
        ceremony = Ceremony(station, screen=screen, cards=_card_provider(args, console))
        console.say(f"station {station.state.station}: scanning {args.source} for spend requests")
        summary = run(
            ceremony,
            source,
            decode_image=decode_image,
            max_requests=args.max_requests,
            idle_timeout=args.timeout,
            on_progress=bar,
        )
        bar.finish()
    counts = {o: sum(a.outcome is o for a in summary.answers) for o in Outcome}
    console.say(
        f"done: {counts[Outcome.SIGNED]} signed, {counts[Outcome.REFUSED]} refused, "
        f"{counts[Outcome.REISSUED]} shown again, {summary.unreadable} unreadable"
    )
    return 0


def cmd_audit_export(args: argparse.Namespace, console: Console) -> int:
    from appliance import station_state
    from appliance.audit_store import AuditStore
    from custody.schemas.audit_log import ExportHeader, export_bytes

    if args.out is None and args.qr_out is None:
        raise UsageError("say where to export: --out FILE and/or --qr-out DIR|X.gif|X.mp4")
    name = station_state.load(args.state).station
    with AuditStore(args.state) as store:
        seq, head, _ = store.head()
        data = export_bytes(ExportHeader(station=name, count=seq, head=head), store.entries())
    if args.out is not None:
        args.out.write_bytes(data)
        console.say(f"{seq} entries written to {args.out}")
    if args.qr_out is not None:
        count = export_audit_qr(data, args.qr_out)
        console.say(f"{count} QR frames written to {args.qr_out}")
    console.say(f"log head: {head.hex()} at entry {seq}")
    return 0


def export_audit_qr(data: bytes, out: Path) -> int:
    import cbor2

    from airgap.link_defaults import DEFAULT_FPS, WEBCAM_MAX_FRAGMENT
    from airgap.qr.render import animation_frames
    from airgap.qr.sinks import write_animation
    from airgap.ur.ur import UR
    from custody.schemas.audit_log import EXPORT_UR_TYPE

    # One CBOR byte string holds the export (itself a CBOR sequence), as a UR payload must be one item.
    frames = animation_frames(UR(EXPORT_UR_TYPE, cbor2.dumps(data)), WEBCAM_MAX_FRAGMENT)
    write_animation(frames, out, DEFAULT_FPS)
    return len(frames)


def cmd_audit_verify(args: argparse.Namespace, console: Console) -> int:
    from appliance.audit_store import AuditStore
    from custody.schemas.audit_log import read_export, verify_chain

    if args.file is not None:
        with args.file.open("rb") as stream:
            header, entries = read_export(stream)
            report = verify_chain(entries)
        if report.ok and (report.head != header.head or report.last_seq != header.count):
            report = replace(report, problems=("the header's head or count does not match the entries",))
        source = f"{args.file} (station {header.station})"
    else:
        with AuditStore(args.state) as store:
            report = verify_chain(store.entries())
        source = str(args.state)
    for problem in report.problems:
        console.say(f"problem: {problem}")
    if not report.ok:
        console.say(f"{source}: the audit log's chain is BROKEN ({report.count} entries read)")
        return 31
    console.say(f"{source}: {report.count} entries, chain intact, head {report.head.hex()}")
    return 0


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    ask: Callable[[str], str] = input,
    ask_secret: Callable[[str], str] = getpass.getpass,
    clock: Clock = system_clock,
) -> int:
    """The command line; ``clock`` is the station's clock (the demo and tests run on a simulated one)."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = create_parser().parse_args(argv)
    console = Console(out, ask, ask_secret, clock)
    try:
        code: int = args.func(args, console)
    except ApplianceError as exc:
        err.write(f"appliance: {exc}\n")
        return exc.exit_code
    except (AirgapError, CustodyError) as exc:
        err.write(f"appliance: {exc}\n")
        return 1
    except (EOFError, KeyboardInterrupt):
        err.write("appliance: interrupted\n")
        return 130
    except OSError as exc:
        err.write(f"appliance: {exc.strerror or exc}: {exc.filename or ''}\n")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
