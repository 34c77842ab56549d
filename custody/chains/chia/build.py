"""Building unsigned Chia vault spends: pure functions of the vault, its coins and what to do.

The host reads coins from a chain and calls these; tests call them with
Simulator coins. Layout of a withdrawal: the vault's delegated spend
recreates the vault and sends each selected fund coin a message carrying that
coin's delegated puzzle hash (that is how the vault authorises it). The first
fund coin creates the payment (directly, or into a ``ClawbackV2`` the vault
can take back until a time), the change back to the vault's receive address,
and reserves the fee; the others add their value to the transaction. A
cancellation is the vault taking a clawback coin back to its receive
address; the vault's spend must then expire no later than the clawback does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chia_wallet_sdk import (
    ClawbackV2,
    Clvm,
    Coin,
    Program,
    Signature,
    Spend,
    SpendBundle,
    Vault,
    VaultInfo,
    select_coins,
)

from custody.chains.base import ChainError
from custody.chains.chia.custody import TOP, p2_puzzle_hash
from custody.chains.chia.payload import (
    RECEIVE_PUZZLE,
    ChiaPayload,
    ClawbackSpec,
    CoinSpec,
    FundSpend,
    lineage,
)
from custody.chains.chia.recovery import Custody, Scheduled

#: The vault singleton is always 1 mojo.
VAULT_AMOUNT = 1
#: The message mode the vault uses to authorise a coin (sender: puzzle; receiver: coin id).
VAULT_MESSAGE_MODE = 23


@dataclass(frozen=True, slots=True)
class VaultCoin:
    """The vault's current singleton coin and its lineage proof, as read from the chain."""

    coin: Coin
    proof: tuple[bytes, bytes, int]  # parent's parent coin id, parent's custody (empty: the launcher), amount
    custody: bytes


def choose_coins(coins: Sequence[Coin], amount: int) -> list[Coin]:
    """The SDK's coin selection; ChainError when the vault holds too little."""
    total = sum(c.amount for c in coins)
    if total < amount:
        raise ChainError(f"the vault holds {total} mojos; {amount} are needed")
    try:
        return list(select_coins(list(coins), amount))
    except (ValueError, RuntimeError) as exc:
        raise ChainError(f"coin selection failed: {exc}") from None


def _fund_spend(clvm: Clvm, launcher_id: bytes, vault: VaultCoin, coin: Coin, delegated: Spend) -> FundSpend:
    mips = clvm.mips_spend(coin, delegated)
    mips.singleton_member(TOP, launcher_id, False, vault.custody, VAULT_AMOUNT)
    spend = mips.spend(coin.puzzle_hash)
    return FundSpend(CoinSpec.of(coin), RECEIVE_PUZZLE, spend.solution.serialize())


def _payload(
    clvm: Clvm,
    vault: VaultCoin,
    next_custody: bytes,
    authorised: Sequence[tuple[Coin, Spend]],
    spends: Sequence[FundSpend],
    extra: Sequence[Program] = (),
    reveals: tuple[bytes, ...] = (),
    clawbacks: tuple[ClawbackSpec, ...] = (),
    path: int = 0,
    scheduled: tuple[int, bytes] | None = None,
) -> ChiaPayload:
    conditions = [clvm.create_coin(next_custody, VAULT_AMOUNT, None), *extra]
    for coin, delegated in authorised:
        conditions.append(
            clvm.send_message(VAULT_MESSAGE_MODE, delegated.puzzle.tree_hash(), [clvm.alloc(coin.coin_id())])
        )
    delegated_vault = clvm.delegated_spend(conditions)
    return ChiaPayload(
        vault_coin=CoinSpec.of(vault.coin),
        vault_proof=vault.proof,
        delegated_puzzle=delegated_vault.puzzle.serialize(),
        delegated_solution=delegated_vault.solution.serialize(),
        spends=tuple(spends),
        reveals=reveals,
        clawbacks=clawbacks,
        path=path,
        scheduled=scheduled,
    )


