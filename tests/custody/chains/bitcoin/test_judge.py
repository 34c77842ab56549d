"""The finalized spend from M stations' signatures, and the offline judge (python-bitcointx's interpreter).

The signatures are made as a station makes them (raw ECDSA over each input's
BIP-143 sighash, low-S); the judge is another implementation than embit,
which built the witness.
"""

from __future__ import annotations

import copy
import math
import random

import pytest
from bitcointx.core import CTransaction
from embit.psbt import PSBT
from embit.script import Script, Witness
from embit.transaction import SIGHASH, Transaction

from custody.chains.base import ChainError
from custody.chains.bitcoin import signatures
from custody.chains.bitcoin.adapter import BitcoinAdapter
from custody.chains.bitcoin.facts import MAX_SIGNATURE_BYTES, final_vsize, parse
from custody.chains.bitcoin.psbt import read_final
from custody.chains.bitcoin.script import witness_script
from custody.chains.bitcoin.signatures import extract
from custody.schemas.request import SpendRequest
from tests.custody.chains.bitcoin.kit import (
    BTC,
    T0,
    chain_signatures,
    deterministic_signatures,
    join_psbt,
    keys,
    offline_coin,
    sign_rfc6979,
    split_psbt,
    vault_for,
    withdrawal,
)

#: secp256k1's group order.
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
KEYS = keys(3)
VAULT = vault_for(tuple(k.vault_key for k in KEYS), 2)
COINS = [offline_coin(VAULT, BTC, 1), offline_coin(VAULT, 2 * BTC, 2)]
REQUEST = withdrawal(VAULT, COINS, 3 * BTC // 2)
SCRIPT = witness_script([k.public_key for k in VAULT.keys], VAULT.threshold)
ADAPTER = BitcoinAdapter()


def signed_by(*who: int, request: SpendRequest = REQUEST) -> dict[bytes, bytes]:
    return deterministic_signatures(VAULT, KEYS, request, who)


def final(sigs: dict[bytes, bytes], request: SpendRequest = REQUEST) -> bytes:
    return ADAPTER.assemble(VAULT, request, sigs)


def judged(data: bytes, request: SpendRequest = REQUEST) -> list[str]:
    return ADAPTER.judge(VAULT, request, data, T0)


def replaced(sigs: dict[bytes, bytes], who: int, n: int, signature: bytes) -> dict[bytes, bytes]:
    """``sigs`` with station ``who``'s signature on input ``n`` replaced."""
    key_id = KEYS[who].vault_key.key_id
    chain = bytearray(sigs[key_id])
    chain[64 * n : 64 * n + 64] = signature
    return {**sigs, key_id: bytes(chain)}


def one_of(sigs: dict[bytes, bytes], who: int, n: int) -> bytes:
    return sigs[KEYS[who].vault_key.key_id][64 * n : 64 * n + 64]


@pytest.mark.parametrize("who", [(0, 1), (0, 2), (1, 2), (2, 0), (0, 1, 2)])
def test_any_two_of_the_three_stations_signatures_make_a_valid_spend(who: tuple[int, ...]) -> None:
    assert judged(final(signed_by(*who))) == []


def test_the_kits_randomly_nonced_signatures_make_a_valid_spend_too() -> None:
    assert judged(final(chain_signatures(VAULT, KEYS, REQUEST, (0, 2)))) == []


def test_each_stations_signatures_pass_the_adapters_check() -> None:
    facts = parse(VAULT, REQUEST.payload)
    for n, key in enumerate(KEYS):
        ADAPTER.check_signature(facts, key.public, signed_by(n)[key.vault_key.key_id])


def test_the_finalized_transaction_is_the_unsigned_one_with_witnesses() -> None:
    data = final(signed_by(0, 1))
    tx = extract(read_final(data))
    unsigned = Transaction.parse(split_psbt(REQUEST.payload)[0][0][1])
    assert tx.txid() == unsigned.txid()
    btx = CTransaction.deserialize(tx.serialize())  # another implementation reads the same txid
    assert btx.GetTxid()[::-1] == unsigned.txid()
    for vin in tx.vin:
        items = vin.witness.items
        assert len(items) == 4 and items[0] == b"" and items[-1] == SCRIPT  # NULLDUMMY, 2 signatures, script
        assert all(sig[-1] == SIGHASH.ALL for sig in items[1:3])


def test_the_witness_orders_the_signatures_as_the_sorted_keys() -> None:
    sigs = signed_by(2, 0)
    tx = extract(read_final(final(sigs)))
    order = sorted((k.public, i) for i, k in enumerate(KEYS) if i in (0, 2))
    for n, vin in enumerate(tx.vin):
        assert vin.witness.items[1:3] == [signatures.der(one_of(sigs, i, n)) for _, i in order]


def test_the_fee_rate_is_taken_over_the_final_size_with_the_largest_signatures() -> None:
    tx = extract(read_final(final(signed_by(0, 1))))
    stripped = copy.deepcopy(tx)
    for vin in stripped.vin:
        vin.witness = Witness([])
    weight = 3 * len(stripped.serialize()) + len(tx.serialize())
    actual = CTransaction.deserialize(tx.serialize()).get_virtual_size()
    assert actual == math.ceil(weight / 4)
    # every signature padded to the largest low-S DER (71 bytes) and its sighash byte
    slack = sum(MAX_SIGNATURE_BYTES - len(sig) for vin in tx.vin for sig in vin.witness.items[1:-1])
    facts = parse(VAULT, REQUEST.payload)
    assert facts.vsize == final_vsize(len(facts.inputs), facts.outputs, SCRIPT, VAULT.threshold)
    assert facts.vsize == math.ceil((weight + slack) / 4) >= actual


def test_a_flipped_bit_in_one_signature_is_reported_on_its_input() -> None:
    sigs = signed_by(0, 1)
    bad = bytearray(one_of(sigs, 1, 1))
    bad[5] ^= 0x10  # in r
    problems = judged(final(replaced(sigs, 1, 1, bytes(bad))))
    assert len(problems) == 1 and problems[0].startswith("input 1:")


def test_a_signature_over_a_lied_amount_is_reported() -> None:
    tx = PSBT.parse(REQUEST.payload).tx
    lied = tx.sighash_segwit(0, Script(SCRIPT), COINS[0].amount + 1, SIGHASH.ALL)
    sigs = replaced(signed_by(0, 1), 0, 0, sign_rfc6979(KEYS[0], lied))
    problems = judged(final(sigs))
    assert len(problems) == 1 and problems[0].startswith("input 0:")


def test_one_signature_short_cannot_be_assembled() -> None:
    with pytest.raises(ChainError, match="1 of the 2 signatures"):
        final(signed_by(1))
    with pytest.raises(ChainError, match="0 of the 2 signatures"):
        final({})


def test_a_signature_with_too_few_inputs_cannot_be_assembled() -> None:
    sigs = signed_by(0, 1)
    key_id = KEYS[0].vault_key.key_id
    with pytest.raises(ChainError, match=r"1 signature\(s\) for 2 input\(s\)"):
        final({**sigs, key_id: sigs[key_id][:64]})


def test_a_signature_of_a_key_outside_the_vault_cannot_be_assembled() -> None:
    stranger = keys(1, first=9)[0]
    facts = parse(VAULT, REQUEST.payload)
    sigs = {
        **signed_by(0),
        stranger.vault_key.key_id: b"".join(sign_rfc6979(stranger, m) for m in facts.messages),
    }
    with pytest.raises(ChainError, match="is not in this vault"):
        final(sigs)


def test_a_final_psbt_of_another_transaction_is_reported() -> None:
    psbt = PSBT.parse(final(signed_by(0, 1)))
    psbt.outputs[1].value -= 1_000  # a larger fee, all else as signed
    assert judged(bytes(psbt.serialize())) == [
        "the final transaction is not the one the stations signed (another txid)"
    ]


def test_an_unfinalized_input_is_reported() -> None:
    psbt = PSBT.parse(final(signed_by(0, 1)))
    psbt.inputs[1].final_scriptwitness = None
    assert judged(bytes(psbt.serialize())) == ["the final PSBT: input 1 is not finalized"]


def test_a_witness_without_its_script_or_a_signature_is_reported() -> None:
    psbt = PSBT.parse(final(signed_by(0, 1)))
    items = psbt.inputs[0].final_scriptwitness.items
    psbt.inputs[0].final_scriptwitness = Witness(items[:-1])  # no witness script
    psbt.inputs[1].final_scriptwitness = Witness([items[0], items[1], items[3]])  # one signature
    problems = judged(bytes(psbt.serialize()))
    assert [p.split(":")[0] for p in problems] == ["input 0", "input 1"]


def test_a_witness_with_a_non_null_dummy_is_reported() -> None:
    psbt = PSBT.parse(final(signed_by(0, 1)))
    items = psbt.inputs[0].final_scriptwitness.items
    psbt.inputs[0].final_scriptwitness = Witness([b"\x01", *items[1:]])
    problems = judged(bytes(psbt.serialize()))
    assert len(problems) == 1 and problems[0].startswith("input 0:")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"psbt\xff",
        b"psbt\xff\x00",
        bytes(random.Random(7).randbytes(300)),
        b"psbt\xff" + bytes(random.Random(8).randbytes(300)),
        bytes(300_000),
    ],
)
def test_garbage_final_bytes_are_a_problem_never_an_exception(data: bytes) -> None:
    assert judged(data)


