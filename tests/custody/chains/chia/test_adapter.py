"""The Chia adapter on the SDK's Simulator: what the station derives, signs, and what the chain accepts."""

from __future__ import annotations

import secrets

import pytest

from custody.chains.chia.adapter import ChiaAdapter
from custody.chains.chia.assemble import assemble_bundle, judge_bundle
from custody.chains.chia.build import choose_coins, payment_payload
from custody.chains.chia.payload import parse_payload
from custody.policy.engine import Approve, decide
from custody.policy.vault_state import VaultState
from custody.schemas.key_record import Algorithm
from custody.schemas.request import SpendRequest, Withdraw
from tests.custody.chains.chia.kit import DEST, T0, XCH, ChainVault, keys, mint

FEE = XCH // 10_000


def withdrawal(cv: ChainVault, amount: int, *, fee: int = FEE, now: int = T0 + 7200) -> SpendRequest:
    adapter = ChiaAdapter()
    coins = choose_coins(cv.coins(), amount + fee)
    payload = payment_payload(
        cv.launcher_id, cv.current, coins, adapter.puzzle_hash_of(cv.definition, DEST), amount, fee, None
    )
    return SpendRequest(
        request_id=secrets.token_bytes(16),
        vault_id=cv.definition.vault_id,
        policy_digest=cv.definition.digest(),
        created_at=now - 60,
        expires_at=now + 540,
        action=Withdraw(asset="TXCH", amount=amount, destination=DEST),
        fee=fee,
        payload=payload.to_bytes(),
    )


def sign(cv: ChainVault, request: SpendRequest, who: tuple[int, ...]) -> dict[bytes, bytes]:
    facts = ChiaAdapter().parse(cv.definition, request.payload)
    return {cv.signers[i].vault_key.key_id: cv.signers[i].sign(facts.message) for i in who}


@pytest.mark.parametrize("algorithm", [Algorithm.P256, Algorithm.SECP256K1], ids=["r1", "k1"])
@pytest.mark.parametrize(("m", "n"), [(2, 3), (3, 5)])
def test_a_withdrawal_is_derived_decided_signed_and_accepted_by_the_chain(
    algorithm: Algorithm, m: int, n: int
) -> None:
    cv = mint(keys(n, algorithm), m, fund=(30 * XCH, 25 * XCH, 45 * XCH))
    request = withdrawal(cv, 50 * XCH)
    facts = ChiaAdapter().parse(cv.definition, request.payload)
    assert [(p.address, p.amount, p.clawback_until) for p in facts.payments] == [(DEST, 50 * XCH, None)]
    assert facts.fee == FEE and facts.unaccounted == 0 and facts.side_effects == ()
    assert facts.spent > 50 * XCH and facts.change == facts.spent - 50 * XCH - FEE  # two coins at least
    state = VaultState(vault_id="cold", installed_at=T0 - 86400)
    verdict = decide(cv.definition, state, request, T0 + 7200, facts)
    assert isinstance(verdict, Approve), verdict
    bundle = assemble_bundle(
        cv.definition, parse_payload(request.payload), sign(cv, request, tuple(range(n))[-m:])
    )
    assert judge_bundle(bundle, T0 + 7200) == []
    cv.sim.new_transaction(bundle)
    assert cv.balance(ChiaAdapter().puzzle_hash_of(cv.definition, DEST)) == 50 * XCH
    assert cv.balance() == 100 * XCH - 50 * XCH - FEE
