"""The strict PSBT reader, and the PSBT as a UR: every field a vault spend never carries is refused.

The hostile PSBTs are written by hand, map by map (BIP-174's layout), from a
valid one the kit builds: no library would write most of them.
"""

from __future__ import annotations

import hashlib

import pytest
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.chains.base import ChainError
from custody.chains.bitcoin.facts import BitcoinFacts, parse
from custody.chains.bitcoin.psbt import MAGIC, MAX_INPUTS, MAX_OUTPUTS, MAX_PSBT_BYTES, read
from custody.chains.bitcoin.ur import decode_psbt_ur, encode_psbt_ur
from custody.schemas.vault import VaultDefinition
from tests.custody.chains.bitcoin.kit import (
    BTC,
    PsbtMap,
    compact_size,
    join_psbt,
    keys,
    offline_coin,
    split_psbt,
    vault_for,
    withdrawal,
)

VAULT = vault_for(tuple(k.vault_key for k in keys(3)), 2)
#: Two inputs, the payment and the change: maps 0 (global), 1-2 (inputs), 3-4 (outputs).
VALID = withdrawal(
    VAULT, [offline_coin(VAULT, BTC, 1), offline_coin(VAULT, 2 * BTC, 2)], 3 * BTC // 2
).payload
GLOBAL, IN0, IN1, OUT0, OUT1 = range(5)
PUBKEY = VAULT.keys[0].public_key


def maps() -> list[PsbtMap]:
    return split_psbt(VALID)


def edited(index: int, *extra: tuple[bytes, bytes]) -> bytes:
    """The valid PSBT with ``extra`` fields appended to map ``index``."""
    m = maps()
    m[index] = [*m[index], *extra]
    return join_psbt(m)


def field(index: int, key: bytes) -> bytes:
    return dict(maps()[index])[key]


def unsigned_tx() -> Transaction:
    return Transaction.parse(field(GLOBAL, b"\x00"))


def with_tx(tx_bytes: bytes) -> bytes:
    m = maps()
    m[GLOBAL] = [(b"\x00", tx_bytes)]
    return join_psbt(m)


def test_the_kits_psbt_is_read_and_its_maps_round_trip() -> None:
    assert join_psbt(maps()) == VALID
    assert [[k for k, _ in m] for m in maps()] == [
        [b"\x00"],
        [b"\x00", b"\x01", b"\x05"],
        [b"\x00", b"\x01", b"\x05"],
        [],
        [b"\x01"],
    ]
    psbt = read(VALID)
    assert len(psbt.parsed.inputs) == 2 and len(psbt.parsed.outputs) == 2
    assert [set(m) for m in psbt.input_maps] == [{b"\x00", b"\x01", b"\x05"}] * 2
    assert [set(m) for m in psbt.output_maps] == [set(), {b"\x01"}]
    assert psbt.encode() == VALID  # written back from its maps, byte for byte


@pytest.mark.parametrize(
    ("index", "key", "reason"),
    [
        (GLOBAL, b"\x00", "global map repeats its unsigned transaction field"),
        (IN0, b"\x00", "input map repeats its non_witness_utxo field"),
        (IN1, b"\x01", "input map repeats its witness_utxo field"),
        (IN0, b"\x05", "input map repeats its witness_script field"),
        (OUT1, b"\x01", "output map repeats its witness_script field"),
    ],
)
def test_a_repeated_key_is_refused(index: int, key: bytes, reason: str) -> None:
    with pytest.raises(ChainError, match=reason):
        read(edited(index, (key, field(index, key))))


def test_a_repeated_partial_signature_key_is_refused() -> None:
    sig = (b"\x02" + PUBKEY, b"\x30" * 71 + b"\x01")
    assert read(edited(IN0, sig)).parsed.inputs[0].partial_sigs  # one is read
    with pytest.raises(ChainError, match="input map repeats its partial_sig field"):
        read(edited(IN0, sig, sig))


