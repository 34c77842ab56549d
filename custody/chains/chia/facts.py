"""What a station learns from an unsigned Chia vault spend, through the SDK's own parser.

``parse_vault_transaction`` follows the vault's messages to the coins it
authorises and reports their children, the fee, value left unaccounted and
the vault's next custody. From that, and nothing the host wrote, this module
derives the facts the policy reads: payments (destination, amount, and the
clawback they pay through), change back to the vault, the fee, clawbacks the
vault takes back, and anything else the spend would do, which is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from chia_wallet_sdk import Clvm, Reveals, parse_vault_transaction, wrapped_delegated_puzzle_hash

from custody.chains.base import ChainError
from custody.chains.chia.custody import address, decode_address, p2_puzzle_hash, vault_puzzle_hash
from custody.chains.chia.payload import ChiaPayload, parse_payload
from custody.chains.chia.recovery import custody_rows, successor_custody, vault_custody
from custody.errors import SchemaError
from custody.policy.engine import Check, Code
from custody.policy.history import VaultView
from custody.schemas.chain import ChiaBinding, ChiaNetwork
from custody.schemas.request import (
    Announce,
    Cancel,
    Execute,
    RaiseLock,
    Rekey,
    SlowRekey,
    SpendRequest,
    Withdraw,
)
from custody.schemas.vault import VaultDefinition


@dataclass(frozen=True, slots=True)
class Payment:
    puzzle_hash: bytes
    address: str
    amount: int
    clawback_sender: bytes | None  # the clawback it pays through, if any: who can claw it back,
    clawback_until: int | None  # and until when


@dataclass(frozen=True, slots=True)
class ClawedBack:
    receiver: bytes
    address: str
    amount: int
    until: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChiaFacts:
    network: ChiaNetwork
    vault_coin_id: bytes
    custody: bytes  # the vault coin's custody hash now
    path: int  # who signs: 0 the main quorum, k the recovery path of k initiators
    scheduled: tuple[int, bytes] | None  # the slow rekey the coin is holding: (initiators, next custody)
    signed_hash: bytes  # the delegated puzzle hash the members see (wrapped on a recovery path)
    receive_puzzle_hash: bytes
    delegated_puzzle_hash: bytes
    payments: tuple[Payment, ...]
    change: int
    fee: int
    unaccounted: int
    spent: int
    clawed_back: tuple[ClawedBack, ...]
    next_custody: bytes | None  # the recreated vault's custody hash; None if the vault is melted
    next_amount: int
    side_effects: tuple[str, ...]

    @property
    def message(self) -> bytes:
        """What every member signs: sha256(delegated puzzle hash || vault coin id), 32 bytes."""
        return hashlib.sha256(self.signed_hash + self.vault_coin_id).digest()

    @property
    def messages(self) -> tuple[bytes, ...]:
        return (self.message,)

    def review_rows(self, vault: VaultDefinition, stamp: Callable[[int], str]) -> list[tuple[str, str]]:
        fmt = vault.asset.format
        rows = [
            ("chain", f"Chia {self.network.name}"),
            ("vault address", address(self.receive_puzzle_hash, self.network)),
            ("vault coin", self.vault_coin_id.hex()),
            ("spends", f"{fmt(self.spent)} from the vault's coins ({self.spent} mojos)"),
        ]
        for p in self.payments:
            rows.append(("pays", f"{fmt(p.amount)} ({p.amount} mojos) to {p.address}"))
            if p.clawback_until is None:
                rows.append(("clawback", "none: paid at once, final"))
            else:
                who = "the vault" if p.clawback_sender == self.receive_puzzle_hash else "NOT the vault"
                rows.append(
                    (
                        "clawback",
                        f"{who} can claw it back until {stamp(p.clawback_until)}; then anyone pushes it",
                    )
                )
        for c in self.clawed_back:
            rows.append(
                ("claws back", f"{fmt(c.amount)} meant for {c.address}, claimable until {stamp(c.until)}")
            )
        rows += [
            ("change", f"{fmt(self.change)} back to the vault"),
            ("fee", f"{fmt(self.fee)} ({self.fee} mojos)"),
            ("unaccounted", f"{fmt(self.unaccounted)}" + ("" if not self.unaccounted else "  <- REFUSED")),
        ]
        rows += custody_rows(vault, self.path, self.scheduled)
        if self.next_custody is None:
            rows.append(("vault custody", "the vault is MELTED"))
        elif self.next_custody == self.custody:
            rows.append(("vault custody", "unchanged"))
        else:
            rows.append(("vault custody", f"CHANGES to {self.next_custody.hex()}"))
        rows += [(("refused", s)) for s in self.side_effects]
        rows.append(("chain message", f"{self.message.hex()} (what each key signs)"))
        return rows

    def checks(
        self, vault: VaultDefinition, view: VaultView, request: SpendRequest, now: int
    ) -> tuple[Check, ...]:
        return (
            _matches(self, vault, view, request),
            Check(
                "chain fee",
                request.fee == self.fee,
                f"spend pays {self.fee}, request says {request.fee}",
                Code.PAYLOAD_MISMATCH,
            ),
            Check(
                "unaccounted",
                self.unaccounted == 0,
                f"{self.unaccounted} mojos leave without an output",
                Code.UNACCOUNTED,
            ),
            Check(
                "side effects",
                not self.side_effects,
                "; ".join(self.side_effects) or "none: no drop coins, offers, issuances or other assets",
                Code.SIDE_EFFECTS,
            ),
            _custody(self, vault, request),
            *_clawback(self, vault, request, now),
        )


def _expected_custody(vault: VaultDefinition, request: SpendRequest) -> bytes:
    action = request.action
    if isinstance(action, Rekey):
        return successor_custody(vault, action.keys, action.threshold).hash
    if isinstance(action, SlowRekey):
        target = successor_custody(vault, action.keys, action.threshold).hash
        return vault_custody(vault).scheduled(action.initiators, target).hash
    if isinstance(action, RaiseLock):
        return successor_custody(vault, vault.keys, action.threshold).hash
    return vault_custody(vault).hash


def _custody(facts: ChiaFacts, vault: VaultDefinition, request: SpendRequest) -> Check:
    action = request.action
    least = vault.chain.recovery_signers if isinstance(vault.chain, ChiaBinding) else 0
    if isinstance(action, Rekey | SlowRekey | RaiseLock) and least and action.threshold <= least:
        detail = f"the new threshold {action.threshold} must exceed the {least} stations a slow rekey needs"
        return Check("vault custody", False, detail, Code.CUSTODY)
    expected = _expected_custody(vault, request)
    ok = facts.next_custody == expected and facts.next_amount == 1
    if facts.next_custody is None:
        detail = "the spend melts the vault"
    elif ok:
        detail = "the vault is recreated " + (
            "unchanged"
            if expected == facts.custody
            else "holding the rekey for the chain's delay"
            if isinstance(request.action, SlowRekey)
            else "with the new key set"
            if facts.scheduled is None
            else "under its own custody: the scheduled rekey is cancelled"
        )
    else:
        detail = "the vault's next custody is not what the request says"
    return Check("vault custody", ok, detail, Code.CUSTODY)


def _matches(facts: ChiaFacts, vault: VaultDefinition, view: VaultView, request: SpendRequest) -> Check:
    """The spend does what the request's action says, and nothing more."""
    action, problem = request.action, ""
    pays = facts.payments
    if facts.path != (action.initiators if isinstance(action, SlowRekey) else 0):
        problem = (
            f"the spend is signed on the recovery path of {facts.path} initiator(s)"
            if facts.path
            else "a slow rekey is signed on its recovery path, not by the main quorum"
        )
    elif isinstance(action, SlowRekey):
        if pays or facts.clawed_back:
            problem = "a slow rekey pays nothing"
    elif isinstance(action, Cancel) and isinstance(pending := view.pending(action.announce_id), SlowRekey):
        target = successor_custody(vault, pending.keys, pending.threshold).hash
        if pays or facts.clawed_back:
            problem = "a cancellation of a rekey pays nothing"
        elif facts.scheduled != (pending.initiators, target):
            problem = "the vault coin is not holding the rekey this cancels"
    elif facts.scheduled is not None:
        problem = "the vault is holding a scheduled rekey: only its cancellation may spend it now"
    elif isinstance(action, Withdraw | Announce):
        via_clawback = isinstance(action, Announce)
        if len(pays) != 1:
            problem = f"the spend makes {len(pays)} payment(s); a request makes one"
        elif (pays[0].address, pays[0].amount) != (action.destination, action.amount):
            problem = f"the spend pays {pays[0].amount} mojos to {pays[0].address}"
        elif (pays[0].clawback_until is not None) != via_clawback:
            problem = "the payment " + ("does not go" if via_clawback else "goes") + " through a clawback"
        elif action.asset != vault.asset.code or facts.clawed_back:
            problem = "the spend moves something else as well"
    elif isinstance(action, Cancel):
        ann = view.announcement(action.announce_id)
        announced = ann.request.action if ann is not None else None
        if pays or len(facts.clawed_back) != 1:
            problem = "a cancellation claws back one clawback and pays nothing"
        elif not isinstance(announced, Announce):
            problem = "the announcement it cancels is not in the history"
        elif (facts.clawed_back[0].address, facts.clawed_back[0].amount) != (
            announced.destination,
            announced.amount,
        ):
            problem = "the clawback it takes back is not the announced payment"
    elif isinstance(action, Execute):
        problem = "on Chia an announced payment is pushed through after its clawback expires, unsigned"
    elif pays or facts.clawed_back:
        problem = "a change of custody pays nothing"
    ok = not problem
    return Check(
        "spend matches",
        ok,
        problem or f"the spend does what this {action.kind.value} says",
        Code.PAYLOAD_MISMATCH,
    )


