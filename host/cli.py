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
from pathlib import Path
from typing import TextIO

from airgap.errors import AirgapError, IncompleteError, RenderError, SourceError
from airgap.link_defaults import DEFAULT_FPS, DEFAULT_MAX_FRAGMENT, DEFAULT_MODULE_PX
from custody.errors import CustodyError
from custody.schemas.chain import CHIA_NETWORKS
from host.audit_check import DEFAULT_MAX_AGE
from host.context import Context, default_registry
from host.errors import HostError

EPILOG = """exit codes: 0 success (valid, clean), 1 bad input or invalid bundle or rejected answer,
2 usage, 3 incomplete scan, 4 I/O, 5 registry unusable, 6 chain unavailable, 7 chain refused the spend,
22 refused locally, 31 audit flagged"""


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return number


def _sub(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    text: str,
    *,
    json: bool = True,
    registry: bool = True,
) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=text, description=text, epilog=EPILOG)
    if json:
        p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    if registry:
        p.add_argument(
            "--registry",
            type=Path,
            default=None,
            metavar="PATH",
            help=f"the registry database (default: $AIRGAP_HOST_REGISTRY or {default_registry()})",
        )
    return p


def _scan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--in-process-decoder",
        action="store_true",
        help="decode frames in this process, not a memory-limited child (faster; less isolated)",
    )


