"""What a station learns from a SafeTx, decoded by itself, and the rules it holds the SafeTx to.

Every fact comes from the payload's bytes: the domain (chain id and Safe) it
signs for, each call it makes (through an allowlisted MultiSendCallOnly,
each inner call), the owners and threshold it would leave, its gas fields
and its nonce. What cannot be explained is shown and refused: a station
never signs calldata it cannot read (Bybit, 2025; CHAINS.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from custody.chains.base import ChainError
from custody.chains.evm.calls import (
    SENTINEL,
    Effect,
    NativeTransfer,
    OwnerCall,
    TokenTransfer,
    Unexplained,
    explain_call,
    unpack_multisend,
)
from custody.chains.evm.safe_tx import ZERO_ADDRESS, SafeTx, checksum, parse_payload
from custody.chains.evm.signatures import owner_addresses
from custody.policy.engine import Check, Code
from custody.policy.history import VaultView
from custody.schemas.chain_evm import EvmBinding
from custody.schemas.history import payload_digest
from custody.schemas.request import Execute, RaiseLock, Rekey, SpendRequest, Withdraw
from custody.schemas.vault import Asset, VaultDefinition

NO_PAYLOAD = payload_digest(b"")


@dataclass(frozen=True, slots=True, kw_only=True)
class Owners:
    """The Safe's owners and threshold as the transaction would leave them (problems: it would revert)."""

    owners: frozenset[bytes]
    threshold: int
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvmFacts:
    binding: EvmBinding
    tx: SafeTx
    safe_tx_hash: bytes
    effects: tuple[Effect, ...]
    delegate_problem: str  # why a DELEGATECALL is refused; empty when there is none or it is allowed
    inner_calls: int  # the MultiSend's calls; 0 for a plain CALL
    after: Owners

    @property
    def message(self) -> bytes:
        return self.safe_tx_hash

    @property
    def messages(self) -> tuple[bytes, ...]:
        return (self.safe_tx_hash,)

    def transfers(self) -> list[NativeTransfer | TokenTransfer]:
        return [e for e in self.effects if isinstance(e, NativeTransfer | TokenTransfer)]

    def owner_calls(self) -> list[OwnerCall]:
        return [e for e in self.effects if isinstance(e, OwnerCall)]

    def asset_of(self, transfer: NativeTransfer | TokenTransfer, vault: VaultDefinition) -> Asset | None:
        if isinstance(transfer, NativeTransfer):
            return vault.asset
        token = self.binding.token_at(transfer.token)
        return Asset(code=token.symbol, decimals=token.decimals) if token is not None else None

    def review_rows(self, vault: VaultDefinition, stamp: Callable[[int], str]) -> list[tuple[str, str]]:
        tx, b = self.tx, self.binding
        rows = [
            ("chain", f"{b.name} (chain id {tx.chain_id})"),
            ("Safe", f"{checksum(tx.safe)} (Safe {b.version})"),
            ("nonce", str(tx.nonce)),
        ]
        if tx.operation == 0:
            rows.append(("operation", f"CALL to {checksum(tx.to)}"))
        else:
            rows.append(
                (
                    "operation",
                    f"DELEGATECALL to {checksum(tx.to)}: {self.delegate_problem or 'MultiSendCallOnly'}",
                )
            )
            if self.inner_calls:
                rows.append(("batch", f"{self.inner_calls} inner call(s), each decoded below"))
        for e in self.effects:
            if isinstance(e, NativeTransfer | TokenTransfer):
                asset = self.asset_of(e, vault)
                units = "wei" if isinstance(e, NativeTransfer) else "base units"
                shown = asset.format(e.amount) if asset is not None else "an unlisted token"
                via = "" if isinstance(e, NativeTransfer) else f" (token {checksum(e.token)})"
                rows.append(("sends", f"{shown} ({e.amount} {units}){via} to {checksum(e.to)}"))
            elif isinstance(e, OwnerCall):
                args = ", ".join(checksum(a) if isinstance(a, bytes) else str(a) for a in e.args)
                rows.append(("owner change", f"{e.name}({args})"))
            else:
                rows.append(("REFUSED call", e.reason))
        gas = _gas_problem(tx)
        rows.append(("gas refund", f"SET: {gas}" if gas else "none"))
        if self.owner_calls():
            after = self.after
            listed = ", ".join(checksum(o) for o in sorted(after.owners))
            rows.append(("owners after", f"{after.threshold} of {len(after.owners)}: {listed}"))
            rows += [("owner change REVERTS", p) for p in after.problems]
        rows.append(("safeTxHash", f"{self.safe_tx_hash.hex()} (what each key signs)"))
        return rows

    def checks(
        self, vault: VaultDefinition, view: VaultView, request: SpendRequest, now: int
    ) -> tuple[Check, ...]:
        tx, b = self.tx, self.binding
        same_chain = (tx.chain_id, tx.safe) == (b.chain_id, b.safe)
        unexplained = [e.reason for e in self.effects if isinstance(e, Unexplained)]
        gas = _gas_problem(tx)
        return (
            Check(
                "chain and Safe",
                same_chain,
                f"chain id {tx.chain_id}, Safe {checksum(tx.safe)}"
                + ("" if same_chain else f"; the vault's: chain id {b.chain_id}, Safe {checksum(b.safe)}"),
                Code.WRONG_CHAIN,
            ),
            Check(
                "operation",
                not self.delegate_problem,
                self.delegate_problem
                or ("CALL" if tx.operation == 0 else "DELEGATECALL to the allowlisted MultiSendCallOnly"),
                Code.DELEGATECALL,
            ),
            Check(
                "calls explained",
                not unexplained,
                "; ".join(unexplained) or "every call is decoded",
                Code.UNEXPLAINED,
            ),
            Check("gas refund", not gas, gas or "none", Code.GAS_REFUND),
            Check(
                "fee",
                request.fee == 0,
                "the vault pays no fee (the executor pays gas)",
                Code.PAYLOAD_MISMATCH,
            ),
            _matches(self, vault, request),
            _nonce(self, view, request),
        )


