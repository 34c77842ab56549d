"""The slow rekey on chain: fewer signers than the threshold schedule it, the chain holds it for a delay
that grows with each missing signer, the main quorum can cancel it, and once the delay has passed
anyone pushes it through. The Simulator is the judge of each step."""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest

from custody.chains.base import ChainError
from custody.chains.chia.adapter import ChiaAdapter
from custody.chains.chia.assemble import assemble_bundle
from custody.chains.chia.build import (
    choose_coins,
    custody_payload,
    payment_payload,
    scheduled_rekey_bundle,
    slow_rekey_payload,
)
from custody.chains.chia.payload import parse_payload
from custody.chains.chia.recovery import successor_custody, vault_custody
from custody.policy.engine import Approve, Code, Refuse, decide
from custody.policy.history import history_signature
from custody.policy.vault_state import VaultState
from custody.schemas.bundle import Problem, SignedBundle, check_bundle
from custody.schemas.history import HistoryEntry
from custody.schemas.request import Action, Cancel, Rekey, SlowRekey, SpendRequest, Withdraw
from tests.custody.chains.chia.kit import DEST, T0, XCH, ChainKey, ChainVault, keys, mint

DAY = 86400
NOW = T0 + 7200
STATE = VaultState(vault_id="cold", installed_at=T0 - DAY)
NEW = [ChainKey(100 + i, f"new-{i}") for i in range(1, 4)]


def recoverable() -> ChainVault:
    """3 of 5; 1 or 2 stations may schedule a rekey: held 1 day + 1 day per missing signer."""
    return mint(keys(5), 3, recovery_signers=1, recovery_penalty_seconds=DAY, rekey_delay_seconds=DAY)


def request(
    cv: ChainVault, action: Action, payload: bytes, *, history: tuple[HistoryEntry, ...] = ()
) -> SpendRequest:
    return SpendRequest(
        request_id=secrets.token_bytes(16),
        vault_id=cv.definition.vault_id,
        policy_digest=cv.definition.digest(),
        created_at=NOW - 60,
        expires_at=NOW + 540,
        action=action,
        payload=payload,
        history=history,
    )


def schedule(cv: ChainVault, initiators: int) -> tuple[SpendRequest, bytes]:
    """The slow rekey to 2 of the 3 new keys, as ``initiators`` stations sign it; (request, target)."""
    action = SlowRekey(keys=tuple(k.vault_key for k in NEW), threshold=2, initiators=initiators)
    target = successor_custody(cv.definition, action.keys, action.threshold).hash
    payload = slow_rekey_payload(cv.current, vault_custody(cv.definition), initiators, target)
    return request(cv, action, payload.to_bytes()), target


def signed(cv: ChainVault, req: SpendRequest, who: tuple[int, ...], rekey_to: bytes | None = None) -> bytes:
    """Decided by the station's rules, signed by ``who``, assembled: the spend bundle's bytes."""
    facts = ChiaAdapter().parse(cv.definition, req.payload)
    verdict = decide(cv.definition, STATE, req, NOW, facts)
    assert isinstance(verdict, Approve), verdict
    sigs = {cv.signers[i].vault_key.key_id: cv.signers[i].sign(facts.message) for i in who}
    return bytes(assemble_bundle(cv.definition, parse_payload(req.payload), sigs, rekey_to).to_bytes())


def push(cv: ChainVault, data: bytes) -> None:
    from chia_wallet_sdk import SpendBundle

    cv.sim.new_transaction(SpendBundle.from_bytes(data))


def scheduled_coin(cv: ChainVault, initiators: int, target: bytes) -> None:
    cv.advance(vault_custody(cv.definition).scheduled(initiators, target).hash)


def test_two_of_five_schedule_it_the_chain_holds_it_then_anyone_pushes_it_through() -> None:
    cv = recoverable()
    req, target = schedule(cv, 2)
    facts = ChiaAdapter().parse(cv.definition, req.payload)
    assert facts.path == 2 and facts.payments == () and facts.next_custody != facts.custody
    push(cv, signed(cv, req, (3, 4), target))
    scheduled_coin(cv, 2, target)
    scheduled = vault_custody(cv.definition).scheduled(2, target)
    assert scheduled.delay == 2 * DAY  # the rekey delay, and one day for the one missing signer
    early = scheduled_rekey_bundle(cv.launcher_id, cv.current, scheduled)
    with pytest.raises(ValueError, match="AssertSecondsRelativeFailed"):
        cv.sim.new_transaction(early)
    cv.sim.pass_time(2 * DAY + 60)
    cv.sim.new_transaction(scheduled_rekey_bundle(cv.launcher_id, cv.current, scheduled))  # unsigned
    cv.advance(target)
    # the new key set now holds the vault: 2 of the new keys pay, the chain accepts
    new_def = replace(cv.definition, generation=2, keys=tuple(k.vault_key for k in NEW), threshold=2)
    cv.definition, cv.signers = new_def, NEW
    dest = ChiaAdapter.puzzle_hash_of(new_def, DEST)
    coins = choose_coins(cv.coins(), 5 * XCH)
    pay = request(cv, Withdraw(asset="TXCH", amount=5 * XCH, destination=DEST), b"")
    pay = replace(
        pay, payload=payment_payload(cv.launcher_id, cv.current, coins, dest, 5 * XCH, 0, None).to_bytes()
    )
    push(cv, signed(cv, pay, (0, 1)))
    assert cv.balance(dest) == 5 * XCH


