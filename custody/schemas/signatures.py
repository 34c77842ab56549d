"""Signature verification both sides share: the station before release, the host on receipt.

Every signature covers a 32-byte digest. ECDSA signs it as a pre-hashed
SHA-256 value (what raw ``CKM_ECDSA`` does in the HSM); Ed25519 signs the 32
bytes as its message. Signatures travel as 64 raw bytes (r || s for ECDSA).

ECDSA signatures must be low-S on both curves, so each has exactly one
accepted form: (r, s) and (r, n - s) both verify mathematically, and a
malleated twin of a genuine answer must never count, nor make the genuine one
look like a second signature. Chia's r1 member accepts high-S, so P-256
needs the rule as much as secp256k1 does.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from custody.errors import CustodyError, SchemaError
from custody.schemas.key_record import Algorithm

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ORDERS: dict[Algorithm, int] = {Algorithm.SECP256K1: SECP256K1_ORDER, Algorithm.P256: P256_ORDER}
_CURVES: dict[Algorithm, ec.EllipticCurve] = {
    Algorithm.SECP256K1: ec.SECP256K1(),
    Algorithm.P256: ec.SECP256R1(),
}


_PREHASHED = ec.ECDSA(Prehashed(hashes.SHA256()))


@lru_cache(maxsize=256)
def _public_key(
    algorithm: Algorithm, public_key: bytes
) -> ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey:
    """Parsing a point costs a third of a verification; a batch verifies against one key."""
    if algorithm is Algorithm.ED25519:
        return ed25519.Ed25519PublicKey.from_public_bytes(public_key)
    return ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[algorithm], public_key)


class SignatureError(CustodyError):
    """A signature does not verify, or is not in its one accepted form."""


def verify_signature(algorithm: Algorithm, public_key: bytes, digest: bytes, signature: bytes) -> None:
    """Return None if ``signature`` is valid for ``digest``; raise SignatureError otherwise."""
    if len(digest) != 32:
        raise SignatureError("the signed digest must be 32 bytes")
    if len(signature) != 64:
        raise SignatureError("signature must be 64 bytes")
    try:
        key = _public_key(algorithm, public_key)
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, digest)
            return
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        if s > ORDERS[algorithm] // 2:
            raise SignatureError(f"{algorithm.value} signature is not low-S (its malleated twin)")
        key.verify(encode_dss_signature(r, s), digest, _PREHASHED)
    except InvalidSignature:
        raise SignatureError("signature does not verify against the public key") from None
    except ValueError as exc:
        raise SignatureError(f"malformed public key or signature: {exc}") from None


def canonical_signature(algorithm: Algorithm, signature: bytes) -> bytes:
    """The low-S form of an ECDSA r || s (Ed25519 as it is): compare signatures through this."""
    order = ORDERS.get(algorithm)
    if order is None or len(signature) != 64:
        return signature
    s = int.from_bytes(signature[32:], "big")
    return signature[:32] + min(s, order - s).to_bytes(32, "big")


#: A chain signature is one 64-byte signature per chain message: one for a Chia spend or a SafeTx,
#: one per input of a Bitcoin transaction (at most this many inputs are signed).
MAX_CHAIN_SIGNATURES = 100


def check_chain_signature(value: bytes, *, what: str) -> bytes:
    """Empty (a statement vault) or 1 to MAX_CHAIN_SIGNATURES signatures of 64 bytes."""
    if len(value) % 64 or len(value) > 64 * MAX_CHAIN_SIGNATURES:
        raise SchemaError(
            f"{what}: chain_signature must be up to {MAX_CHAIN_SIGNATURES} signatures of 64 bytes"
        )
    return value


def split_chain_signature(value: bytes) -> list[bytes]:
    return [value[i : i + 64] for i in range(0, len(value), 64)]