def _gas_problem(tx: SafeTx) -> str:
    set_ = [
        name
        for name, value in (
            ("safeTxGas", tx.safe_tx_gas),
            ("baseGas", tx.base_gas),
            ("gasPrice", tx.gas_price),
            ("gasToken", int.from_bytes(tx.gas_token, "big")),
            ("refundReceiver", int.from_bytes(tx.refund_receiver, "big")),
        )
        if value
    ]
    return ", ".join(set_)


def _matches(facts: EvmFacts, vault: VaultDefinition, request: SpendRequest) -> Check:
    action, problem = request.action, ""
    transfers, owner_calls = facts.transfers(), facts.owner_calls()
    if isinstance(action, Withdraw | Execute):
        if owner_calls or len(transfers) != 1:
            problem = (
                f"the transaction makes {len(transfers)} transfer(s) and {len(owner_calls)} owner change(s)"
            )
        else:
            t = transfers[0]
            asset = facts.asset_of(t, vault)
            code = asset.code if asset is not None else "?"
            if (code, t.amount, checksum(t.to)) != (action.asset, action.amount, action.destination):
                problem = f"the transaction sends {t.amount} {code} to {checksum(t.to)}"
    elif isinstance(action, Rekey | RaiseLock):
        keys = action.keys if isinstance(action, Rekey) else vault.keys
        wanted = owner_addresses(keys)
        after = facts.after
        if transfers or not owner_calls:
            problem = "a change of owners makes owner changes and transfers nothing"
        elif after.problems:
            problem = "the Safe would revert it: " + "; ".join(after.problems)
        elif (after.owners, after.threshold) != (wanted, action.threshold):
            problem = f"the Safe would be left {after.threshold} of {len(after.owners)} other owners"
    else:
        problem = f"a {action.kind.value} on a Safe is not made by a transaction"
    return Check(
        "spend matches",
        not problem,
        problem or f"the transaction does what this {action.kind.value} says",
        Code.PAYLOAD_MISMATCH,
    )


