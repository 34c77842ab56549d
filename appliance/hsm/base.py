"""The seam between the station and its HSM: what a signer must offer, whatever is behind it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from custody.schemas.key_record import Algorithm


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyInfo:
    """A station key as the HSM holds it. ``key_id`` is SHA-256 of ``public_key``; ``handle_id``
    is the PKCS#11 CKA_ID, set at generation."""

    algorithm: Algorithm
    label: str
    public_key: bytes
    key_id: bytes
    handle_id: bytes


class Signer(Protocol):
    """Signs 32-byte digests with keys it holds, verifying each signature before returning it."""

    def keys(self) -> list[KeyInfo]: ...

    def find_key(self, label: str) -> KeyInfo: ...

    def sign(self, key: KeyInfo, digest: bytes) -> bytes: ...

    def sign_batch(self, key: KeyInfo, digests: Sequence[bytes]) -> list[bytes]: ...