def _enrol_and_vault(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from host.commands import chain, setup

    p = _sub(sub, "enrol", "enrol a station's key: scan its key QR, or read the record file")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--file", metavar="RECORD.cbor", help="the key record 'appliance export-key --out' wrote"
    )
    src.add_argument("--scan", metavar="DIR|VIDEO|INDEX|-", help="frames of the station's key QR")
    _scan_options(p)
    p.set_defaults(func=setup.cmd_enrol)

    vault = sub.add_parser(
        "vault", help="define vaults: create, show, export, commit, export-policy; chain: balance, fund"
    )
    vsub = vault.add_subparsers(dest="vault_command", required=True, metavar="COMMAND")
    p = _sub(vsub, "create", "define an M-of-N vault over enrolled stations")
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument(
        "--station",
        action="append",
        required=True,
        metavar="NAME[:LABEL]",
        help="an enrolled station (repeat, N times); add :LABEL to pick one of a station's keys",
    )
    p.add_argument("--threshold", type=_positive, required=True, help="M: signatures needed")
    p.add_argument("--template", metavar="POLICY.toml", help="take the asset and rules from this policy file")
    p.add_argument("--asset", metavar="CODE:DECIMALS", help="e.g. XCH:12")
    p.add_argument("--destination", action="append", help="an allowed destination (repeat)")
    p.add_argument("--max-per-spend", metavar="AMOUNT", help="in whole units, e.g. 5000 or 0.5")
    p.add_argument("--window-max", metavar="AMOUNT", help="most that may leave per window, whole units")
    for flag, text in (
        ("--window", "the rolling window, e.g. 90d"),
        ("--cooldown", "least time between actions at a station"),
        ("--announce-delay", "0 for single-phase; else the wait between announce and execute"),
        ("--announce-expiry", "how long an announcement stays executable once open"),
        ("--rekey-delay", "the wait before a rekey, since the vault's last action"),
        ("--max-request-lifetime", "the longest a request may stay valid"),
    ):
        p.add_argument(flag, metavar="DURATION", help=text)
    p.add_argument("--min-per-spend", metavar="AMOUNT", help="the smallest withdrawal, whole units")
    p.add_argument("--window-count", type=_positive, help="most withdrawals (announcements) per window")
    p.add_argument("--max-fee", metavar="AMOUNT", help="the most one request may pay in fees, whole units")
    p.add_argument(
        "--chain",
        choices=[*sorted(CHIA_NETWORKS), "evm"],
        help="the Chia network, or evm for a Safe, the vault lives on (none: a statement vault)",
    )
    for flag, meta, text in (
        ("--chain-id", "N", "evm: the chain id (default: the embedded EVM's)"),
        ("--safe", "0xADDRESS", "evm: an existing Safe (default: the embedded EVM deploys one)"),
        ("--safe-version", "VERSION", "evm: 1.3.0 or 1.4.1 (default: the template's, else 1.4.1)"),
        ("--multisend", "0xADDRESS", "evm: the MultiSendCallOnly owner changes may DELEGATECALL"),
    ):
        p.add_argument(flag, metavar=meta, help=text, type=int if flag == "--chain-id" else str)
    p.add_argument("--no-multisend", action="store_true", help="evm: allow no MultiSendCallOnly")
    p.add_argument(
        "--token",
        action="append",
        metavar="ADDR:SYMBOL:DECIMALS:MAX:WINDOW_MAX",
        help="evm: an ERC-20 the vault may send, with its limits in whole tokens (repeat)",
    )
    p.add_argument("--launcher-id", metavar="HEX", help="a vault minted from your wallet (real networks)")
    p.add_argument(
        "--recovery-signers",
        type=int,
        metavar="K",
        help="chain vaults: K or more stations (fewer than M) may schedule a slow rekey (default: the "
        "template's, else 0: none)",
    )
    p.add_argument(
        "--recovery-penalty",
        metavar="DURATION",
        help="added to the rekey delay for each signer a slow rekey lacks (default: the template's, else 0)",
    )
    p.add_argument(
        "--fund",
        action="append",
        metavar="AMOUNT",
        help="simulator: a coin to pay into the new vault from the faucet (repeat)",
    )
    p.set_defaults(func=setup.cmd_vault_create)

    p = _sub(vsub, "balance", "read the vault's coins, balance and announcements from its chain")
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument(
        "--address", action="append", metavar="ADDRESS", help="also read this address's balance (repeat)"
    )
    p.set_defaults(func=chain.cmd_vault_balance)

    p = _sub(vsub, "fund", "simulator: pay a coin into the vault from the faucet (elsewhere: your wallet)")
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument("--amount", required=True, help="whole units, e.g. 1250.5")
    p.add_argument("--token", metavar="SYMBOL", help="evm: the embedded faucet's token instead of ETH")
    p.set_defaults(func=chain.cmd_vault_fund)

    p = _sub(vsub, "show", "the vault's definition, every rule")
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument("--generation", type=_positive, help="an earlier generation (default: current)")
    p.set_defaults(func=setup.cmd_vault_show)

    p = _sub(vsub, "export", "write the vault definition (VAULT.cbor) for 'host verify'", json=False)
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument("--out", required=True, metavar="VAULT.cbor")
    p.add_argument(
        "--opening", metavar="OPENING.json", help="also write the salt that opens its published commitment"
    )
    p.add_argument("--generation", type=_positive, help="an earlier generation (default: current)")
    p.set_defaults(func=setup.cmd_vault_export)

    p = _sub(vsub, "commit", "make a salted commitment to the vault definition, to publish now")
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument("--generation", type=_positive, help="an earlier generation (default: current)")
    p.set_defaults(func=setup.cmd_vault_commit)

    p = _sub(vsub, "export-policy", "write the TOML station policy for firmware-config/", json=False)
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument("--station", help="one station (default with --out-dir: every station)")
    p.add_argument("--out", metavar="FILE.toml", help="the file for --station")
    p.add_argument("--out-dir", metavar="DIR", help="one VAULT-STATION.toml per station")
    p.add_argument("--generation", type=_positive, help="an earlier generation (default: current)")
    p.set_defaults(func=setup.cmd_vault_export_policy)


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
        p.set_defaults(func=requests.cmd_request)

    for kind, text in (
        ("withdraw", "a single-phase withdrawal"),
        ("announce", "announce a two-phase withdrawal"),
    ):
        p = _sub(rsub, kind, text)
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
        p = _sub(rsub, kind, text)
        p.add_argument("announce_id", metavar="ANNOUNCEMENT", help="the announce request's id (or a prefix)")
        common(p)
    p = _sub(rsub, "rekey", "replace the vault's key set and threshold (signed by the current M)")
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument(
        "--station",
        action="append",
        required=True,
        metavar="NAME[:LABEL]",
        help="a station of the new key set (repeat)",
    )
    p.add_argument("--threshold", type=_positive, required=True, help="the new M")
    common(p)
    p = _sub(
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
    p.add_argument("--threshold", type=_positive, required=True, help="the new M")
    p.add_argument(
        "--initiators", type=_positive, required=True, help="how many stations will sign it (fewer than M)"
    )
    common(p)
    p = _sub(rsub, "raise-lock", "raise the lock level M (it never goes down except by rekey)")
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument("--threshold", type=_positive, required=True, help="the new, higher M")
    common(p)

    p = _sub(
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
    p.add_argument("--max-fragment", type=_positive, default=DEFAULT_MAX_FRAGMENT, metavar="BYTES")
    p.add_argument("--module-px", type=_positive, default=DEFAULT_MODULE_PX)
    p.set_defaults(func=requests.cmd_show)


def _collect_and_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from host.commands import chain, checking, collecting

    p = _sub(sub, "collect", "scan signature responses and refusals from any stations, in any order")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="a camera index, video, frame folder or '-'")
    p.add_argument("--request", help="accept answers to this request only")
    p.add_argument(
        "--timeout", type=float, metavar="S", help="stop a source after S seconds with nothing new"
    )
    _scan_options(p)
    p.set_defaults(func=collecting.cmd_collect)

    p = _sub(sub, "status", "pending requests, collected signatures, and the windows still running")
    p.add_argument("vault_id", nargs="?", metavar="VAULT")
    p.set_defaults(func=collecting.cmd_status)

    p = _sub(sub, "finalize", "write the signed bundle once enough valid signatures are held")
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

    p = _sub(sub, "submit", "chain vaults: judge a finalized request's spend offline, then push it")
    p.add_argument("request", metavar="REQUEST")
    p.add_argument("--out", metavar="FILE.json", help="also write the spend as push_tx JSON")
    p.set_defaults(func=chain.cmd_submit)

    p = _sub(
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

    p = _sub(sub, "verify", "check a bundle against a vault definition; needs nothing else", registry=False)
    pins(p)
    p.add_argument("--bundle", required=True, metavar="BUNDLE.cbor")
    p.add_argument("--at", type=int, metavar="UNIX", help="judge expiry at this time (default: now)")
    p.set_defaults(func=checking.cmd_verify)

    p = _sub(
        sub, "check-vault", "check a vault file against its published digest or commitment", registry=False
    )
    pins(p)
    p.set_defaults(func=checking.cmd_check_vault)

    p = _sub(sub, "audit", "import a station's audit export; verify it against what this host asked for")
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
    _scan_options(p)
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
    _enrol_and_vault(sub)
    _requests(sub)
    _collect_and_check(sub)
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
    except HostError as exc:
        err.write(f"host: {exc}\n")
        return exc.exit_code
    except IncompleteError as exc:
        err.write(f"host: {exc}\n")
        return 3
    except (SourceError, RenderError) as exc:
        err.write(f"host: {exc}\n")
        return 4
    except (AirgapError, CustodyError) as exc:
        err.write(f"host: {exc}\n")
        return 1
    except (EOFError, KeyboardInterrupt):
        err.write("host: interrupted\n")
        return 130
    except OSError as exc:
        err.write(f"host: {exc.strerror or exc}: {exc.filename or ''}\n")
        return 4
    finally:
        ctx.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
