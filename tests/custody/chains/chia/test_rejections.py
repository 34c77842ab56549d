"""Each attack on a Chia vault spend: refused by the station's rules, and rejected by the chain
wherever the chain can see it (the Simulator is the judge)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from chia_wallet_sdk import (
    Clvm,
    R1PublicKey,
    R1Signature,
    Signature,
    SpendBundle,
    Vault,
    VaultInfo,
)

from custody.chains.base import ChainError
from custody.chains.chia.adapter import ChiaAdapter
from custody.chains.chia.assemble import assemble_bundle, judge_bundle
from custody.chains.chia.build import choose_coins, custody_payload, payment_payload
from custody.chains.chia.custody import MEMBER, TOP, custody_hash, member_hash
from custody.chains.chia.payload import CoinSpec, parse_payload
from custody.policy.engine import Code, Refuse, decide
from custody.policy.vault_state import VaultState
from custody.schemas.request import SpendRequest
from tests.custody.chains.chia.kit import (
    DEST,
    OTHER,
    T0,
    XCH,
    ChainVault,
    fake_change_payload,
    keys,
    leaky_payload,
    mint,
)
from tests.custody.chains.chia.test_adapter import FEE, sign, withdrawal

NOW = T0 + 7200
STATE = VaultState(vault_id="cold", installed_at=T0 - 86400)


def refusal(cv: ChainVault, request: SpendRequest) -> Code:
    facts = ChiaAdapter().parse(cv.definition, request.payload)
    verdict = decide(cv.definition, STATE, request, NOW, facts)
    assert isinstance(verdict, Refuse), "the station approved it"
    return verdict.code


def chain_rejects(cv: ChainVault, bundle: SpendBundle, *, offline: bool = True) -> str:
    """The live chain rejects ``bundle``; so does the offline judge, unless the reason is chain state."""
    if offline:
        assert judge_bundle(bundle, NOW), "the offline judge accepted it"
    with pytest.raises(ValueError) as caught:
        cv.sim.new_transaction(bundle)
    return str(caught.value)


def test_too_few_signatures() -> None:
    cv = mint(keys(3), 2)
    request = withdrawal(cv, 10 * XCH)
    payload = parse_payload(request.payload)
    with pytest.raises(ChainError, match="1 chain signature"):
        assemble_bundle(cv.definition, payload, sign(cv, request, (0,)))
    # an attacker builds the custody puzzle as 1-of-3 instead: not the vault's puzzle any more
    clvm = Clvm()
    coin = payload.vault_coin.coin()
    mips = clvm.mips_spend(coin, payload.delegated_spend(clvm))
    mips.m_of_n(TOP, 1, [member_hash(k.vault_key) for k in cv.signers])
    key = cv.signers[0]
    signature = sign(cv, request, (0,))[key.vault_key.key_id]
    mips.r1_member(MEMBER, R1PublicKey.from_bytes(key.public), R1Signature.from_bytes(signature), False)
    one_of_three = custody_hash(cv.definition.keys, 1)
    mips.spend_vault(Vault(coin, payload.proof(), VaultInfo(cv.launcher_id, one_of_three)))
    for coin_spend in payload.coin_spends(cv.launcher_id):
        clvm.add_coin_spend(coin_spend)
    chain_rejects(cv, SpendBundle(clvm.coin_spends(), Signature.infinity()))


def test_a_flipped_bit_in_a_signature() -> None:
    cv = mint(keys(3), 2)
    request = withdrawal(cv, 10 * XCH)
    signatures = sign(cv, request, (0, 1))
    first = next(iter(signatures))
    signatures[first] = signatures[first][:40] + bytes([signatures[first][40] ^ 1]) + signatures[first][41:]
    chain_rejects(cv, assemble_bundle(cv.definition, parse_payload(request.payload), signatures))


def test_a_destination_or_amount_swapped_after_signing() -> None:
    cv = mint(keys(3), 2)
    signed = withdrawal(cv, 10 * XCH)
    signatures = sign(cv, signed, (0, 1))
    coins = choose_coins(cv.coins(), 10 * XCH + FEE)
    adapter = ChiaAdapter()
    for destination, amount in ((OTHER, 10 * XCH), (DEST, 20 * XCH)):
        swapped = payment_payload(
            cv.launcher_id,
            cv.current,
            coins,
            adapter.puzzle_hash_of(cv.definition, destination),
            amount,
            FEE,
            None,
        )
        forged = replace(signed, payload=swapped.to_bytes())
        assert refusal(cv, forged) is Code.PAYLOAD_MISMATCH  # the request says 10 XCH to DEST
        chain_rejects(cv, assemble_bundle(cv.definition, swapped, signatures))


def test_a_replay() -> None:
    cv = mint(keys(3), 2)
    first = withdrawal(cv, 10 * XCH)
    bundle = assemble_bundle(cv.definition, parse_payload(first.payload), sign(cv, first, (0, 1)))
    cv.sim.new_transaction(bundle)
    assert "DoubleSpend" in chain_rejects(cv, bundle, offline=False)  # only the chain's state knows
    facts = ChiaAdapter().parse(cv.definition, first.payload)
    replayed = decide(cv.definition, STATE.after(first.core(), NOW), first, NOW + 60, facts)
    assert isinstance(replayed, Refuse) and replayed.code is Code.REPLAY


def test_an_old_signature_on_the_next_vault_coin() -> None:
    """Members sign the vault coin's id, not its puzzle hash: a signature is good for one coin only."""
    cv = mint(keys(3), 2)
    first = custody_payload(cv.current, cv.current.custody)
    message = ChiaAdapter().parse(cv.definition, first.to_bytes()).message
    old = {k.vault_key.key_id: k.sign(message) for k in cv.signers[:2]}
    cv.sim.new_transaction(assemble_bundle(cv.definition, first, old))
    cv.advance()
    again = custody_payload(cv.current, cv.current.custody)
    assert again.delegated_puzzle == first.delegated_puzzle  # the very same spend, one coin later
    chain_rejects(cv, assemble_bundle(cv.definition, again, old))
    fresh = ChiaAdapter().parse(cv.definition, again.to_bytes()).message
    cv.sim.new_transaction(
        assemble_bundle(cv.definition, again, {k.vault_key.key_id: k.sign(fresh) for k in cv.signers[:2]})
    )


