"""Software keys and ready-made messages for schema tests (the HSM is not needed to test the format)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from custody.schemas.key_record import Algorithm
from custody.schemas.request import SpendRequest, Withdraw
from custody.schemas.response import SignatureResponse
from custody.schemas.signatures import canonical_signature
from custody.schemas.vault import Asset, Rules, VaultDefinition, VaultKey

T0 = 1_790_000_000


class SoftKey:
    """A P-256 (or secp256k1) key in memory, signing like the station's HSM does (prehashed digest,
    raw r||s)."""

    def __init__(self, seed: int, station: str, algorithm: Algorithm = Algorithm.P256) -> None:
        scalar = int.from_bytes(hashlib.sha256(b"soft key %d" % seed).digest(), "big") % (2**255)
        self.algorithm = algorithm
        curve = ec.SECP256K1() if algorithm is Algorithm.SECP256K1 else ec.SECP256R1()
        self.private = ec.derive_private_key(scalar, curve)
        self.public = self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
        self.station = station

    @property
    def vault_key(self) -> VaultKey:
        return VaultKey(station=self.station, algorithm=self.algorithm, public_key=self.public)

    def sign(self, digest: bytes) -> bytes:
        """Low-S, as the station's HSM adapter normalises it."""
        der = self.private.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        r, s = decode_dss_signature(der)
        return canonical_signature(self.algorithm, r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def respond(
        self, request: SpendRequest, *, audit_seq: int = 7, approved_at: int = T0, **overrides: Any
    ) -> SignatureResponse:
        unsigned = SignatureResponse(
            request_id=request.request_id,
            request_digest=request.digest(),
            vault_id=request.vault_id,
            station=self.station,
            key_id=self.vault_key.key_id,
            algorithm=self.algorithm,
            audit_seq=audit_seq,
            log_head=hashlib.sha256(b"head %d" % audit_seq).digest(),
            approved_at=approved_at,
        )
        unsigned = replace(unsigned, **overrides)
        return replace(unsigned, signature=self.sign(unsigned.statement_digest()))


KEYS = [SoftKey(i, f"station-{i}") for i in range(1, 6)]

RULES = Rules(
    destinations=("xch1dest",),
    min_per_spend=1,
    max_per_spend=50,
    window_max=100,
    window_count=10,
    max_fee=0,
    window_seconds=86400,
    cooldown_seconds=3600,
    announce_delay_seconds=0,
    announce_expiry_seconds=0,
    rekey_delay_seconds=86400,
    max_request_lifetime_seconds=3600,
)


def vault(threshold: int = 3, keys: list[SoftKey] = KEYS, **changes: Any) -> VaultDefinition:
    base = VaultDefinition(
        vault_id="cold",
        generation=1,
        asset=Asset(code="XCH", decimals=12),
        threshold=threshold,
        keys=tuple(k.vault_key for k in keys),
        rules=RULES,
    )
    return replace(base, **changes) if changes else base


def request(v: VaultDefinition | None = None, **changes: Any) -> SpendRequest:
    v = v or vault()
    base = SpendRequest(
        request_id=bytes(range(16)),
        vault_id=v.vault_id,
        policy_digest=v.digest(),
        created_at=T0,
        expires_at=T0 + 600,
        action=Withdraw(asset="XCH", amount=10, destination="xch1dest"),
    )
    return replace(base, **changes) if changes else base
