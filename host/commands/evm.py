"""The host's side of Safe vaults: bind a vault to its Safe, build SafeTxs, read and fund the Safe,
and write what a Safe executes.

The Safe the host binds a vault to must answer, from its own contract, with
exactly the stations' owners, the vault's threshold and its version; the
vault's first nonce is the Safe's nonce at that moment. Nonces after it come
from this registry: the next after the last finalized transaction. A Safe
whose nonce has run ahead of the registry executed something the stations
never signed through this host, and the host says so instead of guessing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from airgap.files import atomic_write
from custody.chains.evm.adapter import is_checksummed
from custody.chains.evm.build import batch, owner_calls_for, transfer
from custody.chains.evm.safe_tx import SafeTx, checksum, parse_payload
from custody.chains.evm.signatures import owner_addresses
from custody.schemas.bundle import SignedBundle
from custody.schemas.chain_evm import SAFE_VERSIONS, EvmBinding, Token
from custody.schemas.request import Action, Execute, RaiseLock, Rekey, Withdraw
from custody.schemas.vault import Asset, VaultDefinition
from host.amounts import parse_amount
from host.context import Context
from host.errors import UsageError
from host.evm.backend import EvmBackend, SafeState, mismatches
from host.evm.logged import EMBEDDED_CHAIN_ID, LoggedEvm
from host.registry import Registry

ETH = Asset(code="ETH", decimals=18)


def evm_of(vault: VaultDefinition) -> EvmBinding:
    if not isinstance(vault.chain, EvmBinding):
        raise UsageError(f"vault {vault.vault_id!r} is not a Safe")
    return vault.chain


def open_evm(binding: EvmBinding, registry: Path) -> EvmBackend:
    """The embedded EVM for its chain id, unless a JSON-RPC endpoint is configured; else that endpoint."""
    from host.evm.rpc import ENV_URL, RpcEvm

    if binding.chain_id == EMBEDDED_CHAIN_ID and not os.environ.get(ENV_URL):
        return LoggedEvm.open(registry)
    return RpcEvm.from_env(binding.chain_id)


def address(text: str, flag: str) -> bytes:
    if not is_checksummed(text):
        raise UsageError(f"{flag} {text!r}: give a 0x address in its EIP-55 checksummed form")
    return bytes.fromhex(text[2:])


def _token(spec: str) -> Token:
    parts = spec.split(":")
    if len(parts) != 5 or not parts[2].isdigit():
        raise UsageError(f"--token {spec!r}: write ADDRESS:SYMBOL:DECIMALS:MAX_PER_SPEND:WINDOW_MAX")
    token_asset = Asset(code=parts[1], decimals=int(parts[2]))
    try:
        return Token(
            address=address(parts[0], "--token"),
            symbol=parts[1],
            decimals=int(parts[2]),
            max_per_spend=parse_amount(parts[3], token_asset),
            window_max=parse_amount(parts[4], token_asset),
        )
    except ValueError as exc:
        raise UsageError(f"--token {spec!r}: {exc}") from None


def evm_asset(ctx: Context, asset: Asset | None, template: EvmBinding | None) -> tuple[Asset, EvmBinding]:
    """The native asset (18 decimals) and the binding the flags and template describe; the Safe is
    found or created by ``bind_evm`` once the whole definition holds."""
    a = ctx.args
    if asset is not None and asset.decimals != 18:
        raise UsageError(
            f"an EVM vault holds its chain's native asset with 18 decimals, not {asset.decimals}"
        )
    chain_id = a.chain_id or (template.chain_id if template else EMBEDDED_CHAIN_ID)
    version = a.safe_version or (template.version if template else SAFE_VERSIONS[-1])
    if version not in SAFE_VERSIONS:
        raise UsageError(f"--safe-version: one of {', '.join(SAFE_VERSIONS)}")
    tokens = tuple(_token(t) for t in a.token) if a.token else (template.tokens if template else ())
    multisend = (
        address(a.multisend, "--multisend") if a.multisend else (template.multisend if template else b"")
    )
    binding = EvmBinding(
        chain_id=chain_id,
        safe=address(a.safe, "--safe") if a.safe else bytes(20),
        version=version,
        first_nonce=0,
        tokens=tuple(sorted(tokens, key=lambda t: t.address)),
        multisend=multisend,
    )
    return asset or ETH, binding


def bind_evm(ctx: Context, definition: VaultDefinition) -> VaultDefinition:
    """Create the Safe (embedded EVM) or find it (--safe); the definition with its address and first nonce,
    once the contract agrees with the vault's owners, threshold and version."""
    binding = evm_of(definition)
    owners = owner_addresses(definition.keys)
    backend = open_evm(binding, ctx.args.registry)
    if binding.safe == bytes(20):
        if not isinstance(backend, LoggedEvm):
            raise UsageError(
                f"deploy the Safe {binding.version} on chain {binding.chain_id} with owners "
                f"{', '.join(checksum(o) for o in sorted(owners))} and threshold {definition.threshold} "
                "(Safe{Wallet} does), then give its address with --safe"
            )
        salt = int.from_bytes(hashlib.sha256(definition.vault_id.encode()).digest()[:8], "big")
        safe = backend.create_safe(sorted(owners), definition.threshold, salt, binding.version)
        for text in ctx.args.fund or ():
            backend.fund(safe, parse_amount(text, definition.asset))
        if not binding.multisend and not ctx.args.no_multisend:
            binding = replace(binding, multisend=backend.multisend)
        binding = replace(binding, safe=safe)
    elif ctx.args.fund:
        raise UsageError("--fund pays from the embedded EVM's faucet; fund a real Safe from your wallet")
    state = backend.safe_state(binding.safe)
    wrong = mismatches(state, owners, definition.threshold, binding.version)
    if wrong:
        raise UsageError(f"the Safe at {checksum(binding.safe)} is not this vault: " + "; ".join(wrong))
    return replace(definition, chain=replace(binding, first_nonce=state.nonce))


