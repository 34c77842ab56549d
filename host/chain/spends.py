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
)
from custody.chains.chia.custody import custody_hash, decode_address, p2_puzzle_hash
from custody.chains.chia.facts import parse
from custody.chains.chia.payload import ChiaPayload, ClawbackSpec, parse_payload
from custody.schemas.chain import ChiaBinding
from custody.schemas.request import (
    Action,
    Announce,
    Cancel,
    Execute,
    RaiseLock,
    Rekey,
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
    return custody_hash(vault.keys, vault.threshold)


def locate(backend: ChiaBackend, generations: Sequence[VaultDefinition]) -> VaultCoin:
    """The vault's coin now; UsageError if it is not yet under the current generation's custody."""
    vault = generations[-1]
    found = current_vault(backend, binding(vault).launcher_id, [custody_of(g) for g in generations])
    if found.custody != custody_of(vault):
        earlier = next(g.generation for g in generations if custody_of(g) == found.custody)
        raise UsageError(
            f"on chain, vault {vault.vault_id} is still under generation {earlier}'s keys: submit the "
            f"change that made generation {vault.generation} first (host submit)"
        )
    return found


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
) -> ChiaPayload:
    vault = generations[-1]
    chia = binding(vault)
    vault_coin = locate(backend, generations)
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
    backend: ChiaBackend, generations: Sequence[VaultDefinition], announcement: SpendRequest, now: int
) -> ChiaPayload:
    vault = generations[-1]
    found = announced(backend, vault, announcement)
    if not found.exists:
        raise UsageError("the announcement's clawback coin is not on chain: was it submitted?")
    if found.spent:
        raise UsageError("the announcement's clawback coin is already spent: cancelled or paid out")
    if now >= found.clawback.seconds:
        raise UsageError("the clawback has expired: the payment can no longer be taken back")
    return cancel_payload(
        binding(vault).launcher_id, locate(backend, generations), found.coin, found.clawback
    )


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
    announcement: SpendRequest | None = None,
) -> bytes:
    """The unsigned spend that does ``action``; an announcement's clawback outlasts every station's
    review of the request by the vault's announce delay."""
    vault = generations[-1]
    if isinstance(action, Withdraw | Announce):
        until = expires_at + vault.rules.announce_delay_seconds if isinstance(action, Announce) else None
        return payment(backend, generations, action.destination, action.amount, fee, until).to_bytes()
    if fee:
        raise UsageError(f"a {action.kind.value} pays no fee from this host (--fee is for payments)")
    if isinstance(action, Cancel):
        assert announcement is not None
        return cancellation(backend, generations, announcement, now).to_bytes()
    if isinstance(action, Execute):
        raise UsageError(
            "on Chia an announcement is paid out once its clawback expires, with no signature: "
            "host release ANNOUNCEMENT"
        )
    if isinstance(action, Rekey):
        next_custody = custody_hash(action.keys, action.threshold)
    elif isinstance(action, RaiseLock):
        next_custody = custody_hash(vault.keys, action.threshold)
    else:
        raise UsageError(f"no Chia spend for a {action.kind.value}")
    return custody_payload(locate(backend, generations), next_custody).to_bytes()