def test_the_main_quorum_cancels_a_scheduled_rekey_within_its_delay() -> None:
    cv = recoverable()
    req, target = schedule(cv, 2)
    facts = ChiaAdapter().parse(cv.definition, req.payload)
    responses = [cv.signers[i].respond(req, facts.message, approved_at=NOW) for i in (3, 4)]
    push(cv, signed(cv, req, (3, 4), target))
    scheduled_coin(cv, 2, target)
    entry = HistoryEntry(
        request=req.core(),
        signatures=tuple(sorted((history_signature(r) for r in responses), key=lambda s: s.key_id)),
    )
    custody = vault_custody(cv.definition)
    cancel = request(
        cv,
        Cancel(announce_id=req.request_id),
        custody_payload(cv.current, custody.hash, scheduled=(2, target)).to_bytes(),
        history=(entry,),
    )
    cv.sim.pass_time(DAY)  # a day into the two-day delay
    push(cv, signed(cv, cancel, (0, 1, 2)))
    stale = scheduled_rekey_bundle(cv.launcher_id, cv.current, custody.scheduled(2, target))
    cv.advance(custody.hash)
    cv.sim.pass_time(2 * DAY)
    with pytest.raises(ValueError, match=r"DoubleSpend"):
        cv.sim.new_transaction(stale)  # the rekey it held is gone
    # the old key set still holds the vault
    dest = ChiaAdapter.puzzle_hash_of(cv.definition, DEST)
    coins = choose_coins(cv.coins(), 5 * XCH)
    pay = request(
        cv,
        Withdraw(asset="TXCH", amount=5 * XCH, destination=DEST),
        payment_payload(cv.launcher_id, cv.current, coins, dest, 5 * XCH, 0, None).to_bytes(),
    )
    push(cv, signed(cv, pay, (0, 2, 4)))
    assert cv.balance(dest) == 5 * XCH


def test_each_missing_signer_lengthens_the_delay() -> None:
    cv = recoverable()
    req, target = schedule(cv, 1)  # one signer: two missing
    push(cv, signed(cv, req, (4,), target))
    scheduled_coin(cv, 1, target)
    scheduled = vault_custody(cv.definition).scheduled(1, target)
    assert scheduled.delay == 3 * DAY
    cv.sim.pass_time(2 * DAY + 60)  # enough for two initiators, not for one
    with pytest.raises(ValueError, match="AssertSecondsRelativeFailed"):
        cv.sim.new_transaction(scheduled_rekey_bundle(cv.launcher_id, cv.current, scheduled))
    cv.sim.pass_time(DAY)
    cv.sim.new_transaction(scheduled_rekey_bundle(cv.launcher_id, cv.current, scheduled))


def test_a_slow_rekey_needs_only_its_initiators_signatures_and_a_rekey_all_of_the_threshold() -> None:
    cv = recoverable()
    req, _ = schedule(cv, 2)
    message = ChiaAdapter().parse(cv.definition, req.payload).message
    two = tuple(cv.signers[i].respond(req, message, approved_at=NOW) for i in (3, 4))
    assert check_bundle(cv.definition, SignedBundle(request=req, responses=two), now=NOW) == []
    assert check_bundle(cv.definition, SignedBundle(request=req, responses=two[:1]), now=NOW)[0].problem is (
        Problem.TOO_FEW
    )
    fast = replace(req, action=Rekey(keys=tuple(k.vault_key for k in NEW), threshold=2))
    findings = check_bundle(
        cv.definition,
        SignedBundle(
            request=fast, responses=tuple(k.respond(fast, message, approved_at=NOW) for k in cv.signers[3:])
        ),
        now=NOW,
    )
    assert Problem.TOO_FEW in {f.problem for f in findings}


