"""``ur:crypto-psbt`` and ``ur:psbt`` (BCR-2020-006): the PSBT as one CBOR byte string.

Sparrow, Specter, SeedSigner, Keystone and BlueWallet show an unsigned PSBT
this way and scan the signed one back the same way. The CBOR is read by
hand: exactly one definite-length byte string with a minimal header and
nothing after it (no tags, no indefinite lengths), so each PSBT has one encoding.
"""

from __future__ import annotations

from custody.chains.base import ChainError
from custody.chains.bitcoin.psbt import MAX_PSBT_BYTES

#: The older registry name first: what most wallets show today.
PSBT_UR_TYPES = ("crypto-psbt", "psbt")


def decode_psbt_ur(cbor: bytes) -> bytes:
    """The PSBT in a ``crypto-psbt`` / ``psbt`` UR's CBOR."""
    if not cbor or cbor[0] >> 5 != 2:
        raise ChainError("a PSBT UR holds one CBOR byte string")
    info, at = cbor[0] & 0x1F, 1
    if info < 24:
        length = info
    elif info in (24, 25, 26):
        size = 1 << (info - 24)
        length, at = int.from_bytes(cbor[1 : 1 + size], "big"), 1 + size
        if length < (24 if size == 1 else 1 << (8 * size // 2)):
            raise ChainError("a PSBT UR's byte string header is not minimal")
    else:
        raise ChainError("a PSBT UR's byte string is indefinite or too long")
    if length > MAX_PSBT_BYTES:
        raise ChainError(f"the PSBT is {length} bytes; at most {MAX_PSBT_BYTES} are read")
    if len(cbor) != at + length:
        raise ChainError("a PSBT UR's CBOR is not exactly one byte string")
    return cbor[at:]


def encode_psbt_ur(psbt: bytes) -> bytes:
    n = len(psbt)
    if n < 24:
        head = bytes([0x40 | n])
    elif n < 0x100:
        head = bytes([0x58, n])
    elif n < 0x10000:
        head = b"\x59" + n.to_bytes(2, "big")
    else:
        head = b"\x5a" + n.to_bytes(4, "big")
    return head + psbt