@pytest.mark.parametrize(("index", "scope"), [(GLOBAL, "global"), (IN0, "input"), (OUT0, "output")])
def test_an_unknown_field_is_refused_in_every_scope(index: int, scope: str) -> None:
    with pytest.raises(ChainError, match=f"the PSBT's {scope} map carries an unknown field of type 0x42"):
        read(edited(index, (b"\x42", b"anything")))


@pytest.mark.parametrize(
    ("index", "key", "reason"),
    [
        (GLOBAL, b"\x01" + bytes(78), "an xpub"),
        (GLOBAL, b"\xfc" + b"\x03abc", "a proprietary field"),
        (IN0, b"\x04", "a redeem script"),
        (IN0, b"\x06" + PUBKEY, "a BIP32 derivation"),
        (IN0, b"\x07", "a final scriptSig"),
        (IN0, b"\x08", "a final script witness"),
        (IN1, b"\xfc" + b"\x03abc", "a proprietary field"),
        (OUT0, b"\x00", "a redeem script"),
        (OUT0, b"\x02" + PUBKEY, "a BIP32 derivation"),
    ],
)
def test_a_field_a_vault_spend_never_carries_is_refused_by_name(index: int, key: bytes, reason: str) -> None:
    with pytest.raises(ChainError, match=reason):
        read(edited(index, (key, bytes(8))))


@pytest.mark.parametrize(
    ("index", "key"),
    [
        (GLOBAL, b"\x02"),  # PSBTv2 transaction version
        (GLOBAL, b"\x03"),  # PSBTv2 fallback locktime
        (IN0, b"\x0e"),  # PSBTv2 previous txid
        (IN0, b"\x0f"),  # PSBTv2 output index
        (IN0, b"\x10"),  # PSBTv2 sequence
        (OUT0, b"\x03"),  # PSBTv2 amount
        (OUT0, b"\x04"),  # PSBTv2 script
    ],
)
def test_a_psbt_v2_field_that_embit_would_let_override_the_transaction_is_refused(
    index: int, key: bytes
) -> None:
    with pytest.raises(ChainError, match="an unknown field of type"):
        read(edited(index, (key, bytes(8))))


def test_psbt_version_2_is_refused_and_an_explicit_version_0_is_read() -> None:
    with pytest.raises(ChainError, match="only PSBT version 0"):
        read(edited(GLOBAL, (b"\xfb", (2).to_bytes(4, "little"))))
    with pytest.raises(ChainError, match="only PSBT version 0"):
        read(edited(GLOBAL, (b"\xfb", b"\x00")))  # version 0, but not as the 4 bytes BIP-174 asks
    read(edited(GLOBAL, (b"\xfb", bytes(4))))


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(ChainError, match="1 bytes follow the PSBT"):
        read(VALID + b"\x00")
    with pytest.raises(ChainError, match="bytes follow the PSBT"):
        read(VALID + b"\x01\x42\x00\x00")  # another map