def _clawback(facts: ChiaFacts, vault: VaultDefinition, request: SpendRequest, now: int) -> tuple[Check, ...]:
    if not isinstance(request.action, Announce) or len(facts.payments) != 1:
        return ()
    pay, delay = facts.payments[0], vault.rules.announce_delay_seconds
    if pay.clawback_until is None:
        return ()
    ours = pay.clawback_sender == facts.receive_puzzle_hash
    long_enough = pay.clawback_until >= now + delay
    detail = (
        f"the vault can claw it back for {max(pay.clawback_until - now, 0)} s (at least {delay} s needed)"
    )
    if not ours:
        detail = "the clawback is not the vault's to take back"
    return (Check("clawback", ours and long_enough, detail, Code.CLAWBACK),)


def parse(vault: VaultDefinition, data: bytes) -> ChiaFacts:
    """The facts of ``data`` as a spend of ``vault``; ChainError if it is anything else."""
    binding = vault.chain
    if not isinstance(binding, ChiaBinding):
        raise ChainError("this vault is not on Chia")
    payload = parse_payload(data)
    custody = vault_custody(vault)
    if payload.scheduled is not None:
        initiators, target = payload.scheduled
        if initiators not in custody.paths or payload.path:
            raise ChainError("the vault has no recovery path that could have scheduled this rekey")
        coin_custody = custody.scheduled(initiators, target).hash
    else:
        if payload.path and payload.path not in custody.paths:
            raise ChainError(f"the vault has no recovery path of {payload.path} initiator(s)")
        coin_custody = custody.hash
    coin = payload.vault_coin.coin()
    if coin.puzzle_hash != vault_puzzle_hash(binding.launcher_id, coin_custody):
        raise ChainError("the vault coin's puzzle is not this vault's (another vault, or another custody)")
    return _facts(vault, binding, payload, coin_custody, coin.coin_id())