def next_nonce(registry: Registry, vault: VaultDefinition) -> tuple[int, bytes | None]:
    """The nonce of the vault's next SafeTx, and the finalized request at the one before it (which
    the stations must see in the history), from this registry."""
    first = evm_of(vault).first_nonce
    last: tuple[int, bytes] | None = None
    for row in registry.requests(vault.vault_id):
        if row.finalized_at is None or not row.request.payload:
            continue
        n = parse_payload(row.request.payload).nonce
        if n >= first and (last is None or n > last[0]):
            last = (n, row.request.request_id)
    if last is None:
        return first, None
    return last[0] + 1, last[1]


def owner_order(state: SafeState, vault: VaultDefinition) -> list[bytes]:
    """The Safe's owners in its linked-list order (removeOwner and swapOwner name the previous one),
    checked against the vault's."""
    if frozenset(state.owners) != owner_addresses(vault.keys):
        raise UsageError(
            "the Safe's owners on chain are not the vault's current keys: submit the pending owner change "
            "first"
        )
    return list(state.owners)


def safe_tx_for(vault: VaultDefinition, action: Action, fee: int, nonce: int, state: SafeState) -> SafeTx:
    """The SafeTx for ``action`` at ``nonce``; ``state`` is the Safe as read now (its owner order)."""
    binding = evm_of(vault)
    if fee:
        raise UsageError("a SafeTx pays no fee from the Safe (every refund field is zero): drop --fee")
    if isinstance(action, Withdraw | Execute):
        to = address(action.destination, "--to")
        return transfer(binding, nonce, action.asset, to, action.amount)
    if isinstance(action, Rekey | RaiseLock):
        order = owner_order(state, vault)
        keys = action.keys if isinstance(action, Rekey) else vault.keys
        calls = owner_calls_for(binding, order, vault.threshold, owner_addresses(keys), action.threshold)
        try:
            return batch(binding, nonce, calls)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    raise UsageError(f"a {action.kind.value} on a Safe is a statement the stations sign, not a transaction")


def read_for_request(ctx: Context, vault: VaultDefinition, nonce: int) -> SafeState:
    """The Safe as a new request needs it, read once. A Safe whose nonce ran past the registry's
    executed a transaction this host never finalized; one with a module or guard is no longer covered
    by the stations' review."""
    binding = evm_of(vault)
    state = open_evm(binding, ctx.args.registry).safe_state(binding.safe)
    if state.modules or state.guard != bytes(20):
        raise UsageError(
            f"the Safe {checksum(binding.safe)} now has a module or a guard: something other than the "
            "owners can move its funds or block them; the stations' review no longer covers it"
        )
    if state.nonce > nonce:
        raise UsageError(
            f"the Safe's nonce is {state.nonce}, ahead of the {nonce} this registry expects: a transaction "
            "executed that the stations did not sign through this host; the vault cannot follow it"
        )
    return state


def safe_tx_json(
    vault: VaultDefinition, tx: SafeTx, packed: bytes, signers: Sequence[bytes], origin: str
) -> dict[str, Any]:
    """The transaction as the Safe Transaction Service takes it (``contractTransactionHash``,
    ``sender``, ``signature``) and as a reader checks it (chain id, owners, threshold)."""
    hex_ = "0x" + tx.safe_tx_hash().hex()
    return {
        "chainId": tx.chain_id,
        "safe": checksum(tx.safe),
        "to": checksum(tx.to),
        "value": str(tx.value),
        "data": "0x" + tx.data.hex() if tx.data else None,
        "operation": tx.operation,
        "safeTxGas": str(tx.safe_tx_gas),
        "baseGas": str(tx.base_gas),
        "gasPrice": str(tx.gas_price),
        "gasToken": checksum(tx.gas_token),
        "refundReceiver": checksum(tx.refund_receiver),
        "nonce": tx.nonce,
        "safeTxHash": hex_,
        "contractTransactionHash": hex_,
        "signatures": "0x" + packed.hex(),
        "signature": "0x" + packed.hex(),
        "sender": checksum(signers[0]) if signers else None,
        "owners": [checksum(o) for o in sorted(owner_addresses(vault.keys))],
        "threshold": vault.threshold,
        "origin": origin,
    }