@pytest.mark.parametrize("cut", [1, 2, 40, len(VALID) // 2, len(VALID) - 6])
def test_a_truncated_psbt_is_refused(cut: int) -> None:
    with pytest.raises(ChainError, match="the PSBT ends early"):
        read(VALID[:-cut])


def test_a_psbt_without_magic_or_transaction_is_refused() -> None:
    with pytest.raises(ChainError, match="no psbt magic"):
        read(b"psbt\xfe" + VALID[5:])
    with pytest.raises(ChainError, match="no psbt magic"):
        read(b"")
    with pytest.raises(ChainError, match="no unsigned transaction"):
        read(MAGIC + b"\x00")


def test_a_non_minimal_compact_size_is_refused() -> None:
    tx = field(GLOBAL, b"\x00")
    assert len(tx) < 0xFD
    rest = join_psbt(maps())[5 + 1 + 1 + 1 + len(tx) :]  # after the global map's one field
    key_long = MAGIC + b"\xfd\x01\x00" + b"\x00" + compact_size(len(tx)) + tx + rest
    value_long = MAGIC + b"\x01\x00" + b"\xfe" + len(tx).to_bytes(4, "little") + tx + rest
    huge_long = MAGIC + b"\x01\x00" + b"\xff" + len(tx).to_bytes(8, "little") + tx + rest
    assert MAGIC + b"\x01\x00" + compact_size(len(tx)) + tx + rest == VALID
    for data in (key_long, value_long, huge_long):
        with pytest.raises(ChainError, match="non-minimal length"):
            read(data)


def test_a_length_past_the_end_is_refused() -> None:
    with pytest.raises(ChainError, match="ends early"):
        read(MAGIC + b"\xff" + (2**64 - 1).to_bytes(8, "little"))


def test_a_psbt_over_the_size_cap_is_refused_before_it_is_read() -> None:
    with pytest.raises(ChainError, match=f"at most {MAX_PSBT_BYTES} are read"):
        read(VALID + bytes(MAX_PSBT_BYTES + 1 - len(VALID)))
    with pytest.raises(ChainError, match="bytes follow"):  # at the cap: read, and refused for what it is
        read(VALID + bytes(MAX_PSBT_BYTES - len(VALID)))


def raw_psbt(n_inputs: int, n_outputs: int) -> bytes:
    """A PSBT of ``n_inputs`` and ``n_outputs`` with empty input and output maps."""
    tx = Transaction(
        version=2,
        vin=[TransactionInput(hashlib.sha256(b"in %d" % i).digest(), 0) for i in range(n_inputs)],
        vout=[TransactionOutput(1000, Script(b"\x00\x14" + bytes(20))) for _ in range(n_outputs)],
    )
    return join_psbt([[(b"\x00", tx.serialize())], *([] for _ in range(n_inputs + n_outputs))])


def test_the_most_inputs_and_outputs_are_read_and_one_more_is_refused() -> None:
    assert len(read(raw_psbt(MAX_INPUTS, MAX_OUTPUTS)).parsed.inputs) == MAX_INPUTS
    with pytest.raises(ChainError, match="101 inputs and 1 outputs"):
        read(raw_psbt(MAX_INPUTS + 1, 1))
    with pytest.raises(ChainError, match="1 inputs and 17 outputs"):
        read(raw_psbt(1, MAX_OUTPUTS + 1))
    with pytest.raises(ChainError, match=r"0 inputs|does not parse"):  # 0 inputs reads as a segwit marker
        read(raw_psbt(0, 1))


def test_a_partial_signature_key_of_the_wrong_length_is_refused() -> None:
    for key in (b"\x02" + PUBKEY[:32], b"\x02" + PUBKEY + b"\x00", b"\x02"):
        with pytest.raises(ChainError, match=f"input partial_sig key is {len(key)} bytes"):
            read(edited(IN0, (key, b"\x30\x01")))


def test_a_one_byte_field_with_key_data_is_refused() -> None:
    m = maps()
    m[IN0] = [(k + b"\x00" if k == b"\x05" else k, v) for k, v in m[IN0]]
    with pytest.raises(ChainError, match="input witness_script key is 2 bytes"):
        read(join_psbt(m))


def test_a_previous_transaction_with_trailing_bytes_is_refused() -> None:
    m = maps()
    m[IN0] = [(k, v + b"\x00" if k == b"\x00" else v) for k, v in m[IN0]]
    with pytest.raises(ChainError, match=r"previous transaction \(non_witness_utxo\) does not parse"):
        read(join_psbt(m))


def superfluous_witness(tx: bytes) -> bytes:
    """``tx`` (non-segwit) in segwit form with every witness empty: another encoding of the same txid."""
    n_in = tx[4]
    assert n_in < 0xFD
    return tx[:4] + b"\x00\x01" + tx[4:-4] + bytes(n_in) + tx[-4:]


def test_a_previous_transaction_in_another_encoding_is_refused() -> None:
    prev = field(IN0, b"\x00")
    assert Transaction.parse(superfluous_witness(prev)).txid() == Transaction.parse(prev).txid()
    m = maps()
    m[IN0] = [(k, superfluous_witness(v) if k == b"\x00" else v) for k, v in m[IN0]]
    with pytest.raises(
        ChainError, match=r"previous transaction \(non_witness_utxo\) is not in canonical form"
    ):
        read(join_psbt(m))


def test_a_previous_transaction_that_does_not_parse_is_refused() -> None:
    m = maps()
    m[IN1] = [(k, v[:20] if k == b"\x00" else v) for k, v in m[IN1]]
    with pytest.raises(ChainError, match=r"previous transaction \(non_witness_utxo\) does not parse"):
        read(join_psbt(m))


def test_a_witness_utxo_with_trailing_bytes_or_cut_short_is_refused() -> None:
    for change, reason in ((b"\x00", "does not parse"), (None, "does not parse")):
        m = maps()
        m[IN0] = [(k, (v + change if change else v[:-1]) if k == b"\x01" else v) for k, v in m[IN0]]
        with pytest.raises(ChainError, match=f"witness_utxo {reason}"):
            read(join_psbt(m))


def test_an_unsigned_transaction_with_trailing_bytes_or_a_scriptsig_is_refused() -> None:
    with pytest.raises(ChainError, match="unsigned transaction does not parse"):
        read(with_tx(field(GLOBAL, b"\x00") + b"\x00"))
    with pytest.raises(ChainError, match="unsigned transaction is not in canonical form"):
        read(with_tx(superfluous_witness(field(GLOBAL, b"\x00"))))
    tx = unsigned_tx()
    tx.vin[0].script_sig = Script(b"\x51")
    with pytest.raises(ChainError, match="carries a scriptSig or witness"):
        read(with_tx(tx.serialize()))


def test_fewer_maps_than_the_transaction_has_inputs_and_outputs_are_refused() -> None:
    m = maps()
    with pytest.raises(ChainError, match="ends early"):
        read(join_psbt(m[:-1]))
    with pytest.raises(ChainError, match="ends early"):
        read(join_psbt([m[GLOBAL], m[IN0]]))


# --- never anything but ChainError ---------------------------------------------------------------


def parse_or_chain_error(vault: VaultDefinition, data: bytes) -> BitcoinFacts | None:
    try:
        return parse(vault, data)
    except ChainError:
        return None


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_are_refused_with_a_chain_error(data: bytes) -> None:
    if not data.startswith(MAGIC):
        assert parse_or_chain_error(VAULT, data) is None
    parse_or_chain_error(VAULT, MAGIC + data)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.integers(0, len(VALID) - 1), st.integers(0, 255))
def test_a_one_byte_change_to_a_valid_psbt_is_read_or_refused_with_a_chain_error(at: int, byte: int) -> None:
    data = bytearray(VALID)
    data[at] = byte
    parse_or_chain_error(VAULT, bytes(data))


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.integers(0, len(VALID)), st.integers(0, 3), st.binary(max_size=40))
def test_bytes_cut_from_or_put_into_a_valid_psbt_are_read_or_refused_with_a_chain_error(
    at: int, cut: int, put: bytes
) -> None:
    parse_or_chain_error(VAULT, VALID[:at] + put + VALID[at + cut :])


