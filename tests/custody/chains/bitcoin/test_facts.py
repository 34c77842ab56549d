"""What a station learns from a Bitcoin vault's PSBT, and what the policy refuses, each with its reason.

Every verdict is the station's: ``decide`` over the facts the adapter parsed
from the request's payload, with an empty vault state. The attacks are the
kit's valid withdrawal edited with embit, one thing at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from embit.psbt import PSBT, OutputScope
from embit.script import Script
from embit.transaction import SIGHASH, Transaction, TransactionOutput

from custody.chains import ChainError, facts_for
from custody.chains.bitcoin.build import build
from custody.chains.bitcoin.facts import BitcoinFacts, parse
from custody.chains.bitcoin.psbt import LOCKTIME_THRESHOLD
from custody.chains.bitcoin.script import script_of, witness_script
from custody.policy.engine import Approve, Check, Code, Refuse, decide
from custody.policy.vault_state import VaultState
from custody.schemas.chain_bitcoin import BitcoinBinding
from custody.schemas.request import SpendRequest, Withdraw
from custody.schemas.vault import VaultDefinition
from tests.custody.chains.bitcoin.kit import (
    BTC,
    DEST,
    OTHER,
    T0,
    join_psbt,
    keys,
    offline_coin,
    request_for,
    script_pubkey,
    split_psbt,
    vault_for,
    withdrawal,
)

VAULT = vault_for(tuple(k.vault_key for k in keys(3)), 2)
STATE = VaultState(vault_id=VAULT.vault_id, installed_at=T0 - 86400)
COINS = [offline_coin(VAULT, BTC, 1), offline_coin(VAULT, 2 * BTC, 2)]
AMOUNT = 3 * BTC // 2
#: Spends both coins: the payment to DEST is output 0 and the change output 1.
GOOD = withdrawal(VAULT, COINS, AMOUNT)
SCRIPT = witness_script([k.public_key for k in VAULT.keys], VAULT.threshold)


def verdict(request: SpendRequest, vault: VaultDefinition = VAULT) -> Approve | Refuse:
    return decide(vault, STATE, request, T0, facts_for(vault, request))


def refused(request: SpendRequest, code: Code, vault: VaultDefinition = VAULT) -> list[Check]:
    """The failed checks of ``code`` (every rule is evaluated, so others may fail first)."""
    v = verdict(request, vault)
    assert isinstance(v, Refuse), v
    failed = [c for c in v.checks if not c.ok and c.code is code]
    assert failed, v
    return failed


def failed_rule(request: SpendRequest, rule: str) -> Check:
    v = verdict(request)
    assert isinstance(v, Refuse), v
    (check,) = [c for c in v.checks if c.rule == rule]
    assert not check.ok, check
    return check


def edited(edit: Callable[[PSBT], Any], *, seed: str, request: SpendRequest = GOOD) -> SpendRequest:
    """``request`` with its PSBT edited by ``edit`` and its action and fee left as they were."""
    psbt = PSBT.parse(request.payload)
    edit(psbt)
    return request_for(VAULT, bytes(psbt.serialize()), request.action, fee=request.fee, seed=seed)


def facts(request: SpendRequest) -> BitcoinFacts:
    return parse(VAULT, request.payload)


def spk(address: str) -> Script:
    return Script(script_of(address, "regtest"))


# --- what is approved ----------------------------------------------------------------------------


def test_a_two_of_three_withdrawal_is_approved_and_shown_in_full() -> None:
    assert isinstance(verdict(GOOD), Approve)
    f = facts(GOOD)
    assert [o.change for o in f.outputs] == [False, True]
    assert f.fee == GOOD.fee and f.fee_rate == 10
    assert f.spent == 3 * BTC and sum(i.amount for i in f.inputs) == 3 * BTC
    assert len(f.messages) == 2 and len(set(f.messages)) == 2
    rows = f.review_rows(VAULT, str)
    text = "\n".join(f"{name}: {value}" for name, value in rows)
    for shown in (DEST, "BTC", "sats", "sat/vB", "change", "back to the vault", f"{AMOUNT} sats"):
        assert shown in text, shown
    assert ("locktime", "none") in rows
    assert not [name for name, _ in rows if name == "REFUSED"]


def test_a_spend_without_change_is_approved() -> None:
    with_change = build(VAULT, [COINS[0]], DEST, BTC // 2, 10)[1]
    amount = BTC - with_change - 500  # change of 500 sats is under MIN_CHANGE: left to the fee
    request = withdrawal(VAULT, [COINS[0]], amount, seed="no change")
    assert request.fee == with_change + 500
    f = facts(request)
    assert [o.change for o in f.outputs] == [False]
    assert isinstance(verdict(request), Approve)


def test_the_fee_rate_at_the_cap_is_approved() -> None:
    assert isinstance(verdict(withdrawal(VAULT, COINS, AMOUNT, fee_rate=50, seed="at cap")), Approve)


def test_an_explicit_sighash_all_and_a_block_height_locktime_are_approved() -> None:
    def edit(psbt: PSBT) -> None:
        psbt.inputs[0].sighash_type = SIGHASH.ALL
        psbt.locktime = 800_000

    request = edited(edit, seed="explicit all")
    assert isinstance(verdict(request), Approve)
    assert ("locktime", "block height 800000") in facts(request).review_rows(VAULT, str)


def test_the_sighashes_are_bip143s_for_the_vaults_script_and_each_inputs_amount() -> None:
    f = facts(GOOD)
    tx = PSBT.parse(GOOD.payload).tx
    for n, coin in enumerate(COINS):
        assert f.sighashes[n] == tx.sighash_segwit(n, Script(SCRIPT), coin.amount, SIGHASH.ALL)


# --- what is refused -----------------------------------------------------------------------------


def test_a_witness_utxo_lying_about_the_amount_is_refused() -> None:
    def edit(psbt: PSBT) -> None:
        honest = psbt.inputs[0].witness_utxo
        psbt.inputs[0].witness_utxo = TransactionOutput(honest.value + BTC, honest.script_pubkey)

    (check,) = refused(edited(edit, seed="lied amount"), Code.INPUT_UNPROVEN)
    assert "witness_utxo disagrees with the previous transaction" in check.detail


def test_a_witness_utxo_naming_another_script_is_refused() -> None:
    def edit(psbt: PSBT) -> None:
        honest = psbt.inputs[1].witness_utxo
        psbt.inputs[1].witness_utxo = TransactionOutput(honest.value, spk(OTHER))

    (check,) = refused(edited(edit, seed="lied script"), Code.INPUT_UNPROVEN)
    assert "input 1" in check.detail


def test_an_input_without_its_previous_transaction_is_refused() -> None:
    def edit(psbt: PSBT) -> None:
        psbt.inputs[0].non_witness_utxo = None

    (check,) = refused(edited(edit, seed="no prev"), Code.INPUT_UNPROVEN)
    assert "input 0" in check.detail and "no previous transaction" in check.detail


def test_an_input_with_another_transaction_as_its_previous_one_is_refused() -> None:
    def edit(psbt: PSBT) -> None:
        psbt.inputs[0].non_witness_utxo = psbt.inputs[1].non_witness_utxo

    (check,) = refused(edited(edit, seed="other prev"), Code.INPUT_UNPROVEN)
    assert "not the one it spends" in check.detail


def test_an_input_pointing_past_its_previous_transactions_outputs_is_refused() -> None:
    def edit(psbt: PSBT) -> None:
        psbt.inputs[0].vout = 5

    (check,) = refused(edited(edit, seed="past the end"), Code.INPUT_UNPROVEN)
    assert "not the one it spends" in check.detail


@pytest.mark.parametrize("sighash", [SIGHASH.NONE, SIGHASH.SINGLE, SIGHASH.ALL | SIGHASH.ANYONECANPAY, 0])
def test_a_sighash_other_than_all_is_refused(sighash: int) -> None:
    def edit(psbt: PSBT) -> None:
        psbt.inputs[1].sighash_type = sighash

    (check,) = refused(edited(edit, seed=f"sighash {sighash}"), Code.SIGHASH)
    assert f"input 1 ({COINS[1].txid.hex()}:1) asks for sighash type {sighash:#x}" in check.detail


def test_an_input_from_another_script_is_refused() -> None:
    stranger = vault_for(tuple(k.vault_key for k in keys(3, first=4)), 2)
    foreign = offline_coin(stranger, 2 * BTC, 3)
    request = withdrawal(VAULT, [COINS[0], foreign], AMOUNT, seed="foreign")
    (check,) = refused(request, Code.FOREIGN_INPUT)
    assert isinstance(stranger.chain, BitcoinBinding)
    assert f"input 1 ({foreign.txid.hex()}:1) is locked by {stranger.chain.address}" in check.detail


def test_an_input_naming_another_witness_script_is_refused() -> None:
    other = witness_script([k.public_key for k in VAULT.keys], 3)

    def edit(psbt: PSBT) -> None:
        psbt.inputs[0].witness_script = Script(other)

    (check,) = refused(edited(edit, seed="other script"), Code.FOREIGN_INPUT)
    assert "names another witness script" in check.detail


def test_a_psbt_paying_another_address_than_the_request_says_is_refused() -> None:
    psbt, fee = build(VAULT, COINS, OTHER, AMOUNT, 10)
    request = request_for(
        VAULT, psbt, Withdraw(asset="BTC", amount=AMOUNT, destination=DEST), fee=fee, seed="x"
    )
    v = verdict(request)
    assert isinstance(v, Refuse)
    assert v.code in (Code.DESTINATION, Code.PAYLOAD_MISMATCH)
    outputs = failed_rule(request, "outputs")
    assert f"{OTHER} is neither an allowed destination nor the vault" in outputs.detail
    assert f"pays {AMOUNT} sats to {OTHER}" in failed_rule(request, "spend matches").detail


def test_a_psbt_paying_another_amount_than_the_request_says_is_refused() -> None:
    request = request_for(
        VAULT,
        GOOD.payload,
        Withdraw(asset="BTC", amount=AMOUNT - 1, destination=DEST),
        fee=GOOD.fee,
        seed="y",
    )
    (check,) = refused(request, Code.PAYLOAD_MISMATCH)
    assert check.rule == "spend matches"


def test_fake_change_carrying_the_vaults_script_but_paying_another_is_refused() -> None:
    def edit(psbt: PSBT) -> None:
        assert psbt.outputs[1].witness_script is not None  # the change names the vault's script
        psbt.outputs[1].script_pubkey = spk(OTHER)

    request = edited(edit, seed="fake change")
    outputs = failed_rule(request, "outputs")
    assert f"output 1 claims a witness script but pays {OTHER}: fake change" in outputs.detail
    f = facts(request)
    assert [o.change for o in f.outputs] == [False, False]
    refusals = [value for name, value in f.review_rows(VAULT, str) if name == "REFUSED"]
    assert any("fake change" in r for r in refusals)


def test_fake_change_to_an_allowed_destination_is_still_refused() -> None:
    def edit(psbt: PSBT) -> None:
        psbt.outputs[0].witness_script = Script(SCRIPT)

    assert "output 0 claims a witness script" in failed_rule(edited(edit, seed="fake dest"), "outputs").detail


def test_a_fee_rate_over_the_vaults_cap_is_refused() -> None:
    request = withdrawal(VAULT, COINS, AMOUNT, fee_rate=51, seed="rate")
    (check,) = refused(request, Code.FEE)
    assert check.rule == "fee rate" and "51.0 sat/vB (max 50)" in check.detail


def test_a_fee_over_the_vaults_max_fee_is_refused() -> None:
    vault = vault_for(tuple(k.vault_key for k in keys(3)), 2, max_fee=1_000)
    request = withdrawal(vault, [offline_coin(vault, 2 * BTC, 2)], AMOUNT, seed="max fee")
    assert request.fee > 1_000
    (check,) = refused(request, Code.FEE, vault)
    assert check.rule == "fee"


@pytest.mark.parametrize("delta", [1, -1])
def test_a_request_whose_fee_is_not_the_psbts_is_refused(delta: int) -> None:
    request = request_for(VAULT, GOOD.payload, GOOD.action, fee=GOOD.fee + delta, seed=f"fee {delta}")
    (check,) = refused(request, Code.PAYLOAD_MISMATCH)
    assert check.rule == "chain fee"
    assert f"pays {GOOD.fee} sats; the request says {GOOD.fee + delta}" in check.detail


@pytest.mark.parametrize("locktime", [LOCKTIME_THRESHOLD, 1_790_000_000, 0xFFFFFFFF])
def test_a_time_based_locktime_is_refused(locktime: int) -> None:
    def edit(psbt: PSBT) -> None:
        psbt.locktime = locktime

    (check,) = refused(edited(edit, seed=f"locktime {locktime}"), Code.PAYLOAD_INVALID)
    assert check.rule == "transaction" and "is a time, not a block height" in check.detail


def test_a_transaction_version_other_than_1_or_2_is_refused() -> None:
    def edit(psbt: PSBT) -> None:
        psbt.tx_version = 3

    (check,) = refused(edited(edit, seed="version 3"), Code.PAYLOAD_INVALID)
    assert "transaction version 3 is not 1 or 2" in check.detail


def test_outputs_paying_more_than_the_inputs_hold_are_refused() -> None:
    def edit(psbt: PSBT) -> None:
        psbt.outputs[0].value += BTC

    assert (
        "pay more than the inputs hold"
        in refused(edited(edit, seed="overpay"), Code.PAYLOAD_INVALID)[0].detail
    )


def test_two_payees_are_refused_even_both_allowed() -> None:
    def edit(psbt: PSBT) -> None:
        psbt.outputs.insert(1, OutputScope(vout=TransactionOutput(BTC // 10, spk(DEST))))
        psbt.outputs[2].value -= BTC // 10  # the change pays for it: the fee stays the same

    request = edited(edit, seed="two payees")
    assert facts(request).fee == GOOD.fee
    (check,) = refused(request, Code.PAYLOAD_MISMATCH)
    assert check.rule == "spend matches" and "pays 2 outputs other than change" in check.detail


def test_a_psbt_of_only_change_is_refused() -> None:
    def edit(psbt: PSBT) -> None:
        psbt.outputs[0].script_pubkey = Script(script_pubkey(VAULT))

    check = failed_rule(edited(edit, seed="all change"), "spend matches")
    assert "pays 0 outputs other than change" in check.detail


def test_a_psbt_for_another_vault_is_not_read_as_this_ones() -> None:
    stranger = vault_for(tuple(k.vault_key for k in keys(3, first=4)), 2)
    request = withdrawal(stranger, [offline_coin(stranger, 2 * BTC, 2)], AMOUNT, seed="stranger")
    (check,) = refused(
        request_for(VAULT, request.payload, request.action, fee=request.fee, seed="s"), Code.FOREIGN_INPUT
    )
    assert "input 0" in check.detail


def test_a_request_without_a_psbt_is_refused_before_any_rule() -> None:
    request = request_for(VAULT, b"", GOOD.action, fee=GOOD.fee, seed="empty")
    with pytest.raises(ChainError, match="must carry its unsigned chain spend"):
        facts_for(VAULT, request)


# --- found here ------------------------------------------------------------------------------------


def with_sequence_zero(payload: bytes) -> tuple[bytes, Transaction]:
    """``payload`` with its unsigned transaction's input 0 at sequence 0 (final, no RBF), and that tx."""
    maps = split_psbt(payload)
    tx = Transaction.parse(maps[0][0][1])
    tx.vin[0].sequence = 0
    maps[0] = [(b"\x00", tx.serialize())]
    return join_psbt(maps), tx