def write_exec_files(
    vault: VaultDefinition, tx: SafeTx, calldata: bytes, packed: bytes, signers: Sequence[bytes], out: Path
) -> tuple[Path, Path]:
    """``execTransaction`` calldata (hex) and the Safe Transaction Service JSON, beside the bundle."""
    calldata_path = out.with_name(out.stem + "-exec.hex")
    json_path = out.with_name(out.stem + "-safe-tx.json")
    atomic_write(calldata_path, ("0x" + calldata.hex() + "\n").encode())
    body = safe_tx_json(vault, tx, packed, signers, origin=f"airgap-signer vault {vault.vault_id}")
    atomic_write(json_path, (json.dumps(body, indent=2) + "\n").encode())
    return calldata_path, json_path


def cmd_submit_safe(ctx: Context, vault: VaultDefinition, bundle: SignedBundle) -> int:
    """Send the finalized SafeTx's ``execTransaction``; the Safe itself is the last judge."""
    from host.chain.judging import final_spend

    binding = evm_of(vault)
    if not bundle.request.payload:
        raise UsageError(f"a {bundle.request.action.kind.value} on a Safe is a statement: nothing to submit")
    calldata = final_spend(vault, bundle)
    backend = open_evm(binding, ctx.args.registry)
    tx_hash = backend.push(binding.safe, calldata)
    nonce = backend.safe_state(binding.safe).nonce
    rid = bundle.request.request_id.hex()
    ctx.data({"request_id": rid, "submitted": True, "transaction": tx_hash, "safe_nonce": nonce})
    ctx.say(f"request {rid[:8]} executed by the Safe {checksum(binding.safe)} on {binding.name}")
    ctx.say(f"  transaction {tx_hash}; the Safe's nonce is now {nonce}")
    return 0


def cmd_balance_safe(ctx: Context, vault: VaultDefinition) -> int:
    binding = evm_of(vault)
    backend = open_evm(binding, ctx.args.registry)
    state = backend.safe_state(binding.safe)
    native = backend.balance(binding.safe)
    tokens = {t.symbol: backend.token_balance(t.address, binding.safe) for t in binding.tokens}
    others: dict[str, dict[str, str]] = {}
    for text in ctx.args.address or ():
        who = address(text, "--address")
        held = {vault.asset.code: str(backend.balance(who))}
        held |= {t.symbol: str(backend.token_balance(t.address, who)) for t in binding.tokens}
        others[text] = held
    ctx.data(
        {
            "vault_id": vault.vault_id,
            "chain_id": binding.chain_id,
            "safe": checksum(binding.safe),
            "balance": str(native),
            "tokens": {k: str(v) for k, v in tokens.items()},
            "owners": [checksum(o) for o in state.owners],
            "threshold": state.threshold,
            "nonce": state.nonce,
            "version": state.version,
            "modules": [checksum(m) for m in state.modules],
            "guard": checksum(state.guard) if state.guard != bytes(20) else None,
            "addresses": others,
        }
    )
    ctx.say(
        f"vault {vault.vault_id}: Safe {checksum(binding.safe)} on {binding.name} "
        f"(chain id {binding.chain_id})"
    )
    ctx.say(f"  {vault.asset.format(native)}")
    for t in binding.tokens:
        ctx.say(f"  {vault.amount_text(t.symbol, tokens[t.symbol])}")
    ctx.say(f"  owners {state.threshold} of {len(state.owners)}; nonce {state.nonce}; Safe {state.version}")
    for text, held in others.items():
        ctx.say(f"  {text}: " + ", ".join(vault.amount_text(k, int(v)) for k, v in held.items()))
    return 0


def cmd_fund_safe(ctx: Context, vault: VaultDefinition) -> int:
    binding = evm_of(vault)
    backend = open_evm(binding, ctx.args.registry)
    if not isinstance(backend, LoggedEvm):
        raise UsageError(f"send to the Safe {checksum(binding.safe)} from your wallet")
    if ctx.args.token is None:
        amount = parse_amount(ctx.args.amount, vault.asset)
        backend.fund(binding.safe, amount)
        what = vault.asset.format(amount)
    else:
        token = binding.token(ctx.args.token)
        if token is None or token.address != backend.token:
            raise UsageError(f"--token {ctx.args.token}: the embedded faucet pays only its TST token")
        token_asset = Asset(code=token.symbol, decimals=token.decimals)
        amount = parse_amount(ctx.args.amount, token_asset)
        backend.send_token(binding.safe, amount)
        what = token_asset.format(amount)
    ctx.data({"vault_id": vault.vault_id, "funded": str(amount), "asset": ctx.args.token or vault.asset.code})
    ctx.say(f"vault {vault.vault_id} funded with {what} from the embedded EVM's faucet")
    return 0