@settings(derandomize=True, max_examples=300, deadline=None)
@given(
    st.integers(0, 4),
    st.sampled_from([b"\x00", b"\x01", b"\x02" + PUBKEY, b"\x03", b"\x05"]),
    st.binary(max_size=200),
)
def test_any_value_in_an_allowed_field_is_read_or_refused_with_a_chain_error(
    index: int, key: bytes, value: bytes
) -> None:
    m = maps()
    m[index] = [(k, v) for k, v in m[index] if k != key] + [(key, value)]
    parse_or_chain_error(VAULT, join_psbt(m))


# --- ur:crypto-psbt (BCR-2020-006): one CBOR byte string ------------------------------------------


@pytest.mark.parametrize(
    ("size", "head"),
    [
        (0, "40"),
        (23, "57"),
        (24, "5818"),
        (255, "58ff"),
        (256, "590100"),
        (MAX_PSBT_BYTES, "59c000"),
        (65535, "59ffff"),
        (65536, "5a00010000"),
    ],
)
def test_a_psbt_ur_is_one_byte_string_with_the_shortest_header(size: int, head: str) -> None:
    data = bytes(i % 251 for i in range(size))
    cbor = encode_psbt_ur(data)
    assert cbor == bytes.fromhex(head) + data
    if size <= MAX_PSBT_BYTES:
        assert decode_psbt_ur(cbor) == data
    else:
        with pytest.raises(ChainError, match=f"the PSBT is {size} bytes; at most {MAX_PSBT_BYTES}"):
            decode_psbt_ur(cbor)


