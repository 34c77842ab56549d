"""The host's side of Bitcoin vaults: the binding, the descriptor, PSBTs from a node's UTXOs (or another
coordinator's PSBT), the finalized PSBT and raw transaction, broadcast and balance.

The node is any Bitcoin-Core-compatible RPC (``AIRGAP_BITCOIN_RPC``, with
``AIRGAP_BITCOIN_COOKIE`` or credentials in the URL). The host reads the
vault's coins by its scriptPubKey, so the node needs no wallet for the vault.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from airgap.files import atomic_write
from custody.chains.base import ChainError
from custody.chains.bitcoin.build import Coin, build
from custody.chains.bitcoin.facts import parse
from custody.chains.bitcoin.psbt import read_final
from custody.chains.bitcoin.script import descriptor, script_of, vault_address, vault_script_pubkey
from custody.chains.bitcoin.signatures import extract
from custody.schemas.bundle import SignedBundle
from custody.schemas.chain_bitcoin import BITCOIN_NETWORKS, BitcoinBinding
from custody.schemas.request import Action, Execute, Withdraw
from custody.schemas.vault import Asset, VaultDefinition, VaultKey
from host.chain.bitcoin_rpc import BitcoinRpc, balance_of, broadcast, utxos_of
from host.context import Context
from host.errors import UsageError

BTC = Asset(code="BTC", decimals=8)
DEFAULT_FEE_RATE = 10  # sat/vB, when --fee-rate is not given
DEFAULT_MAX_FEE_RATE = 100


def bitcoin_of(vault: VaultDefinition) -> BitcoinBinding:
    if not isinstance(vault.chain, BitcoinBinding):
        raise UsageError(f"vault {vault.vault_id!r} is not a Bitcoin vault")
    return vault.chain


def bitcoin_binding(
    ctx: Context, asset: Asset | None, keys: tuple[VaultKey, ...], template: BitcoinBinding | None
) -> tuple[Asset, BitcoinBinding]:
    """The vault's network, its address (derived from the keys) and its fee-rate cap."""
    a = ctx.args
    network = a.network or (template.network if template else "regtest")
    if network not in BITCOIN_NETWORKS:
        raise UsageError(f"--network must be one of {', '.join(BITCOIN_NETWORKS)}")
    if asset is not None and asset.decimals != 8:
        raise UsageError(f"a Bitcoin vault holds BTC:8, not {a.asset}")
    rate = a.max_fee_rate or (template.max_fee_rate if template else DEFAULT_MAX_FEE_RATE)
    try:
        address = vault_address([k.public_key for k in keys], a.threshold, network)
        return asset or BTC, BitcoinBinding(network=network, address=address, max_fee_rate=rate)
    except ChainError as exc:
        raise UsageError(f"not a Bitcoin vault: {exc}") from None


def write_descriptor(vault: VaultDefinition, out: Path) -> str:
    text = descriptor([k.public_key for k in vault.keys], vault.threshold)
    atomic_write(out, (text + "\n").encode())
    return text


def _rpc() -> BitcoinRpc:
    rpc = BitcoinRpc.from_env()
    if rpc is None:
        raise UsageError(
            "no Bitcoin node: set AIRGAP_BITCOIN_RPC (and AIRGAP_BITCOIN_COOKIE), or give --psbt FILE "
            "made by another coordinator"
        )
    return rpc


def read_psbt_file(path: Path) -> bytes:
    """A PSBT file as wallets write it: binary, or base64 text."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--psbt {path}: {exc.strerror}") from None
    if data.startswith(b"psbt\xff"):
        return data
    try:
        return base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(f"--psbt {path}: neither a binary nor a base64 PSBT") from None


def psbt_for(ctx: Context, vault: VaultDefinition, action: Action) -> tuple[bytes, int]:
    """The unsigned PSBT for a withdrawal, and the fee it pays."""
    if not isinstance(action, Withdraw | Execute):
        raise UsageError(
            f"a {action.kind.value} on a Bitcoin vault is a new vault: define it, then withdraw to it"
        )
    path = getattr(ctx.args, "psbt", None)
    try:
        if path is not None:
            psbt = read_psbt_file(Path(path))
            return psbt, parse(vault, psbt).fee
        coins = [
            Coin(txid=u.txid, vout=u.vout, amount=u.amount, prev_tx=u.prev_tx)
            for u in utxos_of(_rpc(), vault_script_pubkey(vault))
        ]
        rate = getattr(ctx.args, "fee_rate", None) or DEFAULT_FEE_RATE
        return build(vault, coins, action.destination, action.amount, rate)
    except ChainError as exc:
        raise UsageError(f"no PSBT: {exc}") from None


def final_files(vault: VaultDefinition, final: bytes, out: Path) -> list[str]:
    """``B-final.psbt`` (base64) and ``B-tx.hex`` beside the bundle; what to tell the operator."""
    tx = extract(read_final(final))
    psbt_path = out.with_name(out.stem + "-final.psbt")
    hex_path = out.with_name(out.stem + "-tx.hex")
    atomic_write(psbt_path, base64.b64encode(final) + b"\n")
    atomic_write(hex_path, (tx.serialize().hex() + "\n").encode())
    return [
        f"transaction {tx.txid().hex()}: every input passed the script interpreter "
        f"({vault.threshold} of {len(vault.keys)} signatures each)",
        f"finalized PSBT (base64): {psbt_path}",
        f"raw transaction: {hex_path}",
    ]


def cmd_submit_bitcoin(ctx: Context, vault: VaultDefinition, bundle: SignedBundle) -> int:
    """Broadcast the finalized transaction through the node, after the offline judge."""
    from host.chain.judging import final_spend

    if not bundle.request.payload:
        raise UsageError(f"a {bundle.request.action.kind.value} is a statement: nothing to submit")
    tx = extract(read_final(final_spend(vault, bundle)))
    txid = broadcast(_rpc(), tx.serialize())
    rid = bundle.request.request_id.hex()
    ctx.data({"request_id": rid, "submitted": True, "txid": txid})
    ctx.say(f"request {rid[:8]} broadcast to {bitcoin_of(vault).name}: transaction {txid}")
    return 0


def cmd_balance_bitcoin(ctx: Context, vault: VaultDefinition) -> int:
    binding = bitcoin_of(vault)
    rpc = _rpc()
    coins = utxos_of(rpc, vault_script_pubkey(vault))
    total = sum(c.amount for c in coins)
    others = {}
    for text in ctx.args.address or ():
        try:
            others[text] = balance_of(rpc, script_of(text, binding.network))
        except ChainError as exc:
            raise UsageError(f"--address: {exc}") from None
    ctx.data(
        {
            "vault_id": vault.vault_id,
            "network": binding.network,
            "address": binding.address,
            "balance": total,
            "coins": [{"txid": c.txid.hex(), "vout": c.vout, "amount": c.amount} for c in coins],
            "addresses": others,
        }
    )
    ctx.say(f"vault {vault.vault_id} on {binding.name}: {vault.asset.format(total)} ({total} sats)")
    ctx.say(f"  address {binding.address}; {len(coins)} coin(s)")
    for text, sats in others.items():
        ctx.say(f"  {text}: {vault.asset.format(sats)} ({sats} sats)")
    return 0
