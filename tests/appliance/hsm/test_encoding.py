from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from appliance.errors import HsmError
from appliance.hsm.encoding import normalize_low_s, public_key_from_ec_point, unwrap_ec_point
from custody.schemas.key_record import Algorithm
from custody.schemas.signatures import ORDERS, SignatureError, verify_signature


def test_unwrap_der_octet_string_short_and_long_and_raw() -> None:
    point = b"\x04" + bytes(range(64))
    assert unwrap_ec_point(b"\x04\x41" + point) == point
    assert unwrap_ec_point(b"\x04\x81\x41" + point) == point
    assert unwrap_ec_point(point) == point  # a module that returns the bare point
    assert unwrap_ec_point(b"\x04\x20" + bytes(32)) == bytes(32)


def test_public_key_compressed_and_checked() -> None:
    key = ec.generate_private_key(ec.SECP256K1()).public_key()
    uncompressed = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    compressed = key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    assert public_key_from_ec_point(Algorithm.SECP256K1, b"\x04\x41" + uncompressed) == compressed
    with pytest.raises(HsmError, match="invalid"):
        public_key_from_ec_point(Algorithm.P256, b"\x04\x41" + uncompressed)
    with pytest.raises(HsmError, match="32 bytes"):
        public_key_from_ec_point(Algorithm.ED25519, b"\x04\x21" + bytes(33))


@pytest.mark.parametrize(
    ("algorithm", "curve"), [(Algorithm.SECP256K1, ec.SECP256K1()), (Algorithm.P256, ec.SECP256R1())]
)
def test_low_s_normalisation_keeps_the_signature_valid(algorithm: Algorithm, curve: ec.EllipticCurve) -> None:
    """Both curves: P-256 too, since issue 12 (defect 6) showed its malleated twin being accepted."""
    private = ec.generate_private_key(curve)
    public = private.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    digest = hashlib.sha256(b"spend").digest()
    order = ORDERS[algorithm]
    r, s = decode_dss_signature(private.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))))
    high_s = max(s, order - s)
    raw_high = r.to_bytes(32, "big") + high_s.to_bytes(32, "big")
    with pytest.raises(SignatureError, match="low-S"):
        verify_signature(algorithm, public, digest, raw_high)
    low = normalize_low_s(algorithm, raw_high)
    assert int.from_bytes(low[32:], "big") <= order // 2
    verify_signature(algorithm, public, digest, low)
    assert normalize_low_s(algorithm, low) == low
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(algorithm, public, hashlib.sha256(b"other").digest(), low)