def test_a_psbt_ur_round_trips_the_kits_psbt() -> None:
    assert decode_psbt_ur(encode_psbt_ur(VALID)) == VALID


def test_a_psbt_ur_one_byte_over_the_cap_is_refused() -> None:
    with pytest.raises(ChainError, match="at most"):
        decode_psbt_ur(encode_psbt_ur(bytes(MAX_PSBT_BYTES + 1)))


@pytest.mark.parametrize(
    "cbor",
    [
        b"\x58\x17" + bytes(23),  # 23 fits in the initial byte
        b"\x58\x00",
        b"\x59\x00\xff" + bytes(255),  # 255 fits in one byte
        b"\x5a\x00\x00\x01\x00" + bytes(256),  # 256 fits in two
        b"\x5a\x00\x00\xff\xff" + bytes(65535),
    ],
)
def test_a_psbt_ur_with_a_non_minimal_header_is_refused(cbor: bytes) -> None:
    with pytest.raises(ChainError, match="header is not minimal"):
        decode_psbt_ur(cbor)


@pytest.mark.parametrize(
    ("cbor", "reason"),
    [
        (b"\x5f\x43abc\xff", "indefinite"),  # an indefinite-length byte string of one chunk
        (b"\x5b" + (3).to_bytes(8, "big") + b"abc", "indefinite or too long"),  # 8-byte length
        (b"\x5c" + bytes(4), "indefinite or too long"),  # reserved additional information
        (b"\xd8\x28\x43abc", "one CBOR byte string"),  # tag 40 around it
        (b"\xd9\x01\x36\x43abc", "one CBOR byte string"),  # tag 310 (crypto-psbt's) around it
        (b"\x63abc", "one CBOR byte string"),  # a text string
        (b"\x81\x43abc", "one CBOR byte string"),  # an array of it
        (b"", "one CBOR byte string"),
        (b"\x43abc\x00", "not exactly one byte string"),  # trailing bytes
        (b"\x43abc\x43abc", "not exactly one byte string"),  # two byte strings
        (b"\x43ab", "not exactly one byte string"),  # cut short
        (b"\x59\x01", "not minimal"),  # a header cut short reads as a short length
    ],
)
def test_a_psbt_ur_other_than_exactly_one_definite_byte_string_is_refused(cbor: bytes, reason: str) -> None:
    with pytest.raises(ChainError, match=reason):
        decode_psbt_ur(cbor)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_cbor_is_read_as_a_psbt_ur_or_refused_with_a_chain_error(cbor: bytes) -> None:
    try:
        data = decode_psbt_ur(cbor)
    except ChainError:
        return
    assert encode_psbt_ur(data) == cbor  # what is read has exactly one encoding