def test_a_truncated_final_psbt_is_a_problem_never_an_exception() -> None:
    data = final(signed_by(0, 1))
    for cut in range(1, len(data), 37):
        assert judged(data[:-cut])


def test_a_final_psbt_whose_witnesses_are_all_empty_is_a_problem_never_an_exception() -> None:
    psbt = PSBT.parse(final(signed_by(0, 1)))
    for scope in psbt.inputs:
        scope.final_scriptwitness = Witness([])
    assert judged(bytes(psbt.serialize())) == ["the final PSBT: input 0 is not finalized"]  # regression


def test_a_final_psbt_with_an_oversized_psbt_v2_amount_is_a_problem_never_an_exception() -> None:
    """Regression: the final PSBT was embit's lenient parse, which took a PSBTv2 amount as the output's."""
    maps = split_psbt(final(signed_by(0, 1)))
    maps[3] = [*maps[3], (b"\x03", b"\xff" * 9)]
    assert judged(join_psbt(maps))


# --- signatures.check ------------------------------------------------------------------------------


def test_a_high_s_signature_is_refused_though_it_verifies() -> None:
    facts = parse(VAULT, REQUEST.payload)
    good = [sign_rfc6979(KEYS[0], m) for m in facts.messages]
    s = int.from_bytes(good[1][32:], "big")
    twin = good[1][:32] + (N - s).to_bytes(32, "big")
    signatures.check(facts.sighashes, KEYS[0].public, b"".join(good))
    with pytest.raises(ChainError, match=r"input 1: .*low-S"):
        signatures.check(facts.sighashes, KEYS[0].public, good[0] + twin)


