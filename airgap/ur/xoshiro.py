"""Xoshiro256**, the PRNG both ends of a fountain stream must agree on bit for bit."""

from __future__ import annotations

import hashlib

_MASK = (1 << 64) - 1


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & _MASK


class Xoshiro256:
    """Seeded from SHA-256 of a seed, state words read big-endian (BCR-2024-001 §4)."""

    __slots__ = ("_s",)

    def __init__(self, seed: bytes) -> None:
        digest = hashlib.sha256(seed).digest()
        self._s = [int.from_bytes(digest[i : i + 8], "big") for i in range(0, 32, 8)]

    @classmethod
    def from_crc32(cls, checksum: int) -> Xoshiro256:
        return cls(checksum.to_bytes(4, "big"))

    def next(self) -> int:
        s = self._s
        result = (_rotl((s[1] * 5) & _MASK, 7) * 9) & _MASK
        t = (s[1] << 17) & _MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def next_double(self) -> float:
        # Python floats are IEEE-754 doubles, which the spec requires for determinism.
        return self.next() / 18446744073709551616.0

    def next_int(self, low: int, high: int) -> int:
        """An integer in the closed range [low, high]."""
        return int(self.next_double() * (high - low + 1)) + low

    def next_byte(self) -> int:
        return self.next_int(0, 255)

    def next_data(self, count: int) -> bytes:
        return bytes(self.next_byte() for _ in range(count))
