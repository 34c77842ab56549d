"""Pure conversions between PKCS#11 formats and ours (tested on their own, no HSM needed)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from appliance.errors import HsmError
from custody.schemas.key_record import Algorithm
from custody.schemas.signatures import canonical_signature

#: DER-encoded curve OIDs for CKA_EC_PARAMS.
EC_PARAMS: dict[Algorithm, bytes] = {
    Algorithm.SECP256K1: bytes.fromhex("06052b8104000a"),  # 1.3.132.0.10
    Algorithm.P256: bytes.fromhex("06082a8648ce3d030107"),  # 1.2.840.10045.3.1.7
    Algorithm.ED25519: bytes.fromhex("06032b6570"),  # 1.3.101.112 (RFC 8410)
}
_CURVES: dict[Algorithm, ec.EllipticCurve] = {
    Algorithm.SECP256K1: ec.SECP256K1(),
    Algorithm.P256: ec.SECP256R1(),
}


def unwrap_ec_point(attribute: bytes) -> bytes:
    """CKA_EC_POINT is a DER OCTET STRING around the point; some modules omit the wrapper."""
    if len(attribute) >= 2 and attribute[0] == 0x04:
        length = attribute[1]
        header = 2
        if length & 0x80:
            count = length & 0x7F
            if count not in (1, 2) or len(attribute) < 2 + count:
                raise HsmError("EC point attribute has a malformed DER length")
            length = int.from_bytes(attribute[2 : 2 + count], "big")
            header = 2 + count
        if header + length == len(attribute):
            return attribute[header:]
    return attribute


def public_key_from_ec_point(algorithm: Algorithm, attribute: bytes) -> bytes:
    """Our encoding of a public key: SEC1 compressed for ECDSA curves, raw 32 bytes for Ed25519."""
    point = unwrap_ec_point(attribute)
    if algorithm is Algorithm.ED25519:
        if len(point) != 32:
            raise HsmError(f"Ed25519 public key must be 32 bytes, the HSM gave {len(point)}")
        return point
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[algorithm], point)
    except ValueError as exc:
        raise HsmError(f"the HSM returned an invalid {algorithm.value} point: {exc}") from None
    return key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)


def normalize_low_s(algorithm: Algorithm, signature: bytes) -> bytes:
    """ECDSA r || s with s in the lower half of the curve's order (s and n - s both verify)."""
    if len(signature) != 64:
        raise HsmError(f"ECDSA signature must be 64 bytes, the HSM gave {len(signature)}")
    return canonical_signature(algorithm, signature)