def payment_payload(
    launcher_id: bytes,
    vault: VaultCoin,
    coins: Sequence[Coin],
    destination: bytes,
    amount: int,
    fee: int,
    clawback_until: int | None,
) -> ChiaPayload:
    """Pay ``amount`` to ``destination`` from ``coins`` (already selected), directly or into a clawback."""
    clvm = Clvm()
    receive = p2_puzzle_hash(launcher_id)
    change = sum(c.amount for c in coins) - amount - fee
    if change < 0 or not coins:
        raise ChainError("the selected coins do not cover the amount and the fee")
    if clawback_until is None:
        pay = clvm.create_coin(destination, amount, clvm.alloc([destination]))
    else:
        clawback = ClawbackV2(receive, destination, clawback_until, amount, False)
        pay = clvm.create_coin(clawback.puzzle_hash(), amount, clvm.alloc([destination, clawback.memo(clvm)]))
    first = [pay]
    if change:
        first.append(clvm.create_coin(receive, change, clvm.alloc([launcher_id])))
    if fee:
        first.append(clvm.reserve_fee(fee))
    delegated = [clvm.delegated_spend(first)] + [clvm.delegated_spend([]) for _ in coins[1:]]
    authorised = list(zip(coins, delegated, strict=True))
    spends = [_fund_spend(clvm, launcher_id, vault, c, d) for c, d in authorised]
    return _payload(clvm, vault, vault.custody, authorised, spends)


def clawback_coin(announcement_parent: Coin, clawback: ClawbackSpec) -> Coin:
    return Coin(announcement_parent.coin_id(), clawback.clawback().puzzle_hash(), clawback.amount)


def cancel_payload(launcher_id: bytes, vault: VaultCoin, coin: Coin, clawback: ClawbackSpec) -> ChiaPayload:
    """Take ``coin`` (a clawback the vault paid into) back to the vault before it expires."""
    clvm = Clvm()
    receive = p2_puzzle_hash(launcher_id)
    delegated = clvm.delegated_spend([clvm.create_coin(receive, clawback.amount, clvm.alloc([launcher_id]))])
    mips = clvm.mips_spend(coin, delegated)
    mips.singleton_member(TOP, launcher_id, False, vault.custody, VAULT_AMOUNT)
    spend = clawback.clawback().sender_spend(mips.spend(receive))
    fund = FundSpend(CoinSpec.of(coin), 0, spend.solution.serialize())
    expiry = [clvm.assert_before_seconds_absolute(clawback.seconds)]
    return _payload(
        clvm,
        vault,
        vault.custody,
        [(coin, delegated)],
        [fund],
        extra=expiry,
        reveals=(spend.puzzle.serialize(),),
        clawbacks=(clawback,),
    )


def custody_payload(
    vault: VaultCoin, next_custody: bytes, scheduled: tuple[int, bytes] | None = None
) -> ChiaPayload:
    """Recreate the vault under ``next_custody``: a rekey, or a raised lock; from a vault coin holding a
    slow rekey (``scheduled``), the main quorum's cancellation of it."""
    return _payload(Clvm(), vault, next_custody, [], [], scheduled=scheduled)


def slow_rekey_payload(
    vault: VaultCoin, custody: Custody, initiators: int, next_custody: bytes
) -> ChiaPayload:
    """The recovery path of ``initiators`` signers schedules a rekey to ``next_custody``; the singleton
    restates its amount, as the path's ``force_singleton_recreation`` restriction requires."""
    clvm = Clvm()
    scheduled = custody.scheduled(initiators, next_custody)
    return _payload(
        clvm, vault, scheduled.hash, [], [], extra=[clvm.assert_my_amount(VAULT_AMOUNT)], path=initiators
    )


def scheduled_rekey_bundle(launcher_id: bytes, vault: VaultCoin, scheduled: Scheduled) -> SpendBundle:
    """The rekey a slow rekey scheduled, once its delay has passed: no signature, the chain held it."""
    clvm = Clvm()
    mips = clvm.mips_spend(vault.coin, scheduled.rekey_spend(clvm))
    mips.m_of_n(TOP, 1, scheduled.leaves)
    mips.fixed_puzzle_member(scheduled.fixed_config, scheduled.fixed)
    mips.timelock(scheduled.delay)
    mips.spend_vault(Vault(vault.coin, lineage(vault.proof), VaultInfo(launcher_id, scheduled.hash)))
    return SpendBundle(clvm.coin_spends(), Signature.infinity())
