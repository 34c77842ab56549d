"""Owner signatures as a Safe reads them: 65 bytes r || s || v, packed in ascending owner order.

A station's HSM makes a raw ECDSA signature (r, s) over the safeTxHash, low-S.
The Safe also needs v, the recovery id plus 27; it is found by recovering
both candidates, and the station checks before release that recovery gives
its own address. The contract itself accepts high-S and v = 31/32 (eth_sign)
and approved hashes (v = 1): the judge below refuses all three, because no
station makes them.
"""

from __future__ import annotations

from collections.abc import Iterable

from eth_keys.exceptions import BadSignature
from eth_keys.main import KeyAPI
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError

from custody.chains.base import ChainError
from custody.schemas.vault import VaultKey

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_keys = KeyAPI()


def address_of(public_key: bytes) -> bytes:
    """The 20-byte address of a compressed (33-byte) secp256k1 public key."""
    try:
        point = _keys.PublicKey.from_compressed_bytes(public_key)
    except (ValidationError, ValueError) as exc:
        raise ChainError(f"not a secp256k1 public key: {exc}") from None
    return keccak(point.to_bytes())[-20:]


def owner_addresses(keys: Iterable[VaultKey]) -> frozenset[bytes]:
    """The Safe owners ``keys`` stand for."""
    return frozenset(address_of(k.public_key) for k in keys)


def recover(digest: bytes, r: int, s: int, recovery_id: int) -> bytes | None:
    """The address that signed ``digest`` with (r, s, recovery id); None if none does."""
    try:
        signature = _keys.Signature(vrs=(recovery_id, r, s))
        return signature.recover_public_key_from_msg_hash(digest).to_canonical_address()
    except (BadSignature, ValidationError, ValueError):
        return None


def owner_signature(digest: bytes, signature: bytes, owner: bytes) -> bytes:
    """The 65-byte Safe signature of ``owner`` from its 64-byte (r, s); ChainError unless it recovers."""
    if len(signature) != 64:
        raise ChainError("an owner signature is 64 bytes of r || s")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < SECP256K1_N and 0 < s <= SECP256K1_N // 2):
        raise ChainError("an owner signature must be low-S with r and s in range")
    for recovery_id in (0, 1):
        if recover(digest, r, s, recovery_id) == owner:
            return signature + bytes([27 + recovery_id])
    raise ChainError("the signature does not recover to the owner's address")


def pack(digest: bytes, signatures: Iterable[tuple[bytes, bytes]]) -> bytes:
    """Each (owner, 64-byte signature) as 65 bytes, sorted by owner address as the Safe requires."""
    return b"".join(owner_signature(digest, sig, owner) for owner, sig in sorted(signatures))


def judge_signatures(digest: bytes, packed: bytes, owners: frozenset[bytes], needed: int) -> list[str]:
    """Every reason ``packed`` would not be a sound approval of ``digest`` by ``needed`` of ``owners``."""
    if not packed or len(packed) % 65:
        return [f"signatures are {len(packed)} bytes, not a whole number of 65-byte signatures"]
    problems: list[str] = []
    signers: list[bytes] = []
    for n in range(len(packed) // 65):
        chunk = packed[65 * n : 65 * n + 65]
        r, s, v = int.from_bytes(chunk[:32], "big"), int.from_bytes(chunk[32:64], "big"), chunk[64]
        where = f"signature {n + 1}"
        if v not in (27, 28):
            problems.append(
                f"{where}: v is {v}; stations sign with v 27 or 28 only (no eth_sign, no approved hash)"
            )
            continue
        if not (0 < r < SECP256K1_N and 0 < s <= SECP256K1_N // 2):
            problems.append(f"{where}: not low-S (or r, s out of range)")
            continue
        signer = recover(digest, r, s, v - 27)
        if signer is None or signer not in owners:
            problems.append(f"{where}: recovers to {signer.hex() if signer else 'nothing'}, not an owner")
            continue
        if signers and signer <= signers[-1]:
            problems.append(f"{where}: owners out of ascending order, or one owner twice")
            continue
        signers.append(signer)
    if len(signers) < needed:
        problems.append(f"{len(signers)} valid owner signature(s); the threshold is {needed}")
    return problems
