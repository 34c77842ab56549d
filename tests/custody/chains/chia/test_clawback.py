"""The prefarm pattern on chain: announce into a clawback, claw it back, or push it through after."""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest
from chia_wallet_sdk import Clvm, Coin, Signature, SpendBundle

from custody.chains.chia.adapter import ChiaAdapter
from custody.chains.chia.assemble import assemble_bundle
from custody.chains.chia.build import cancel_payload, choose_coins, payment_payload
from custody.chains.chia.payload import ClawbackSpec, parse_payload
from custody.policy.engine import Approve, Code, Refuse, decide
from custody.policy.history import history_signature
from custody.policy.vault_state import VaultState
from custody.schemas.history import HistoryEntry
from custody.schemas.request import Announce, Cancel, SpendRequest, Withdraw
from tests.custody.chains.chia.kit import DEST, T0, XCH, ChainVault, keys, mint
from tests.custody.chains.chia.test_adapter import FEE, sign

DAY = 86400
NOW = T0 + 7200
STATE = VaultState(vault_id="cold", installed_at=T0 - DAY)


def two_phase() -> ChainVault:
    return mint(keys(3), 2, announce_delay_seconds=DAY, announce_expiry_seconds=DAY)


def announcement(
    cv: ChainVault, amount: int, until: int, *, now: int = NOW
) -> tuple[SpendRequest, ClawbackSpec]:
    adapter = ChiaAdapter()
    dest = adapter.puzzle_hash_of(cv.definition, DEST)
    coins = choose_coins(cv.coins(), amount + FEE)
    payload = payment_payload(cv.launcher_id, cv.current, coins, dest, amount, FEE, until)
    request = SpendRequest(
        request_id=secrets.token_bytes(16),
        vault_id=cv.definition.vault_id,
        policy_digest=cv.definition.digest(),
        created_at=now - 60,
        expires_at=now + 540,
        action=Announce(asset="TXCH", amount=amount, destination=DEST),
        fee=FEE,
        payload=payload.to_bytes(),
    )
    return request, ClawbackSpec(cv.receive, dest, until, amount)


def push(cv: ChainVault, request: SpendRequest, who: tuple[int, ...] = (0, 1)) -> None:
    cv.sim.new_transaction(
        assemble_bundle(cv.definition, parse_payload(request.payload), sign(cv, request, who))
    )
    cv.advance()


def test_announce_then_cancel_before_expiry() -> None:
    cv = two_phase()
    announce, clawback = announcement(cv, 20 * XCH, NOW + DAY + 600)
    facts = ChiaAdapter().parse(cv.definition, announce.payload)
    [pay] = facts.payments
    assert pay.clawback_until == NOW + DAY + 600 and pay.clawback_sender == cv.receive
    assert isinstance(decide(cv.definition, STATE, announce, NOW, facts), Approve)
    parent = choose_coins(cv.coins(), 20 * XCH + FEE)[0]
    push(cv, announce)
    coin = Coin(parent.coin_id(), clawback.clawback().puzzle_hash(), clawback.amount)
    assert cv.sim.coin_state(coin.coin_id()) is not None
    # a quorum claws it back an hour later; the cancellation names the announcement in its history
    message = facts.message
    responses = [k.respond(announce, message, approved_at=NOW) for k in cv.signers[:2]]
    entry = HistoryEntry(
        request=announce.core(),
        signatures=tuple(sorted((history_signature(r) for r in responses), key=lambda s: s.key_id)),
    )
    cancel = SpendRequest(
        request_id=secrets.token_bytes(16),
        vault_id=cv.definition.vault_id,
        policy_digest=cv.definition.digest(),
        created_at=NOW + 3600,
        expires_at=NOW + 4000,
        action=Cancel(announce_id=announce.request_id),
        payload=cancel_payload(cv.launcher_id, cv.current, coin, clawback).to_bytes(),
        history=(entry,),
    )
    cancel_facts = ChiaAdapter().parse(cv.definition, cancel.payload)
    assert [(c.address, c.amount) for c in cancel_facts.clawed_back] == [(DEST, 20 * XCH)]
    verdict = decide(cv.definition, STATE, cancel, NOW + 3700, cancel_facts)
    assert isinstance(verdict, Approve), verdict
    before = cv.balance()
    cv.sim.set_next_timestamp(NOW + 3700)
    push(cv, cancel, (1, 2))  # another quorum may cancel
    assert cv.balance() == before + 20 * XCH
    assert cv.balance(ChiaAdapter().puzzle_hash_of(cv.definition, DEST)) == 0


def test_a_push_before_expiry_is_rejected_and_after_it_pays() -> None:
    cv = two_phase()
    until = NOW + DAY + 600
    announce, clawback = announcement(cv, 20 * XCH, until)
    parent = choose_coins(cv.coins(), 20 * XCH + FEE)[0]
    push(cv, announce)
    coin = Coin(parent.coin_id(), clawback.clawback().puzzle_hash(), clawback.amount)
    clvm = Clvm()
    clvm.spend_coin(coin, clawback.clawback().push_through_spend(clvm))
    early = SpendBundle(clvm.coin_spends(), Signature.infinity())
    with pytest.raises(ValueError, match="AssertSecondsAbsoluteFailed"):
        cv.sim.new_transaction(early)
    cv.sim.set_next_timestamp(until + 1)
    cv.sim.new_transaction(early)  # no signature: the chain enforced the wait, anyone may push
    assert cv.balance(ChiaAdapter().puzzle_hash_of(cv.definition, DEST)) == 20 * XCH


def test_a_clawback_too_short_or_not_the_vaults_is_refused() -> None:
    cv = two_phase()
    short, _ = announcement(cv, 20 * XCH, NOW + DAY - 1)
    facts = ChiaAdapter().parse(cv.definition, short.payload)
    verdict = decide(cv.definition, STATE, short, NOW, facts)
    assert isinstance(verdict, Refuse) and verdict.code is Code.CLAWBACK
    direct = replace(short, action=Withdraw(asset="TXCH", amount=20 * XCH, destination=DEST))
    verdict = decide(cv.definition, STATE, direct, NOW, facts)
    assert isinstance(verdict, Refuse) and verdict.code is Code.ANNOUNCE_REQUIRED


def test_a_withdrawal_that_skips_the_clawback_is_refused_in_a_two_phase_vault() -> None:
    cv = two_phase()
    adapter = ChiaAdapter()
    coins = choose_coins(cv.coins(), 20 * XCH + FEE)
    direct = payment_payload(
        cv.launcher_id, cv.current, coins, adapter.puzzle_hash_of(cv.definition, DEST), 20 * XCH, FEE, None
    )
    announce, _ = announcement(cv, 20 * XCH, NOW + DAY + 600)
    disguised = replace(announce, payload=direct.to_bytes())  # says announce, pays at once
    verdict = decide(cv.definition, STATE, disguised, NOW, adapter.parse(cv.definition, direct.to_bytes()))
    assert isinstance(verdict, Refuse) and verdict.code is Code.PAYLOAD_MISMATCH
