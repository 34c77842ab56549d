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
from pathlib import Path
from typing import TextIO

from airgap.errors import AirgapError
from appliance.clock import Clock, system_clock
from appliance.console import Console
from appliance.errors import ApplianceError
from custody.errors import CustodyError
from custody.schemas.key_record import Algorithm

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
    from appliance.commands import audit, keys, signing

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
    p.set_defaults(func=keys.cmd_init)

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
    p.set_defaults(func=keys.cmd_keygen)

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
    p.set_defaults(func=keys.cmd_export_key)

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
    r.set_defaults(func=keys.cmd_cards_rotate)

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
    r.set_defaults(func=signing.cmd_policy_install)
    r = policy_sub.add_parser(
        "compile",
        help="check a TOML policy and print its digest (or write its CBOR)",
        description="Compile a TOML policy without installing it: errors name the line.",
        epilog=EPILOG,
    )
    r.add_argument("policy", type=Path, metavar="POLICY.toml")
    r.add_argument("--out", type=Path, metavar="POLICY.cbor")
    r.set_defaults(func=signing.cmd_policy_compile)
    r = policy_sub.add_parser("show", help="list the installed policies", epilog=EPILOG)
    _add_state(r)
    r.set_defaults(func=signing.cmd_policy_show)

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
    p.add_argument(
        "--ui",
        choices=["terminal", "window"],
        default="terminal",
        help="terminal (default), or the full-screen station window (needs a display, or xvfb-run)",
    )
    p.add_argument(
        "--screenshots", type=Path, metavar="DIR", help="window: one PNG per screen shown, named after it"
    )
    p.add_argument(
        "--answer-seconds",
        type=float,
        metavar="S",
        help="window: how long each answer stays on screen (default: until D or Enter; "
        "0 with --approve-with-cards)",
    )
    p.add_argument("--max-requests", type=int, metavar="N", help="stop after N requests")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="stop when a scan sees nothing this long")
    p.add_argument(
        "--in-process-decoder",
        action="store_true",
        help="decode frames in this process (default: an isolated, memory-limited child)",
    )
    _add_state(p)
    p.set_defaults(func=signing.cmd_run)

    p = sub.add_parser("audit", help="export and verify the audit log", epilog=EPILOG)
    audit_sub = p.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    r = audit_sub.add_parser(
        "export",
        help="write the log as a file and/or animated QR for the host",
        description="With k cards: check the log against the HSM seal (a restored or rewritten database is "
        "refused), log the export, sign its head inside the HSM with every station key, and write the "
        "whole log (a CBOR sequence: the signed head, then one entry per item) to --out, and/or as "
        "animated UR QR frames (--qr-out) for the host to scan with 'host audit'.",
        epilog=EPILOG,
    )
    _add_cards(r)
    r.add_argument("--out", type=Path, metavar="LOG.cbor")
    r.add_argument("--qr-out", type=Path, metavar="DIR|X.gif|X.mp4")
    _add_state(r)
    r.set_defaults(func=audit.cmd_audit_export)
    r = audit_sub.add_parser(
        "verify",
        help="check the hash chain of the log (or of an export)",
        description="Recompute every entry's hash and link, from the station database or an export "
        "file. Exit 0 when the chain holds, 31 otherwise, listing each problem.",
        epilog=EPILOG,
    )
    r.add_argument("--file", type=Path, metavar="LOG.cbor", help="an export instead of the station database")
    _add_state(r)
    r.set_defaults(func=audit.cmd_audit_verify)

    p = sub.add_parser(
        "selftest",
        help="check every key's attributes, then sign and verify with each",
        description="With k cards: check each key's attributes, then sign and verify a random digest "
        "with every key on the token, or only the key a --token-uri names with object= or id=.",
        epilog=EPILOG,
    )
    _add_cards(p)
    _add_state(p)
    p.set_defaults(func=keys.cmd_selftest)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    ask: Callable[[str], str] = input,
    ask_secret: Callable[[str], str] = getpass.getpass,
    clock: Clock = system_clock,
    stdin: TextIO | None = None,
) -> int:
    """The command line; ``clock`` is the station's clock (the demo and tests run on a simulated one)."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = create_parser().parse_args(argv)
    console = Console(out, ask, ask_secret, clock, stdin)
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
