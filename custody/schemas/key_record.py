"""The key record: a station's public key and where it lives, scanned by the host at enrolment.

``key_id`` is SHA-256 of the encoded public key: SEC1 compressed points (33
bytes) for secp256k1 and P-256, the raw 32-byte key for Ed25519. The record is
not signed: the host shows the key id so a person compares it out of band
with the one the station displays.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from custody.errors import SchemaError
from custody.schemas import strict

UR_TYPE = "x-key-record"
VERSION = 1


class Algorithm(StrEnum):
    SECP256K1 = "secp256k1"  # ECDSA over secp256k1, low-S normalised
    P256 = "p256"  # ECDSA over NIST P-256
    ED25519 = "ed25519"  # EdDSA over edwards25519

    @property
    def public_key_len(self) -> int:
        return 32 if self is Algorithm.ED25519 else 33


def parse_algorithm(value: str, *, what: str) -> Algorithm:
    try:
        return Algorithm(value)
    except ValueError:
        raise SchemaError(f"{what}: unknown algorithm {value!r}") from None


def key_id_for(public_key: bytes) -> bytes:
    return hashlib.sha256(public_key).digest()


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRecord:
    algorithm: Algorithm
    public_key: bytes
    key_id: bytes
    token_serial: str
    label: str
    station: str
    created_at: int

    def to_cbor(self) -> bytes:
        return strict.encode(
            {
                "version": VERSION,
                "algorithm": self.algorithm.value,
                "public_key": self.public_key,
                "key_id": self.key_id,
                "token_serial": self.token_serial,
                "label": self.label,
                "station": self.station,
                "created_at": self.created_at,
            }
        )

    @classmethod
    def from_cbor(cls, data: bytes) -> KeyRecord:
        what = "key record"
        value = strict.fields(
            strict.decode(data, what=what, max_bytes=4096),
            {
                "version": int,
                "algorithm": str,
                "public_key": bytes,
                "key_id": bytes,
                "token_serial": str,
                "label": str,
                "station": str,
                "created_at": int,
            },
            what=what,
        )
        if value["version"] != VERSION:
            raise SchemaError(f"{what}: version {value['version']} is not supported (expected {VERSION})")
        algorithm = parse_algorithm(value["algorithm"], what=what)
        if len(value["public_key"]) != algorithm.public_key_len:
            raise SchemaError(f"{what}: public key length does not fit {algorithm.value}")
        if value["key_id"] != key_id_for(value["public_key"]):
            raise SchemaError(f"{what}: key id is not the SHA-256 of the public key")
        for name in ("token_serial", "label", "station"):
            if not 0 < len(value[name]) <= 64 or not value[name].isprintable():
                raise SchemaError(f"{what}: {name} must be 1 to 64 printable characters")
        strict.timestamp(value["created_at"], what=what, name="created_at")
        return cls(
            algorithm=algorithm,
            public_key=value["public_key"],
            key_id=value["key_id"],
            token_serial=value["token_serial"],
            label=value["label"],
            station=value["station"],
            created_at=value["created_at"],
        )