def test_attack_initiators_cannot_pay_themselves_or_rekey_at_once() -> None:
    """The recovery path signs only the scheduled form: a payment, or a direct custody change, on that
    path is refused by the station and rejected by the chain."""
    cv = recoverable()
    dest = ChiaAdapter.puzzle_hash_of(cv.definition, DEST)
    coins = choose_coins(cv.coins(), 5 * XCH)
    theft = replace(payment_payload(cv.launcher_id, cv.current, coins, dest, 5 * XCH, 0, None), path=2)
    req = request(cv, Withdraw(asset="TXCH", amount=5 * XCH, destination=DEST), theft.to_bytes())
    facts = ChiaAdapter().parse(cv.definition, req.payload)
    verdict = decide(cv.definition, STATE, req, NOW, facts)
    assert isinstance(verdict, Refuse) and verdict.code is Code.PAYLOAD_MISMATCH
    target = successor_custody(cv.definition, tuple(k.vault_key for k in NEW), 2).hash
    sigs = {cv.signers[i].vault_key.key_id: cv.signers[i].sign(facts.message) for i in (3, 4)}
    with pytest.raises(ValueError, match="GeneratorRuntimeError"):  # the path's restrictions raise
        cv.sim.new_transaction(assemble_bundle(cv.definition, theft, sigs, target))
    at_once = replace(custody_payload(cv.current, target), path=2)  # straight to the new keys
    at_once_facts = ChiaAdapter().parse(cv.definition, at_once.to_bytes())
    sigs = {cv.signers[i].vault_key.key_id: cv.signers[i].sign(at_once_facts.message) for i in (3, 4)}
    with pytest.raises(ValueError, match="GeneratorRuntimeError"):  # not the scheduled form
        cv.sim.new_transaction(assemble_bundle(cv.definition, at_once, sigs, target))
    slow = request(
        cv, SlowRekey(keys=tuple(k.vault_key for k in NEW), threshold=2, initiators=2), at_once.to_bytes()
    )
    verdict = decide(cv.definition, STATE, slow, NOW, at_once_facts)
    assert isinstance(verdict, Refuse) and verdict.code is Code.CUSTODY


def test_attack_too_few_initiators_or_a_vault_without_recovery_is_refused() -> None:
    cv = recoverable()
    action = SlowRekey(keys=tuple(k.vault_key for k in NEW), threshold=2, initiators=3)  # = the threshold
    verdict = decide(cv.definition, STATE, request(cv, action, b""), NOW)
    assert isinstance(verdict, Refuse) and verdict.code is Code.RECOVERY_PATH
    plain = mint(keys(5), 3)
    target = successor_custody(plain.definition, tuple(k.vault_key for k in NEW), 2).hash
    with pytest.raises(ChainError, match="no recovery path"):
        ChiaAdapter().parse(
            plain.definition,
            slow_rekey_payload(plain.current, vault_custody(cv.definition), 2, target).to_bytes(),
        )


def test_attack_while_a_rekey_is_held_the_main_quorum_may_only_cancel_it() -> None:
    cv = recoverable()
    req, target = schedule(cv, 2)
    push(cv, signed(cv, req, (3, 4), target))
    scheduled_coin(cv, 2, target)
    dest = ChiaAdapter.puzzle_hash_of(cv.definition, DEST)
    coins = choose_coins(cv.coins(), 5 * XCH)
    pay = replace(
        payment_payload(cv.launcher_id, cv.current, coins, dest, 5 * XCH, 0, None), scheduled=(2, target)
    )
    withdraw = request(cv, Withdraw(asset="TXCH", amount=5 * XCH, destination=DEST), pay.to_bytes())
    verdict = decide(
        cv.definition, STATE, withdraw, NOW, ChiaAdapter().parse(cv.definition, withdraw.payload)
    )
    assert isinstance(verdict, Refuse) and verdict.code is Code.PAYLOAD_MISMATCH
    assert "scheduled rekey" in verdict.text


def test_the_scheduled_custody_is_recomputed_not_trusted() -> None:
    """A payload claiming the coin holds another rekey than it does does not parse as this vault's."""
    cv = recoverable()
    req, target = schedule(cv, 2)
    push(cv, signed(cv, req, (3, 4), target))
    scheduled_coin(cv, 2, target)
    lie = custody_payload(cv.current, vault_custody(cv.definition).hash, scheduled=(2, bytes(32)))
    with pytest.raises(ChainError, match="not this vault's"):
        ChiaAdapter().parse(cv.definition, lie.to_bytes())


def test_attack_a_rekey_down_to_what_the_recovery_path_can_sign_is_refused() -> None:
    """Lowering the lock level to the recovery signers would let the initiators act as the quorum."""
    cv = mint(keys(5), 3, recovery_signers=2, recovery_penalty_seconds=DAY, rekey_delay_seconds=DAY)
    action = Rekey(keys=cv.definition.keys, threshold=2)
    payload = custody_payload(cv.current, bytes(32))  # whatever it builds, the rule refuses first
    req = request(cv, action, payload.to_bytes())
    verdict = decide(cv.definition, STATE, req, NOW, ChiaAdapter().parse(cv.definition, req.payload))
    assert isinstance(verdict, Refuse) and verdict.code is Code.CUSTODY
    assert "must exceed the 2 stations" in verdict.text
