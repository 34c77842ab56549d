"""A Chia vault's identity on chain, recomputed from its keys: custody hash, puzzle hashes, addresses.

The custody is ``m_of_n`` over one member per station key: ``r1_member`` for
P-256, ``k1_member`` for secp256k1, without fast-forward (a fast-forward
member signs the vault's puzzle hash, not its coin id, and its signatures
replay on the next vault coin). Anyone holding the vault definition
recomputes the custody hash; the host and every station do, and refuse a
vault coin whose puzzle hash does not follow from it.

Funds sit in separate coins at the vault's receive address, the p2 puzzle:
``singleton_member`` of the launcher id. Every such coin has the same puzzle,
so a station rebuilds its reveal instead of reading 725 bytes off the link.
"""

from __future__ import annotations

from functools import lru_cache

from chia_wallet_sdk import (
    Address,
    Clvm,
    Coin,
    K1PublicKey,
    MemberConfig,
    R1PublicKey,
    curry_tree_hash,
    k1_member_hash,
    m_of_n_hash,
    r1_member_hash,
    singleton_member_hash,
    singleton_struct_hash,
)

from custody.errors import SchemaError
from custody.schemas.chain import ChiaNetwork
from custody.schemas.key_record import Algorithm
from custody.schemas.vault import VaultKey

#: Members sit below the top-level m_of_n; the top level is the custody itself.
MEMBER = MemberConfig()
TOP = MemberConfig().with_top_level(True)


def member_hash(key: VaultKey) -> bytes:
    try:
        if key.algorithm is Algorithm.P256:
            return r1_member_hash(MEMBER, R1PublicKey.from_bytes(key.public_key), False)
        if key.algorithm is Algorithm.SECP256K1:
            return k1_member_hash(MEMBER, K1PublicKey.from_bytes(key.public_key), False)
    except ValueError:  # the SDK's "Secp error": 33 bytes that are no point on the curve
        raise SchemaError(f"the key of {key.station} is not a point on its curve") from None
    raise SchemaError(f"a Chia vault member is a P-256 or secp256k1 key, not {key.algorithm.value}")


def custody_hash(keys: tuple[VaultKey, ...], threshold: int) -> bytes:
    return m_of_n_hash(TOP, threshold, [member_hash(k) for k in keys])


def p2_puzzle_hash(launcher_id: bytes) -> bytes:
    """The vault's receive puzzle hash: where its funds sit."""
    return singleton_member_hash(TOP, launcher_id, False)


@lru_cache(maxsize=64)
def _singleton_mod_hash() -> bytes:
    return Clvm().singleton_top_layer_v1_1().tree_hash()


def vault_puzzle_hash(launcher_id: bytes, custody: bytes) -> bytes:
    """The vault singleton's puzzle hash for a custody: its coin must have exactly this."""
    return curry_tree_hash(_singleton_mod_hash(), [singleton_struct_hash(launcher_id), custody])


@lru_cache(maxsize=64)
def p2_reveal(launcher_id: bytes) -> bytes:
    """The puzzle reveal every fund coin of the vault shares (rebuilt here, never read off the link)."""
    clvm = Clvm()
    puzzle_hash = p2_puzzle_hash(launcher_id)
    spend = clvm.mips_spend(Coin(bytes(32), puzzle_hash, 0), clvm.delegated_spend([]))
    spend.singleton_member(TOP, launcher_id, False, bytes(32), 1)
    reveal = spend.spend(puzzle_hash).puzzle
    if reveal.tree_hash() != puzzle_hash:  # unreachable unless the SDK changed its puzzles
        raise SchemaError("the rebuilt receive puzzle does not hash to the vault's receive puzzle hash")
    return reveal.serialize()


def address(puzzle_hash: bytes, network: ChiaNetwork) -> str:
    return Address(puzzle_hash, network.address_prefix).encode()


def decode_address(text: str, network: ChiaNetwork) -> bytes:
    """The puzzle hash an address names; SchemaError unless it is a bech32m address of this network."""
    try:
        decoded = Address.decode(text)
    except (ValueError, RuntimeError) as exc:
        raise SchemaError(f"{text!r} is not a bech32m address ({exc})") from None
    if decoded.prefix != network.address_prefix:
        raise SchemaError(
            f"{text!r} is an address for '{decoded.prefix}', not this vault's network ({network.name}, "
            f"'{network.address_prefix}')"
        )
    return decoded.puzzle_hash