def test_a_fee_above_the_cap_is_refused_by_the_station() -> None:
    cv = mint(keys(3), 2)
    request = withdrawal(cv, 10 * XCH, fee=XCH // 100)
    assert refusal(cv, request) is Code.FEE


def test_unaccounted_mojos_are_refused_by_the_station() -> None:
    """The change is short by 1 XCH and no fee is reserved: an implicit fee the request does not name.
    The chain would take it as a fee; the station refuses it."""
    cv = mint(keys(3), 2)
    request = withdrawal(cv, 10 * XCH, fee=0)
    leaky = leaky_payload(cv, 10 * XCH, ChiaAdapter().puzzle_hash_of(cv.definition, DEST))
    assert ChiaAdapter().parse(cv.definition, leaky).unaccounted == XCH
    assert refusal(cv, replace(request, payload=leaky)) is Code.UNACCOUNTED


def test_fake_change_is_a_payment_and_refused() -> None:
    cv = mint(keys(3), 2)
    request = withdrawal(cv, 10 * XCH)
    fake = fake_change_payload(cv, 10 * XCH, FEE, ChiaAdapter().puzzle_hash_of(cv.definition, DEST))
    facts = ChiaAdapter().parse(cv.definition, fake)
    assert facts.change == 0 and len(facts.payments) == 2
    assert refusal(cv, replace(request, payload=fake)) is Code.PAYLOAD_MISMATCH


def test_a_payload_for_another_vault_coin_or_garbage_does_not_parse() -> None:
    cv = mint(keys(3), 2)
    other = mint(keys(3)[:2] + keys(4)[3:], 2)
    request = withdrawal(other, 10 * XCH)
    with pytest.raises(ChainError, match="not this vault"):
        ChiaAdapter().parse(cv.definition, request.payload)
    payload = parse_payload(withdrawal(cv, 10 * XCH).payload)
    moved = replace(payload, vault_coin=CoinSpec(payload.vault_coin.parent, bytes(32), 1))
    with pytest.raises(ChainError):
        ChiaAdapter().parse(cv.definition, moved.to_bytes())
    for junk in (b"", b"\x78\x9c" + b"\x00" * 10, b"not zlib at all"):
        with pytest.raises(ChainError):
            ChiaAdapter().parse(cv.definition, junk)
