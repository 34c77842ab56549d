"""The ``host enrol`` and ``host vault ...`` arguments (the vault's chain flags among them)."""

from __future__ import annotations

import argparse

from custody.schemas.chain import CHIA_NETWORKS
from host.cli_args import positive, scan_options, subcommand


def enrol_and_vault(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from host.commands import chain, setup

    p = subcommand(sub, "enrol", "enrol a station's key: scan its key QR, or read the record file")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--file", metavar="RECORD.cbor", help="the key record 'appliance export-key --out' wrote"
    )
    src.add_argument("--scan", metavar="DIR|VIDEO|INDEX|-", help="frames of the station's key QR")
    scan_options(p)
    p.set_defaults(func=setup.cmd_enrol)

    vault = sub.add_parser(
        "vault", help="define vaults: create, show, export, commit, export-policy; chain: balance, fund"
    )
    vsub = vault.add_subparsers(dest="vault_command", required=True, metavar="COMMAND")
    p = subcommand(vsub, "create", "define an M-of-N vault over enrolled stations")
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument(
        "--station",
        action="append",
        required=True,
        metavar="NAME[:LABEL]",
        help="an enrolled station (repeat, N times); add :LABEL to pick one of a station's keys",
    )
    p.add_argument("--threshold", type=positive, required=True, help="M: signatures needed")
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
    p.add_argument("--window-count", type=positive, help="most withdrawals (announcements) per window")
    p.add_argument("--max-fee", metavar="AMOUNT", help="the most one request may pay in fees, whole units")
    p.add_argument(
        "--chain",
        choices=[*sorted(CHIA_NETWORKS), "evm", "bitcoin"],
        help="the Chia network, evm for a Safe, or bitcoin for a P2WSH multisig, the vault lives on "
        "(none: a statement vault)",
    )
    p.add_argument("--network", help="bitcoin: mainnet, testnet, signet or regtest (default: regtest)")
    p.add_argument("--max-fee-rate", type=positive, metavar="SAT/VB", help="bitcoin: the fee-rate cap")
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

    p = subcommand(vsub, "balance", "read the vault's coins, balance and announcements from its chain")
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument(
        "--address", action="append", metavar="ADDRESS", help="also read this address's balance (repeat)"
    )
    p.set_defaults(func=chain.cmd_vault_balance)

    p = subcommand(
        vsub, "fund", "simulator: pay a coin into the vault from the faucet (elsewhere: your wallet)"
    )
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument("--amount", required=True, help="whole units, e.g. 1250.5")
    p.add_argument("--token", metavar="SYMBOL", help="evm: the embedded faucet's token instead of ETH")
    p.set_defaults(func=chain.cmd_vault_fund)

    p = subcommand(vsub, "show", "the vault's definition, every rule")
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument("--generation", type=positive, help="an earlier generation (default: current)")
    p.set_defaults(func=setup.cmd_vault_show)

    p = subcommand(vsub, "export", "write the vault definition (VAULT.cbor) for 'host verify'", json=False)
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument("--out", required=True, metavar="VAULT.cbor")
    p.add_argument(
        "--format",
        choices=("cbor", "descriptor"),
        default="cbor",
        help="descriptor: a Bitcoin vault's BIP-380 descriptor, for a watch-only wallet (Sparrow, Specter)",
    )
    p.add_argument(
        "--opening", metavar="OPENING.json", help="also write the salt that opens its published commitment"
    )
    p.add_argument("--generation", type=positive, help="an earlier generation (default: current)")
    p.set_defaults(func=setup.cmd_vault_export)

    p = subcommand(vsub, "commit", "make a salted commitment to the vault definition, to publish now")
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument("--generation", type=positive, help="an earlier generation (default: current)")
    p.set_defaults(func=setup.cmd_vault_commit)

    p = subcommand(vsub, "export-policy", "write the TOML station policy for firmware-config/", json=False)
    p.add_argument("vault_id", metavar="VAULT")
    p.add_argument("--station", help="one station (default with --out-dir: every station)")
    p.add_argument("--out", metavar="FILE.toml", help="the file for --station")
    p.add_argument("--out-dir", metavar="DIR", help="one VAULT-STATION.toml per station")
    p.add_argument("--generation", type=positive, help="an earlier generation (default: current)")
    p.set_defaults(func=setup.cmd_vault_export_policy)