def test_a_wrong_count_of_signatures_is_refused() -> None:
    facts = parse(VAULT, REQUEST.payload)
    good = b"".join(sign_rfc6979(KEYS[0], m) for m in facts.messages)
    for wrong in (good[:64], good + good[:64], b"", good[:-1]):
        with pytest.raises(ChainError, match=r"signature\(s\) for 2 input\(s\)"):
            signatures.check(facts.sighashes, KEYS[0].public, wrong)


def test_another_keys_or_another_inputs_signature_is_refused() -> None:
    facts = parse(VAULT, REQUEST.payload)
    good = [sign_rfc6979(KEYS[0], m) for m in facts.messages]
    with pytest.raises(ChainError, match="input 0: signature does not verify"):
        signatures.check(facts.sighashes, KEYS[1].public, b"".join(good))
    with pytest.raises(ChainError, match="input 0: signature does not verify"):
        signatures.check(facts.sighashes, KEYS[0].public, good[1] + good[0])


def test_der_and_raw_round_trip_and_raw_refuses_what_is_not_strict_der_sighash_all() -> None:
    facts = parse(VAULT, REQUEST.payload)
    sig = sign_rfc6979(KEYS[0], facts.messages[0])
    chain = signatures.der(sig)
    assert signatures.raw(chain) == sig
    with pytest.raises(ChainError, match="not SIGHASH_ALL"):
        signatures.raw(chain[:-1] + b"\x02")
    with pytest.raises(ChainError, match="not SIGHASH_ALL"):
        signatures.raw(b"")
    with pytest.raises(ChainError, match="not DER"):
        signatures.raw(b"\x30\x00\x01")
    r_len = chain[3]
    padded = chain[:1] + bytes([chain[1] + 1]) + b"\x02" + bytes([r_len + 1]) + b"\x00" + chain[4:]
    with pytest.raises(ChainError, match=r"not (strict )?DER"):
        signatures.raw(padded)  # r with a superfluous leading zero
