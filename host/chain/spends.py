"""Unsigned Chia spends for a vault, built from what the chain holds now.

The host reads the vault's coin and its funds from a backend and builds the
payload with ``custody.chains.chia.build``, the same code the tests drive on
the Simulator. What an announcement paid into is found again from the
announcement's own payload (the stations signed exactly that), never from a
note the host kept beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chia_wallet_sdk import Clvm, Coin, Signature, SpendBundle

from custody.chains.base import ChainError
from custody.chains.chia.build import (
    VaultCoin,
    cancel_payload,
    choose_coins,
    custody_payload,
    payment_payload,
    scheduled_rekey_bundle,
    slow_rekey_payload,
)
from custody.chains.chia.custody import decode_address, p2_puzzle_hash
from custody.chains.chia.facts import parse
from custody.chains.chia.payload import ChiaPayload, ClawbackSpec, parse_payload
from custody.chains.chia.recovery import successor_custody, vault_custody
from custody.schemas.chain import ChiaBinding
from custody.schemas.request import (
    Action,
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
from host.chain.backend import ChiaBackend, current_vault
from host.errors import UsageError


def binding(vault: VaultDefinition) -> ChiaBinding:
    if not isinstance(vault.chain, ChiaBinding):
        raise UsageError(f"vault {vault.vault_id!r} is not on a chain")
    return vault.chain


def custody_of(vault: VaultDefinition) -> bytes:
    return vault_custody(vault).hash


@dataclass(frozen=True, slots=True)
class Located:
    """The vault's coin now, and the slow rekey it is holding, if any."""

    coin: VaultCoin
    rekey: SpendRequest | None  # the finalized slow rekey whose scheduled custody holds the coin
    scheduled: tuple[int, bytes] | None  # (initiators, next custody) of that rekey

    def free(self) -> VaultCoin:
        """The coin for an ordinary spend; UsageError while a slow rekey holds it."""
        if self.rekey is not None:
            rid = self.rekey.request_id.hex()[:8]
            raise UsageError(
                f"the vault is holding the slow rekey {rid}: cancel it (host request cancel {rid}) or, once "
                f"its delay has passed, push it through (host release {rid})"
            )
        return self.coin


def scheduled_by(vault: VaultDefinition, rekey: SpendRequest) -> tuple[int, bytes]:
    """A slow rekey's (initiators, next custody), recomputed from the request."""
    action = rekey.action
    assert isinstance(action, SlowRekey)
    return action.initiators, successor_custody(vault, action.keys, action.threshold).hash


def locate(
    backend: ChiaBackend, generations: Sequence[VaultDefinition], slow: Sequence[SpendRequest] = ()
) -> Located:
    """The vault's coin, walked from its launcher through every custody its generations and finalized
    slow rekeys name; UsageError if it is not yet under the current generation's custody."""
    vault = generations[-1]
    known: dict[bytes, tuple[VaultDefinition, SpendRequest | None]] = {
        custody_of(g): (g, None) for g in generations
    }
    by_digest = {g.digest(): g for g in generations}
    for request in slow:
        origin = by_digest.get(request.policy_digest)
        if origin is not None:
            initiators, target = scheduled_by(origin, request)
            known[vault_custody(origin).scheduled(initiators, target).hash] = (origin, request)
    found = current_vault(backend, binding(vault).launcher_id, list(known))
    holder, rekey = known[found.custody]
    if holder.generation != vault.generation:
        raise UsageError(
            f"on chain, vault {vault.vault_id} is still under generation {holder.generation}'s keys: submit "
            f"(or release) the change that made generation {vault.generation} first"
        )
    return Located(found, rekey, scheduled_by(holder, rekey) if rekey is not None else None)


def funds(backend: ChiaBackend, vault: VaultDefinition) -> list[Coin]:
    coins = backend.coins(p2_puzzle_hash(binding(vault).launcher_id))
    return sorted(coins, key=lambda c: (c.amount, c.coin_id()))


def payment(
    backend: ChiaBackend,
    generations: Sequence[VaultDefinition],
    destination: str,
    amount: int,
    fee: int,
    clawback_until: int | None,
    slow: Sequence[SpendRequest] = (),
) -> ChiaPayload:
    vault = generations[-1]
    chia = binding(vault)
    vault_coin = locate(backend, generations, slow).free()
    try:
        coins = choose_coins(funds(backend, vault), amount + fee)
        to = decode_address(destination, chia.net)
    except ChainError as exc:
        raise UsageError(str(exc)) from None
    return payment_payload(chia.launcher_id, vault_coin, coins, to, amount, fee, clawback_until)


@dataclass(frozen=True, slots=True)
class Announced:
    """What an announcement paid into: its clawback coin, as the announcement's payload made it."""

    coin: Coin
    clawback: ClawbackSpec
    spent: bool
    exists: bool
    paid_to: bytes | None = None  # once spent: where its value went (the vault, or the receiver)


