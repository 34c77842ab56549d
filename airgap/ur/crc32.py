"""CRC-32 (IEEE 802.3, as zlib computes it), the checksum BC-UR uses everywhere."""

from __future__ import annotations

import zlib


def crc32(data: bytes) -> int:
    """The CRC-32 of ``data`` as an unsigned 32-bit integer."""
    return zlib.crc32(data) & 0xFFFFFFFF


def crc32_bytes(data: bytes) -> bytes:
    """The CRC-32 of ``data`` serialised big-endian, as bytewords appends it."""
    return crc32(data).to_bytes(4, "big")