def test_the_station_signs_the_psbts_own_transaction_when_an_input_has_sequence_zero() -> None:
    """Regression: the station read embit's rebuilt transaction, where sequence 0 became 0xFFFFFFFF."""
    payload, tx = with_sequence_zero(GOOD.payload)
    f = parse(VAULT, payload)
    assert f.inputs[0].sequence == 0
    assert f.sighashes[0] == tx.sighash_segwit(0, Script(SCRIPT), COINS[0].amount, SIGHASH.ALL)


def test_a_transaction_of_version_zero_is_refused() -> None:
    """Regression: embit's rebuilt transaction showed (and signed) a version 0 as version 2."""
    maps = split_psbt(GOOD.payload)
    tx = Transaction.parse(maps[0][0][1])
    tx.version = 0
    maps[0] = [(b"\x00", tx.serialize())]
    request = request_for(VAULT, join_psbt(maps), GOOD.action, fee=GOOD.fee, seed="version 0")
    assert facts(request).version == 0
    refused(request, Code.PAYLOAD_INVALID)


def test_a_transaction_spending_one_coin_twice_is_refused() -> None:
    """Regression: the coin's amount was counted twice and the spend approved (bad-txns-inputs-duplicate)."""
    coin = COINS[0]
    with pytest.raises(ChainError, match="the same coin twice"):
        withdrawal(VAULT, [coin, coin], AMOUNT, seed="twice")  # the host's builder does not make it
    maps = split_psbt(GOOD.payload)
    tx = Transaction.parse(maps[0][0][1])
    assert len(tx.vin) == 2
    tx.vin[1].txid, tx.vin[1].vout = tx.vin[0].txid, tx.vin[0].vout
    maps[0] = [(b"\x00", tx.serialize())]
    maps[2] = maps[1]
    with pytest.raises(ChainError, match="the same coin twice"):
        parse(VAULT, join_psbt(maps))
