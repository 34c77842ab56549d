"""The ``host`` command: enrol stations, define vaults, build requests, collect, finalize, verify, audit.

Exit codes:

====  ==============================================================
0     success; for verify, the bundle is valid; for audit, it is clean
1     bad input (malformed QR, CBOR or file), an invalid bundle, or a
      collected answer that was rejected
2     usage error (bad arguments, unknown vault, station or request)
3     incomplete: the frames ended before a whole message was read
4     I/O: a frame source or sink could not be opened or written
5     the registry is unusable
6     the chain cannot be read or written (node unreachable, log damaged)
7     the chain refused a spend; nothing changed on chain
22    refused locally: the vault's policy would refuse the request
31    audit flagged the station's log
====  ==============================================================
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from airgap.link_defaults import DEFAULT_FPS, DEFAULT_MAX_FRAGMENT, DEFAULT_MODULE_PX
from host.audit_check import DEFAULT_MAX_AGE
from host.cli_args import EPILOG, positive, scan_options, subcommand
from host.cli_vault import enrol_and_vault
from host.context import Context, default_registry
from host.failures import failure
from host.gui import command as gui


def _requests(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from host.commands import requests

    req = sub.add_parser(
        "request", help="build a request: withdraw, announce, execute, cancel, rekey, slow-rekey, raise-lock"
    )
    rsub = req.add_subparsers(dest="kind", required=True, metavar="KIND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--expires-in", metavar="DURATION", help="default: the vault's longest request lifetime"
        )
        p.add_argument(
            "--include",
            action="append",
            metavar="REQUEST",
            help="add this request to the vault history the stations count (repeat): one a station "
            "signed whose answer never came back, as that station's refusal names it",
        )
        if p.prog.split()[-1] in ("withdraw", "execute"):
            p.add_argument("--fee-rate", type=positive, metavar="SAT/VB", help="bitcoin: default 10")
            p.add_argument("--psbt", metavar="FILE", help="bitcoin: another coordinator's unsigned PSBT")
        p.set_defaults(func=requests.cmd_request)

    for kind, text in (
        ("withdraw", "a single-phase withdrawal"),
        ("announce", "announce a two-phase withdrawal"),
    ):
        p = subcommand(rsub, kind, text)
        p.add_argument("vault_id", metavar="VAULT")
        p.add_argument("--amount", required=True, help="whole units, e.g. 1250.5")
        p.add_argument("--to", required=True, metavar="DESTINATION")
        p.add_argument("--fee", default="0", metavar="AMOUNT", help="the chain fee, whole units (default 0)")
        p.add_argument("--token", metavar="SYMBOL", help="evm: a token the vault lists, instead of ETH")
        common(p)
    for kind, text in (
        ("execute", "execute an announced withdrawal once its delay has passed"),
        ("cancel", "cancel an announced withdrawal (the clawback), or a slow rekey the chain holds"),
    ):
        p = subcommand(rsub, kind, text)
        p.add_argument("announce_id", metavar="ANNOUNCEMENT", help="the announce request's id (or a prefix)")
        common(p)
    p = subcommand(rsub, "rekey", "replace the vault's key set and threshold (signed by the current M)")
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument(
        "--station",
        action="append",
        required=True,
        metavar="NAME[:LABEL]",
        help="a station of the new key set (repeat)",
    )
    p.add_argument("--threshold", type=positive, required=True, help="the new M")
    common(p)
    p = subcommand(
        rsub,
        "slow-rekey",
        "chain vaults with recovery paths: fewer than M schedule a rekey; the chain holds it, M can cancel",
    )
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument(
        "--station",
        action="append",
        required=True,
        metavar="NAME[:LABEL]",
        help="a station of the new key set",
    )
    p.add_argument("--threshold", type=positive, required=True, help="the new M")
    p.add_argument(
        "--initiators", type=positive, required=True, help="how many stations will sign it (fewer than M)"
    )
    common(p)
    p = subcommand(rsub, "raise-lock", "raise the lock level M (it never goes down except by rekey)")
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument("--threshold", type=positive, required=True, help="the new, higher M")
    common(p)

    p = subcommand(
        sub,
        "show",
        "show a request as animated QR: a window, GIF, MP4, PNG folder or the terminal",
        json=False,
    )
    p.add_argument("request", metavar="REQUEST", help="request id or prefix")
    p.add_argument("--out", metavar="DIR|X.gif|X.mp4", help="write the frames instead of opening a window")
    p.add_argument("--terminal", action="store_true", help="draw the QR in this terminal")
    p.add_argument("--seconds", type=float, help="how long to loop the animation")
    p.add_argument("--fps", type=float, default=DEFAULT_FPS)
    p.add_argument("--max-fragment", type=positive, default=DEFAULT_MAX_FRAGMENT, metavar="BYTES")
    p.add_argument("--module-px", type=positive, default=DEFAULT_MODULE_PX)
    p.set_defaults(func=requests.cmd_show)


def _collect_and_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from host.commands import chain, checking, collecting

    p = subcommand(sub, "collect", "scan signature responses and refusals from any stations, in any order")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="a camera index, video, frame folder or '-'")
    p.add_argument("--request", help="accept answers to this request only")
    p.add_argument(
        "--timeout", type=float, metavar="S", help="stop a source after S seconds with nothing new"
    )
    scan_options(p)
    p.set_defaults(func=collecting.cmd_collect)

    p = subcommand(sub, "status", "pending requests, collected signatures, and the windows still running")
    p.add_argument("vault_id", nargs="?", metavar="VAULT")
    p.set_defaults(func=collecting.cmd_status)

    p = subcommand(sub, "finalize", "write the signed bundle once enough valid signatures are held")
    p.add_argument("request", metavar="REQUEST")
    p.add_argument("--out", required=True, metavar="BUNDLE.cbor")
    p.add_argument("--json-out", metavar="BUNDLE.json", help="the readable copy (default: beside --out)")
    p.add_argument(
        "--spend-bundle",
        metavar="FILE.json",
        help="Chia vaults: also write the assembled spend as the JSON a full node's push_tx takes (Safe "
        "vaults always get BUNDLE-exec.hex and BUNDLE-safe-tx.json beside --out)",
    )
    p.set_defaults(func=collecting.cmd_finalize)

    p = subcommand(sub, "submit", "chain vaults: judge a finalized request's spend offline, then push it")
    p.add_argument("request", metavar="REQUEST")
    p.add_argument("--out", metavar="FILE.json", help="also write the spend as push_tx JSON")
    p.set_defaults(func=chain.cmd_submit)

    p = subcommand(
        sub,
        "release",
        "chain vaults: pay out an announcement whose clawback has expired, or push through a slow rekey "
        "whose delay has passed (unsigned: the chain kept the wait)",
    )
    p.add_argument(
        "announcement", metavar="REQUEST", help="the announce or slow-rekey request's id (or a prefix)"
    )
    p.add_argument("--out", metavar="FILE.json", help="also write the spend as push_tx JSON")
    p.set_defaults(func=chain.cmd_release)

    def pins(p: argparse.ArgumentParser) -> None:
        p.add_argument("--vault", required=True, metavar="VAULT.cbor")
        p.add_argument("--expect-digest", metavar="HEX", help="the vault definition's published digest")
        p.add_argument("--commitment", metavar="HEX", help="a published 'host vault commit' commitment")
        p.add_argument("--salt", metavar="HEX", help="the commitment's salt, revealed with the definition")

    p = subcommand(
        sub, "verify", "check a bundle against a vault definition; needs nothing else", registry=False
    )
    pins(p)
    p.add_argument("--bundle", required=True, metavar="BUNDLE.cbor")
    p.add_argument("--at", type=int, metavar="UNIX", help="judge expiry at this time (default: now)")
    p.set_defaults(func=checking.cmd_verify)

    p = subcommand(
        sub, "check-vault", "check a vault file against its published digest or commitment", registry=False
    )
    pins(p)
    p.set_defaults(func=checking.cmd_check_vault)

    p = subcommand(
        sub, "audit", "import a station's audit export; verify it against what this host asked for"
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "file", nargs="?", metavar="EXPORT", help="the file 'appliance audit export --out' wrote"
    )
    src.add_argument("--scan", metavar="SOURCE", help="frames of the export's QR animation")
    p.add_argument(
        "--max-age",
        type=int,
        default=DEFAULT_MAX_AGE,
        metavar="SECONDS",
        help="flag an export whose signed head is older than this (default: a day)",
    )
    scan_options(p)
    p.set_defaults(func=checking.cmd_audit)


def create_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="host",
        description="The networked side: enrol stations, define vaults, build requests, collect "
        "signatures, finalize and verify bundles, audit station logs. It holds no key.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    enrol_and_vault(sub)
    _requests(sub)
    _collect_and_check(sub)
    gui.register(sub)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    clock: Callable[[], int] = lambda: int(time.time()),
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = create_parser().parse_args(argv)
    if getattr(args, "registry", "absent") is None:
        args.registry = default_registry()
    ctx = Context(args, out, err, clock)
    try:
        code: int = args.func(ctx)
    except (EOFError, KeyboardInterrupt):
        err.write("host: interrupted\n")
        return 130
    except Exception as exc:
        known = failure(exc)
        if known is None:
            raise
        err.write(f"host: {known[1]}\n")
        return known[0]
    finally:
        ctx.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
