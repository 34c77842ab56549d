"""The vault's witness script, address and descriptor, and the addresses a Bitcoin vault accepts.

The descriptor checksum is checked against BIP-380's published vectors, and
the descriptor itself against embit's own descriptor parser (another
implementation than the one that wrote it).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import permutations

import pytest
from embit.descriptor import Descriptor
from embit.descriptor.checksum import checksum

from custody.chains.base import ChainError
from custody.chains.bitcoin.script import descriptor, p2wsh, script_of, vault_address, witness_script
from custody.errors import SchemaError
from custody.schemas.chain_bitcoin import BitcoinBinding
from custody.schemas.key_record import Algorithm
from tests.custody.chains.bitcoin.kit import DEST, keys, vault_for
from tests.custody.chains.chia.kit import ChainKey

#: BIP-380's checksum vectors (the second and third also appear in Bitcoin Core's descriptor_tests).
BIP380_VECTORS = [
    "raw(deadbeef)#89f8spxm",
    "sh(multi(2,[00000000/111'/222]xprvA1RpRA33e1JQ7ifknakTFpgNXPmW2YvmhqLQYMmrj4xJXXWYpDPS3xz7iAxn8L39njG"
    "VyuoseXzU6rcxFLJ8HFsTjSyQbLYnMpCqE2VbFWc,xprv9uPDJpEQgRQfDcW7BkF7eTya6RPxXeJCqCJGHuCJ4GiRVLzkTXBAJMu2q"
    "aMWPrS7AANYqdq6vcBcBUdJCVVFceUvJFjaPdGZ2y9WACViL4L/0))#ggrsrxfy",
    "sh(multi(2,[00000000/111'/222]xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5"
    "JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL,xpub68NZiKmJWnxxS6aaHmn81bvJeTESw724CRDs6HbuccFQN9Ku14VQrADWgqbh"
    "hTHBaohPX4CjNLf9fq9MYo6oDaPPLPxSb7gwQN3ih19Zm4Y/0))#tjg09x5t",
]


def public_keys(n: int, first: int = 1) -> list[bytes]:
    return [k.vault_key.public_key for k in keys(n, first)]


@pytest.mark.parametrize("vector", BIP380_VECTORS)
def test_the_descriptor_checksum_matches_bip380s_vectors(vector: str) -> None:
    body, expected = vector.split("#")
    assert checksum(body) == expected


@pytest.mark.parametrize("wrong", ["raw(deadbeef)#89f8spxn", "raw(deedbeef)#89f8spxm"])
def test_a_changed_descriptor_or_checksum_no_longer_matches(wrong: str) -> None:
    body, claimed = wrong.split("#")
    assert checksum(body) != claimed


def test_the_vaults_descriptor_carries_its_own_checksum() -> None:
    text = descriptor(public_keys(3), 2)
    body, _, check = text.rpartition("#")
    assert len(check) == 8
    assert text.endswith("#" + check)
    assert checksum(text.split("#")[0]) == check
    assert body.startswith("wsh(sortedmulti(2,")


def test_embit_reads_the_vaults_descriptor_as_the_vaults_own_script() -> None:
    pks = public_keys(3)
    parsed = Descriptor.from_string(descriptor(pks, 2))
    assert parsed.witness_script().data == witness_script(pks, 2)
    assert parsed.script_pubkey().data == p2wsh(witness_script(pks, 2))


def test_the_key_order_changes_neither_the_witness_script_nor_the_address() -> None:
    pks = public_keys(3)
    scripts = {witness_script(list(order), 2) for order in permutations(pks)}
    addresses = {vault_address(list(order), 2, "regtest") for order in permutations(pks)}
    assert len(scripts) == 1 and len(addresses) == 1
    (script,) = scripts
    # BIP-67: OP_2 <the keys in byte order> OP_3 OP_CHECKMULTISIG
    assert script == b"\x52" + b"".join(b"\x21" + k for k in sorted(pks)) + b"\x53\xae"
    for order in permutations(pks):
        described = Descriptor.from_string(descriptor(list(order), 2))
        assert described.script_pubkey().data == p2wsh(script)


def test_the_vault_address_is_a_p2wsh_address_of_its_network() -> None:
    pks = public_keys(3)
    prefixes = {"mainnet": "bc1q", "testnet": "tb1q", "signet": "tb1q", "regtest": "bcrt1q"}
    for network, prefix in prefixes.items():
        text = vault_address(pks, 2, network)
        assert text.startswith(prefix)
        assert script_of(text, network) == p2wsh(witness_script(pks, 2))


def test_a_witness_script_refuses_a_repeated_key() -> None:
    pks = public_keys(2)
    with pytest.raises(ChainError, match="distinct compressed"):
        witness_script([pks[0], pks[1], pks[0]], 2)


def test_a_witness_script_refuses_an_uncompressed_key() -> None:
    pks = public_keys(3)
    uncompressed = b"\x04" + bytes(range(64))
    with pytest.raises(ChainError, match="distinct compressed"):
        witness_script([*pks[:2], uncompressed], 2)
    with pytest.raises(ChainError, match="distinct compressed"):
        witness_script([*pks[:2], b"\x05" + pks[2][1:]], 2)


@pytest.mark.parametrize(("n", "m"), [(3, 4), (3, 0), (17, 2), (0, 0)])
def test_a_witness_script_refuses_a_threshold_outside_one_to_n_and_more_than_16_keys(n: int, m: int) -> None:
    with pytest.raises(ChainError, match="1 <= M <= N"):
        witness_script(public_keys(n), m)


def test_sixteen_keys_are_the_most_a_vault_has() -> None:
    script = witness_script(public_keys(16), 16)
    assert script[0] == 0x60 and script[-2:] == b"\x60\xae"  # OP_16 ... OP_16 OP_CHECKMULTISIG


@pytest.mark.parametrize(
    ("text", "network"),
    [
        ("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "regtest"),  # BIP-173's testnet P2WPKH
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "regtest"),  # BIP-173's mainnet P2WPKH
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "testnet"),
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "regtest"),  # mainnet base58
    ],
)
def test_another_networks_address_is_refused(text: str, network: str) -> None:
    with pytest.raises(ChainError, match=f"not a canonical {network} address"):
        script_of(text, network)


def test_the_same_addresses_are_read_on_their_own_network() -> None:
    assert script_of("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "mainnet").hex() == (
        "0014751e76e8199196d454941c45d1b3a323f1433bd6"
    )
    assert script_of("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "testnet").hex() == (
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"
    )


@pytest.mark.parametrize(
    "text",
    [
        DEST[:6] + DEST[6].upper() + DEST[7:],  # mixed case: invalid bech32
        DEST.upper(),  # valid bech32, but not the canonical (lower-case) form
        DEST[:-1] + ("q" if DEST[-1] != "q" else "p"),  # checksum broken
        "garbage",
        "",
        "bcrt1",
    ],
)
def test_a_mixed_case_uppercase_or_garbage_address_is_refused(text: str) -> None:
    with pytest.raises(ChainError):
        script_of(text, "regtest")


@pytest.mark.parametrize(
    ("text", "network"),
    [
        # BIP-350: a v0 program with a Bech32m checksum, and a v1 program with a Bech32 one
        ("tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47", "testnet"),
        ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "mainnet"),
    ],
)
def test_a_bech32_bech32m_mix_up_is_refused(text: str, network: str) -> None:
    with pytest.raises(ChainError):
        script_of(text, network)


def test_a_binding_whose_address_is_another_vaults_is_refused() -> None:
    vault = vault_for(tuple(k.vault_key for k in keys(3)), 2)
    assert isinstance(vault.chain, BitcoinBinding)
    others = [k.public_key for k in vault.keys[:2]]
    elsewhere = vault_address(others + public_keys(1, first=9), 2, "regtest")
    with pytest.raises(SchemaError, match="the vault's keys and threshold make"):
        replace(vault, chain=replace(vault.chain, address=elsewhere))
    with pytest.raises(SchemaError, match="the vault's keys and threshold make"):
        replace(vault, threshold=3)  # the same keys at another threshold make another address


def test_a_binding_of_another_network_is_refused() -> None:
    with pytest.raises(SchemaError, match="not a testnet segwit address"):
        BitcoinBinding(
            network="testnet", address=vault_address(public_keys(3), 2, "regtest"), max_fee_rate=10
        )


def test_a_p256_key_in_a_bitcoin_vault_is_refused() -> None:
    p256 = ChainKey(777, "station-r1", Algorithm.P256).vault_key
    vault_keys = (*(k.vault_key for k in keys(2)), p256)
    with pytest.raises(SchemaError, match="Bitcoin needs secp256k1"):
        vault_for(vault_keys, 2)


def test_a_destination_of_another_network_is_refused_in_the_vault() -> None:
    vault_keys = tuple(k.vault_key for k in keys(3))
    with pytest.raises(SchemaError, match="not a canonical regtest address"):
        vault_for(vault_keys, 2, destinations=("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",))