def _nonce(facts: EvmFacts, view: VaultView, request: SpendRequest) -> Check:
    """No reuse, no gaps: the nonce follows one a quorum or this station signed, or is the vault's first."""
    n, first = facts.tx.nonce, facts.binding.first_nonce
    if request.sequence != n:
        return Check(
            "nonce", False, f"the SafeTx's nonce is {n}; the request says {request.sequence}", Code.NONCE
        )
    carried = [
        e
        for e in view.events
        if e.request.payload_digest != NO_PAYLOAD and e.request.request_id != request.request_id
    ]
    # signed by a quorum (the history shows it) or by this station itself: never again, and the
    # nonce after one of them is the next (the Safe executes nonces in order)
    signed = {e.request.sequence for e in carried if e.finalized or e.own_at is not None}
    if n in signed:
        problem = f"nonce {n} is already signed for another transaction"
    elif signed and n < max(signed):
        problem = f"nonce {n} is behind {max(signed)}, already signed"
    elif n < first:
        problem = f"nonce {n} is before the vault's first, {first}"
    elif n != first and n - 1 not in signed:
        problem = f"nonce {n - 1} was neither quorum-signed (in the history) nor signed here: a gap"
    else:
        return Check("nonce", True, f"{n}: the vault's next", Code.NONCE)
    return Check("nonce", False, problem, Code.NONCE)


def _owners(vault: VaultDefinition, safe: bytes, calls: list[OwnerCall]) -> Owners:
    """The owners after ``calls``, from the vault's keys, with the Safe's own checks."""
    owners = set(owner_addresses(vault.keys))
    threshold, problems = vault.threshold, []

    def valid_new(owner: bytes) -> bool:
        return owner not in (ZERO_ADDRESS, SENTINEL, safe) and owner not in owners

    for call in calls:
        if call.name == "addOwnerWithThreshold":
            owner, threshold = call.args
            if not valid_new(owner):
                problems.append(f"{checksum(owner)} cannot be added")
            owners.add(owner)
        elif call.name == "removeOwner":
            _prev, owner, threshold = call.args
            if owner not in owners:
                problems.append(f"{checksum(owner)} is not an owner")
            owners.discard(owner)
        elif call.name == "swapOwner":
            _prev, old, new = call.args
            if old not in owners or not valid_new(new):
                problems.append(f"{checksum(old)} cannot be swapped for {checksum(new)}")
            owners.discard(old)
            owners.add(new)
        else:
            (threshold,) = call.args
        if not 1 <= threshold <= len(owners):
            problems.append(f"threshold {threshold} with {len(owners)} owner(s)")
    return Owners(owners=frozenset(owners), threshold=threshold, problems=tuple(problems))


def parse(vault: VaultDefinition, data: bytes) -> EvmFacts:
    """The facts of ``data`` as a SafeTx of ``vault``; ChainError if it is not a SafeTx at all."""
    binding = vault.chain
    if not isinstance(binding, EvmBinding):
        raise ChainError("this vault is not a Safe")
    tx = parse_payload(data)
    known = {t.address for t in binding.tokens}
    delegate, inner = "", 0
    effects: list[Effect] = []
    if tx.operation == 0:
        effects = explain_call(tx.safe, tx.to, tx.value, tx.data, known)
    elif not binding.multisend or tx.to != binding.multisend:
        delegate = (
            f"DELEGATECALL to {checksum(tx.to)}, which is not the vault's allowlisted MultiSendCallOnly"
        )
    elif tx.value:
        delegate = "a DELEGATECALL that also sends value"
    else:
        calls = unpack_multisend(tx.data)
        inner = len(calls)
        for operation, to, value, data_ in calls:
            if operation != 0:
                delegate = "a DELEGATECALL inside the MultiSend"
                continue
            effects += explain_call(tx.safe, to, value, data_, known)
    after = _owners(vault, tx.safe, [e for e in effects if isinstance(e, OwnerCall)])
    return EvmFacts(
        binding=binding,
        tx=tx,
        safe_tx_hash=tx.safe_tx_hash(),
        effects=tuple(effects),
        delegate_problem=delegate,
        inner_calls=inner,
        after=after,
    )
