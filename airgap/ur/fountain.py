"""Multipart UR fountain coding (BCR-2024-001): a hybrid fixed-rate and rateless code.

The first ``seq_len`` parts carry one fragment each, in order; every later part
XORs a pseudo-random subset of fragments chosen by a PRNG seeded from the part's
sequence number and the message CRC, so a receiver that joins late or misses
frames still converges. The decoder below is the reference algorithm with
hard bounds added, because every part it sees comes from an untrusted camera.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import cbor2

from airgap.errors import ChecksumError, DecodeError, LimitExceededError, PartMismatchError
from airgap.ur.crc32 import crc32
from airgap.ur.sampler import RandomSampler
from airgap.ur.xoshiro import Xoshiro256

_U32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class FountainPart:
    """One part as carried on the wire: ``[seqNum, seqLen, messageLen, checksum, data]``."""

    seq_num: int
    seq_len: int
    message_len: int
    checksum: int
    data: bytes

    def to_cbor(self) -> bytes:
        return cbor2.dumps([self.seq_num, self.seq_len, self.message_len, self.checksum, self.data])

    @classmethod
    def from_cbor(cls, encoded: bytes) -> FountainPart:
        """Strictly parse a part: exact shape, unsigned ints in range, canonical bytes."""
        try:
            value = cbor2.loads(encoded, allow_indefinite=False, max_depth=2)
        except (cbor2.CBORDecodeError, ValueError, OverflowError) as exc:
            raise DecodeError(f"fountain part: not valid CBOR ({exc})") from None
        if not isinstance(value, list) or len(value) != 5:
            raise DecodeError("fountain part: expected an array of five items")
        seq_num, seq_len, message_len, checksum, data = value
        ints = (seq_num, seq_len, message_len, checksum)
        if not all(type(v) is int for v in ints) or type(data) is not bytes:
            raise DecodeError("fountain part: wrong field types")
        if not (1 <= seq_num <= _U32 and 0 <= checksum <= _U32):
            raise DecodeError("fountain part: sequence number or checksum out of range")
        if seq_len < 1 or message_len < 1 or not data:
            raise PartMismatchError("fountain part: empty sequence, message or fragment")
        fragment_len = len(data)
        if not (fragment_len * (seq_len - 1) < message_len <= fragment_len * seq_len):
            raise PartMismatchError(
                "fountain part: sequence length, message length and fragment length disagree"
            )
        part = cls(seq_num, seq_len, message_len, checksum, data)
        if part.to_cbor() != encoded:
            raise DecodeError("fountain part: CBOR is not in canonical form")
        return part


def find_nominal_fragment_length(message_len: int, min_fragment_len: int, max_fragment_len: int) -> int:
    """The fragment length giving the fewest fragments within the bounds (reference search)."""
    if message_len <= 0 or min_fragment_len <= 0 or max_fragment_len < min_fragment_len:
        raise ValueError("invalid message or fragment length bounds")
    max_fragment_count = max(1, message_len // min_fragment_len)
    fragment_len = message_len
    for fragment_count in range(1, max_fragment_count + 1):
        fragment_len = -(-message_len // fragment_count)
        if fragment_len <= max_fragment_len:
            break
    return fragment_len


def partition_message(message: bytes, fragment_len: int) -> list[bytes]:
    """Equal-length fragments, the last zero-padded."""
    fragments = [message[i : i + fragment_len] for i in range(0, len(message), fragment_len)]
    if fragments and len(fragments[-1]) < fragment_len:
        fragments[-1] = fragments[-1].ljust(fragment_len, b"\0")
    return fragments


def join_fragments(fragments: list[bytes], message_len: int) -> bytes:
    return b"".join(fragments)[:message_len]


def shuffled(items: list[int], rng: Xoshiro256, count: int) -> list[int]:
    """The first ``count`` items of a Fisher-Yates shuffle driven by ``rng``."""
    remaining = list(items)
    result: list[int] = []
    while len(result) < count:
        index = rng.next_int(0, len(remaining) - 1)
        result.append(remaining.pop(index))
    return result


@lru_cache(maxsize=64)
def _degree_sampler(seq_len: int) -> RandomSampler:
    return RandomSampler([1.0 / d for d in range(1, seq_len + 1)])


def choose_degree(seq_len: int, rng: Xoshiro256) -> int:
    """How many fragments a rateless part mixes: harmonic weights favour few."""
    return _degree_sampler(seq_len).next(rng.next_double) + 1


def choose_fragments(seq_num: int, seq_len: int, checksum: int) -> frozenset[int]:
    """The fragment indexes mixed into part ``seq_num``; both ends compute the same set."""
    if seq_num <= seq_len:
        return frozenset((seq_num - 1,))
    rng = Xoshiro256(seq_num.to_bytes(4, "big") + checksum.to_bytes(4, "big"))
    degree = choose_degree(seq_len, rng)
    return frozenset(shuffled(list(range(seq_len)), rng, degree))


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


class FountainEncoder:
    """Produces parts 1, 2, 3, … for a message; pure and deterministic from ``first_seq_num``."""

    def __init__(
        self,
        message: bytes,
        max_fragment_len: int,
        first_seq_num: int = 0,
        min_fragment_len: int = 10,
    ) -> None:
        if not message:
            raise ValueError("cannot encode an empty message")
        if len(message) > _U32:
            raise ValueError("message too long for a fountain stream")
        self.message_len = len(message)
        self.checksum = crc32(message)
        self.fragment_len = find_nominal_fragment_length(
            len(message), min(min_fragment_len, max_fragment_len), max_fragment_len
        )
        self._fragments = partition_message(message, self.fragment_len)
        self.seq_num = first_seq_num & _U32

    @property
    def seq_len(self) -> int:
        return len(self._fragments)

    @property
    def is_single_part(self) -> bool:
        return self.seq_len == 1

    @property
    def is_complete(self) -> bool:
        """True once the fixed-rate parts, enough on their own, have all been produced."""
        return self.seq_num >= self.seq_len

    def part_at(self, seq_num: int) -> FountainPart:
        indexes = choose_fragments(seq_num, self.seq_len, self.checksum)
        if len(indexes) == 1:
            data = self._fragments[next(iter(indexes))]
        else:
            acc = 0
            for i in indexes:
                acc ^= int.from_bytes(self._fragments[i], "big")
            data = acc.to_bytes(self.fragment_len, "big")
        return FountainPart(seq_num, self.seq_len, self.message_len, self.checksum, data)

    def next_part(self) -> FountainPart:
        self.seq_num = (self.seq_num + 1) & _U32
        if self.seq_num == 0:  # sequence numbers are 1-based; skip the wrap value
            self.seq_num = 1
        return self.part_at(self.seq_num)


class PartStatus(StrEnum):
    """What one received part did to the decoder (an expected outcome, not an error)."""

    NEW = "new"  # it added information
    DUPLICATE = "duplicate"  # nothing new: already had it, or reducible to nothing
    FOREIGN = "foreign"  # it belongs to a different message; ignored, state kept
    COMPLETE = "complete"  # the message is now whole and verified
    IGNORED = "ignored"  # the message was already complete


@dataclass(frozen=True, slots=True)
class _Held:
    indexes: frozenset[int]
    data: bytes


class FountainDecoder:
    """Reassembles one message from parts in any order, bounded in memory.

    The first accepted part fixes the message identity (seqLen, messageLen,
    checksum, fragment length); parts that disagree are reported FOREIGN and
    change nothing. Mixed parts held at once are capped, so a hostile stream of
    distinct high-degree parts cannot grow memory past a small multiple of the
    message length, itself capped by ``max_message_len``.
    """

    def __init__(self, *, max_message_len: int, max_seq_len: int) -> None:
        self._max_message_len = max_message_len
        self._max_seq_len = max_seq_len
        self._identity: tuple[int, int, int, int] | None = None
        self._simple: dict[int, bytes] = {}
        self._mixed: dict[frozenset[int], bytes] = {}
        self._mixed_cap = 0
        self._result: bytes | None = None
        self.parts_processed = 0
        self.parts_useful = 0

    @property
    def identity(self) -> tuple[int, int, int, int] | None:
        """(seqLen, messageLen, checksum, fragmentLen) of the message being assembled."""
        return self._identity

    @property
    def expected_fragment_count(self) -> int | None:
        return self._identity[0] if self._identity else None

    @property
    def received_fragment_count(self) -> int:
        return len(self._simple)

    @property
    def progress(self) -> float:
        """Fraction of fragments recovered, 0.0 to 1.0."""
        if self._result is not None:
            return 1.0
        if self._identity is None:
            return 0.0
        return len(self._simple) / self._identity[0]

    @property
    def result(self) -> bytes | None:
        return self._result

    def check_limits(self, part: FountainPart) -> None:
        if part.message_len > self._max_message_len:
            raise LimitExceededError(
                f"message of {part.message_len} bytes exceeds the cap of {self._max_message_len}"
            )
        if part.seq_len > self._max_seq_len:
            raise LimitExceededError(
                f"message of {part.seq_len} parts exceeds the cap of {self._max_seq_len}"
            )

    def matches(self, part: FountainPart) -> bool:
        ident = (part.seq_len, part.message_len, part.checksum, len(part.data))
        return self._identity is None or self._identity == ident

    def receive(self, part: FountainPart) -> PartStatus:
        if self._result is not None:
            return PartStatus.IGNORED
        self.check_limits(part)
        if not self.matches(part):
            return PartStatus.FOREIGN
        if self._identity is None:
            self._identity = (part.seq_len, part.message_len, part.checksum, len(part.data))
            self._mixed_cap = max(32, 2 * part.seq_len)
        self.parts_processed += 1
        indexes = choose_fragments(part.seq_num, part.seq_len, part.checksum)
        before = (len(self._simple), len(self._mixed))
        self._process(_Held(indexes, part.data))
        if self._result is not None:
            self.parts_useful += 1
            return PartStatus.COMPLETE
        if (len(self._simple), len(self._mixed)) != before:
            self.parts_useful += 1
            return PartStatus.NEW
        return PartStatus.DUPLICATE

    def _process(self, first: _Held) -> None:
        queue: deque[_Held] = deque([first])
        while queue and self._result is None:
            part = queue.popleft()
            if len(part.indexes) == 1:
                self._process_simple(part, queue)
            else:
                self._process_mixed(part, queue)

    def _process_simple(self, part: _Held, queue: deque[_Held]) -> None:
        (index,) = part.indexes
        if index in self._simple:
            return
        self._simple[index] = part.data
        assert self._identity is not None
        seq_len, message_len, checksum, _ = self._identity
        if len(self._simple) == seq_len:
            message = join_fragments([self._simple[i] for i in range(seq_len)], message_len)
            if crc32(message) != checksum:
                raise ChecksumError("fountain: reassembled message fails its checksum")
            self._result = message
            return
        self._reduce_mixed_by(part, queue)

    def _process_mixed(self, part: _Held, queue: deque[_Held]) -> None:
        if part.indexes in self._mixed:
            return
        indexes, data = part.indexes, part.data
        # Reduce by known simple fragments, then by held mixed parts that are subsets.
        known = indexes & self._simple.keys()
        for i in known:
            data = _xor(data, self._simple[i])
        indexes = indexes - known
        for held_indexes, held_data in list(self._mixed.items()):
            if held_indexes < indexes:
                indexes = indexes - held_indexes
                data = _xor(data, held_data)
        if not indexes:
            return
        reduced = _Held(frozenset(indexes), data)
        if len(reduced.indexes) == 1:
            queue.append(reduced)
            return
        if reduced.indexes in self._mixed:
            return
        self._reduce_mixed_by(reduced, queue)
        if len(self._mixed) < self._mixed_cap:
            self._mixed[reduced.indexes] = reduced.data

    def _reduce_mixed_by(self, part: _Held, queue: deque[_Held]) -> None:
        updated: dict[frozenset[int], bytes] = {}
        for indexes, data in self._mixed.items():
            if part.indexes < indexes:
                indexes = indexes - part.indexes
                data = _xor(data, part.data)
                if len(indexes) == 1:
                    queue.append(_Held(indexes, data))
                    continue
            updated[indexes] = data
        self._mixed = updated