def announced(backend: ChiaBackend, vault: VaultDefinition, announcement: SpendRequest) -> Announced:
    if not isinstance(announcement.action, Announce):
        raise UsageError("not an announcement")
    facts = parse(vault, announcement.payload)
    specs = [
        ClawbackSpec(p.clawback_sender, p.puzzle_hash, p.clawback_until, p.amount)
        for p in facts.payments
        if p.clawback_sender is not None and p.clawback_until is not None
    ]
    if len(specs) != 1:
        raise UsageError("the announcement's spend pays into no clawback")
    spec = specs[0]
    puzzle_hash = spec.clawback().puzzle_hash()
    payload = parse_payload(announcement.payload)
    candidates = [Coin(s.coin.coin().coin_id(), puzzle_hash, spec.amount) for s in payload.spends]
    for coin in candidates:
        state = backend.coin_state(coin.coin_id())
        if state is not None:
            spent = state.spent_height is not None
            went = [c.coin.puzzle_hash for c in backend.children(coin.coin_id())] if spent else []
            return Announced(coin, spec, spent, True, went[0] if len(went) == 1 else None)
    return Announced(candidates[0], spec, False, False)


def cancellation(
    backend: ChiaBackend,
    generations: Sequence[VaultDefinition],
    announcement: SpendRequest,
    now: int,
    slow: Sequence[SpendRequest] = (),
) -> ChiaPayload:
    vault = generations[-1]
    found = announced(backend, vault, announcement)
    if not found.exists:
        raise UsageError("the announcement's clawback coin is not on chain: was it submitted?")
    if found.spent:
        raise UsageError("the announcement's clawback coin is already spent: cancelled or paid out")
    if now >= found.clawback.seconds:
        raise UsageError("the clawback has expired: the payment can no longer be taken back")
    coin = locate(backend, generations, slow).free()
    return cancel_payload(binding(vault).launcher_id, coin, found.coin, found.clawback)


def push_through(
    backend: ChiaBackend, vault: VaultDefinition, announcement: SpendRequest, now: int
) -> SpendBundle:
    """The unsigned spend that pays an announcement out once its clawback has expired."""
    found = announced(backend, vault, announcement)
    if not found.exists:
        raise UsageError("the announcement's clawback coin is not on chain: was it submitted?")
    if found.spent:
        raise UsageError("the announcement's clawback coin is already spent: cancelled or paid out")
    if now <= found.clawback.seconds:
        raise UsageError(f"the clawback runs until {found.clawback.seconds}: it cannot be pushed through yet")
    clvm = Clvm()
    clvm.spend_coin(found.coin, found.clawback.clawback().push_through_spend(clvm))
    return SpendBundle(clvm.coin_spends(), Signature.infinity())


def payload_for(
    backend: ChiaBackend,
    generations: Sequence[VaultDefinition],
    action: Action,
    fee: int,
    expires_at: int,
    now: int,
    target: SpendRequest | None = None,
    slow: Sequence[SpendRequest] = (),
) -> bytes:
    """The unsigned spend that does ``action``; an announcement's clawback outlasts every station's
    review of the request by the vault's announce delay. ``target``: what a cancel cancels.
    ``slow``: the vault's finalized slow rekeys, which the vault coin may be holding."""
    vault = generations[-1]
    if isinstance(action, Withdraw | Announce):
        until = expires_at + vault.rules.announce_delay_seconds if isinstance(action, Announce) else None
        return payment(backend, generations, action.destination, action.amount, fee, until, slow).to_bytes()
    if fee:
        raise UsageError(f"a {action.kind.value} pays no fee from this host (--fee is for payments)")
    if isinstance(action, Cancel):
        assert target is not None
        if isinstance(target.action, SlowRekey):
            return rekey_cancellation(backend, generations, target, slow).to_bytes()
        return cancellation(backend, generations, target, now, slow).to_bytes()
    if isinstance(action, Execute):
        raise UsageError(
            "on Chia an announcement is paid out once its clawback expires, with no signature: "
            "host release ANNOUNCEMENT"
        )
    coin = locate(backend, generations, slow).free()
    if isinstance(action, SlowRekey):
        target_custody = successor_custody(vault, action.keys, action.threshold).hash
        return slow_rekey_payload(coin, vault_custody(vault), action.initiators, target_custody).to_bytes()
    if isinstance(action, Rekey):
        next_custody = successor_custody(vault, action.keys, action.threshold).hash
    elif isinstance(action, RaiseLock):
        next_custody = successor_custody(vault, vault.keys, action.threshold).hash
    else:
        raise UsageError(f"no Chia spend for a {action.kind.value}")
    return custody_payload(coin, next_custody).to_bytes()


def rekey_cancellation(
    backend: ChiaBackend,
    generations: Sequence[VaultDefinition],
    rekey: SpendRequest,
    slow: Sequence[SpendRequest],
) -> ChiaPayload:
    """The main quorum takes the vault back from a slow rekey the chain is holding."""
    located = locate(backend, generations, slow)
    if located.rekey is None or located.rekey.request_id != rekey.request_id:
        raise UsageError(
            "the vault is not holding that slow rekey: it was cancelled, released, or never submitted"
        )
    return custody_payload(located.coin, custody_of(generations[-1]), scheduled=located.scheduled)


def rekey_release(
    backend: ChiaBackend,
    generations: Sequence[VaultDefinition],
    rekey: SpendRequest,
    slow: Sequence[SpendRequest],
) -> SpendBundle:
    """The rekey a slow rekey scheduled, once the chain's delay has passed: unsigned."""
    vault = generations[-1]
    located = locate(backend, generations, slow)
    if located.rekey is None or located.rekey.request_id != rekey.request_id or located.scheduled is None:
        raise UsageError(
            "the vault is not holding that slow rekey: it was cancelled, released, or never submitted"
        )
    scheduled = vault_custody(vault).scheduled(*located.scheduled)
    return scheduled_rekey_bundle(binding(vault).launcher_id, located.coin, scheduled)
