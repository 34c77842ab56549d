"""The unsigned Chia spend a request carries: strict canonical CBOR inside zlib, with hard caps.

What it holds: the vault coin (and its lineage proof, which only the
assembler needs), the vault's delegated spend (what the members sign), and
every other coin spend of the transaction (the fund coins the vault
authorises by message, and clawback coins it claws back). Fund coins share
one 725-byte puzzle reveal; it is not sent (reveal index -1) and the station
rebuilds it from the launcher id. Clawbacks being clawed back are revealed by
their parameters, so the parser can recognise them.

Decompression stops at ``MAX_INFLATED`` bytes, so a small hostile payload
cannot make the station hold a large one.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from chia_wallet_sdk import ClawbackV2, Clvm, Coin, CoinSpend, LineageProof, Proof, Spend

from custody.chains.base import ChainError
from custody.chains.chia.custody import p2_reveal
from custody.errors import SchemaError
from custody.schemas import strict
from custody.schemas.vault import MAX_KEYS

VERSION = 1
MAX_INFLATED = 256 * 1024
MAX_SPENDS = 64
MAX_REVEALS = 8
MAX_CLAWBACKS = 16
MAX_PROGRAM = 32 * 1024
RECEIVE_PUZZLE = -1  # reveal index: the vault's own receive puzzle, rebuilt by the reader


@dataclass(frozen=True, slots=True)
class CoinSpec:
    parent: bytes
    puzzle_hash: bytes
    amount: int

    def coin(self) -> Coin:
        return Coin(self.parent, self.puzzle_hash, self.amount)

    def to_list(self) -> list[Any]:
        return [self.parent, self.puzzle_hash, self.amount]

    @classmethod
    def of(cls, coin: Coin) -> CoinSpec:
        return cls(coin.parent_coin_info, coin.puzzle_hash, coin.amount)


@dataclass(frozen=True, slots=True)
class FundSpend:
    coin: CoinSpec
    reveal: int  # index into ``reveals``, or RECEIVE_PUZZLE
    solution: bytes


@dataclass(frozen=True, slots=True)
class ClawbackSpec:
    sender: bytes
    receiver: bytes
    seconds: int  # the absolute time until which the sender (the vault) can claw back
    amount: int

    def clawback(self) -> ClawbackV2:
        return ClawbackV2(self.sender, self.receiver, self.seconds, self.amount, False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChiaPayload:
    vault_coin: CoinSpec
    vault_proof: tuple[bytes, bytes, int]  # parent's parent coin id, parent's inner puzzle hash, amount
    delegated_puzzle: bytes
    delegated_solution: bytes
    spends: tuple[FundSpend, ...]
    reveals: tuple[bytes, ...] = ()
    clawbacks: tuple[ClawbackSpec, ...] = ()
    #: Which custody path signs: 0 the main quorum, k the recovery path of k initiators.
    path: int = 0
    #: The slow rekey the vault coin is scheduled under, (initiators, next custody hash), if any.
    scheduled: tuple[int, bytes] | None = None

    def to_bytes(self) -> bytes:
        body = strict.encode(
            {
                "version": VERSION,
                "vault": [*self.vault_coin.to_list(), list(self.vault_proof)],
                "delegated": [self.delegated_puzzle, self.delegated_solution],
                "spends": [[*s.coin.to_list(), s.reveal, s.solution] for s in self.spends],
                "reveals": list(self.reveals),
                "clawbacks": [[c.sender, c.receiver, c.seconds, c.amount] for c in self.clawbacks],
                "custody": [self.path, *(self.scheduled or (0, b""))],
            }
        )
        return zlib.compress(body, 9)

    def coin_spends(self, launcher_id: bytes) -> list[CoinSpend]:
        """The non-vault coin spends, each with its puzzle reveal in full."""
        out = []
        for s in self.spends:
            reveal = p2_reveal(launcher_id) if s.reveal == RECEIVE_PUZZLE else self.reveals[s.reveal]
            out.append(CoinSpend(s.coin.coin(), reveal, s.solution))
        return out

    def delegated_spend(self, clvm: Clvm) -> Spend:
        try:
            return Spend(clvm.deserialize(self.delegated_puzzle), clvm.deserialize(self.delegated_solution))
        except (ValueError, RuntimeError) as exc:
            raise ChainError(f"the vault's delegated spend is not CLVM ({exc})") from None

    def proof(self) -> Proof:
        return lineage(self.vault_proof)


def lineage(vault_proof: tuple[bytes, bytes, int]) -> Proof:
    """The singleton's lineage proof: parent's parent id, parent's inner puzzle hash, parent's amount."""
    parent_parent, parent_inner, amount = vault_proof
    if parent_inner:
        return LineageProof(parent_parent, parent_inner, amount).to_proof()
    return Proof(parent_parent, None, amount)  # the eve vault: its parent is the launcher


def inflate(data: bytes) -> bytes:
    decompressor = zlib.decompressobj()
    try:
        body = decompressor.decompress(data, MAX_INFLATED + 1)
    except zlib.error as exc:
        raise ChainError(f"the chain payload is not zlib data ({exc})") from None
    if len(body) > MAX_INFLATED or decompressor.unconsumed_tail:
        raise ChainError(f"the chain payload inflates beyond {MAX_INFLATED} bytes")
    if not decompressor.eof or decompressor.unused_data:
        raise ChainError("the chain payload's zlib stream is truncated or has trailing data")
    return body


def _bytes32(value: Any, what: str) -> bytes:
    if type(value) is not bytes or len(value) != 32:
        raise SchemaError(f"chia payload: {what} must be 32 bytes")
    return value


def _amount(value: Any, what: str) -> int:
    if type(value) is not int or not 0 <= value < 2**64:
        raise SchemaError(f"chia payload: {what} must be a 64-bit amount")
    return value


def _program(value: Any, what: str) -> bytes:
    if type(value) is not bytes or not 0 < len(value) <= MAX_PROGRAM:
        raise SchemaError(f"chia payload: {what} must be a serialized program of at most {MAX_PROGRAM} bytes")
    return value


def _coin(items: list[Any], what: str) -> CoinSpec:
    return CoinSpec(
        _bytes32(items[0], f"{what} parent"),
        _bytes32(items[1], f"{what} puzzle hash"),
        _amount(items[2], f"{what} amount"),
    )


def _list(value: Any, length: int | None, cap: int, what: str) -> list[Any]:
    if not isinstance(value, list) or len(value) > cap or (length is not None and len(value) != length):
        raise SchemaError(f"chia payload: {what} has the wrong shape")
    return value


def parse_payload(data: bytes) -> ChiaPayload:
    """Strict: every field typed and bounded, nothing unknown, canonical CBOR."""
    v = strict.fields(
        strict.decode(inflate(data), what="chia payload", max_bytes=MAX_INFLATED),
        {
            "version": int,
            "vault": list,
            "delegated": list,
            "spends": list,
            "reveals": list,
            "clawbacks": list,
            "custody": list,
        },
        what="chia payload",
    )
    strict.version(v["version"], VERSION, what="chia payload")
    vault = _list(v["vault"], 4, 4, "vault")
    proof = _list(vault[3], 3, 3, "vault proof")
    parent_inner = proof[1]
    if type(parent_inner) is not bytes or len(parent_inner) not in (0, 32):
        raise SchemaError("chia payload: the vault proof's inner puzzle hash must be empty or 32 bytes")
    delegated = _list(v["delegated"], 2, 2, "delegated spend")
    reveals = tuple(_program(r, "a reveal") for r in _list(v["reveals"], None, MAX_REVEALS, "reveals"))
    spends = []
    for item in _list(v["spends"], None, MAX_SPENDS, "spends"):
        s = _list(item, 5, 5, "a spend")
        reveal = s[3]
        if type(reveal) is not int or not (reveal == RECEIVE_PUZZLE or 0 <= reveal < len(reveals)):
            raise SchemaError("chia payload: a spend names a reveal that is not there")
        spends.append(FundSpend(_coin(s, "spent coin"), reveal, _program(s[4], "a solution")))
    clawbacks = []
    for item in _list(v["clawbacks"], None, MAX_CLAWBACKS, "clawbacks"):
        c = _list(item, 4, 4, "a clawback")
        clawbacks.append(
            ClawbackSpec(
                _bytes32(c[0], "clawback sender"),
                _bytes32(c[1], "clawback receiver"),
                _amount(c[2], "clawback expiry"),
                _amount(c[3], "clawback amount"),
            )
        )
    path, scheduled_by, scheduled_next = _list(v["custody"], 3, 3, "custody")
    for value in (path, scheduled_by):
        if type(value) is not int or not 0 <= value <= MAX_KEYS:
            raise SchemaError("chia payload: a custody path must be a number of signers")
    if type(scheduled_next) is not bytes or len(scheduled_next) != (32 if scheduled_by else 0):
        raise SchemaError("chia payload: a scheduled rekey names its initiators and next custody, or neither")
    return ChiaPayload(
        path=path,
        scheduled=(scheduled_by, scheduled_next) if scheduled_by else None,
        vault_coin=_coin(vault, "vault coin"),
        vault_proof=(
            _bytes32(proof[0], "vault proof parent"),
            parent_inner,
            _amount(proof[2], "vault proof amount"),
        ),
        delegated_puzzle=_program(delegated[0], "the delegated puzzle"),
        delegated_solution=_program(delegated[1], "the delegated solution"),
        spends=tuple(spends),
        reveals=reveals,
        clawbacks=tuple(clawbacks),
    )