def _facts(
    vault: VaultDefinition, binding: ChiaBinding, payload: ChiaPayload, custody: bytes, coin_id: bytes
) -> ChiaFacts:
    clvm = Clvm()
    delegated = payload.delegated_spend(clvm)
    coin_spends = payload.coin_spends(binding.launcher_id)
    try:
        reveals = Reveals.from_coin_spends(clvm, coin_spends)
        for spec in payload.clawbacks:
            reveals.reveal_clawback(spec.clawback())
        tx = parse_vault_transaction(clvm, reveals, binding.launcher_id, delegated)
    except (ValueError, RuntimeError) as exc:
        raise ChainError(f"the spend does not parse as a vault transaction: {exc}") from None
    net = binding.net
    receive = p2_puzzle_hash(binding.launcher_id)
    ours = set(tx.p2_puzzle_hashes)
    side: list[str] = []
    for name, items in (
        ("drop coins", tx.drop_coins),
        ("issuances", tx.issuances),
        ("settlement payments", tx.asserted_payments),
        ("asserted payments", tx.received_payments),
        ("external payments", tx.external_payments),
    ):
        if items:
            side.append(f"{len(items)} {name}")
    if tx.linked_offer is not None:
        side.append("a linked offer")
    verified = {s.asset.coin().coin_id() for s in tx.spends}
    extra = [s.coin.coin_id() for s in coin_spends if s.coin.coin_id() not in verified]
    if extra:
        side.append(f"{len(extra)} coin spend(s) the vault does not authorise")
    payments: list[Payment] = []
    clawed: list[ClawedBack] = []
    change = spent = 0
    for spend in tx.spends:
        if spend.asset.as_xch() is None:
            side.append("an asset that is not XCH")
            continue
        if spend.revoked:
            side.append("a revocation")
        spent += spend.asset.coin().amount
        if spend.clawback is not None:
            taken = spend.clawback.clawback
            if int(spend.clawback.path) != 0:  # not the sender (the vault) taking it back
                side.append("a clawback spent by its receiver or pushed through")
            clawed.append(
                ClawedBack(
                    taken.receiver_puzzle_hash,
                    address(taken.receiver_puzzle_hash, net),
                    taken.amount,
                    taken.seconds,
                )
            )
        for child in spend.children:
            amount, memo = child.asset.coin().amount, child.memos
            if child.transfer_type.is_burned():
                side.append(f"{amount} mojos burned")
            elif memo.clawback is None and memo.p2_puzzle_hash in ours:
                change += amount
            else:
                cb = memo.clawback
                payments.append(
                    Payment(
                        memo.p2_puzzle_hash,
                        address(memo.p2_puzzle_hash, net),
                        amount,
                        cb.sender_puzzle_hash if cb is not None else None,
                        cb.seconds if cb is not None else None,
                    )
                )
    recreated = tx.vault_child
    signed = tx.delegated_puzzle_hash
    if payload.path:
        signed = wrapped_delegated_puzzle_hash(vault_custody(vault).restrictions(payload.path), signed)
    return ChiaFacts(
        network=net,
        vault_coin_id=coin_id,
        custody=custody,
        path=payload.path,
        scheduled=payload.scheduled,
        signed_hash=signed,
        receive_puzzle_hash=receive,
        delegated_puzzle_hash=tx.delegated_puzzle_hash,
        payments=tuple(payments),
        change=change,
        fee=tx.reserved_fee,
        unaccounted=sum(f.unaccounted_amount for f in tx.asset_flows),
        spent=spent,
        clawed_back=tuple(clawed),
        next_custody=recreated.custody_hash if recreated is not None else None,
        next_amount=recreated.amount if recreated is not None else 0,
        side_effects=tuple(side),
    )


def check_destinations(vault: VaultDefinition, network: ChiaNetwork) -> None:
    """Every allowlisted destination is a canonical address of the vault's network."""
    for dest in vault.rules.destinations:
        if address(decode_address(dest, network), network) != dest:
            raise SchemaError(f"destination {dest!r} is not written as its canonical address")
