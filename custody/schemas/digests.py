"""Domain-separated digests: SHA-256 over a per-kind tag plus the message's canonical bytes.

A tag per message kind means bytes that are valid as one kind can never be
passed off as another: a signature over a response statement is not a
signature over a request, a vault or an audit entry.
"""

from __future__ import annotations

import hashlib
from enum import Enum


class Tag(bytes, Enum):
    SPEND_REQUEST = b"airgap/spend-request/v2"
    REQUEST_HISTORY = b"airgap/request-history/v1"
    CHAIN_PAYLOAD = b"airgap/chain-payload/v1"
    SIGNATURE_RESPONSE = b"airgap/signature-response/v2"
    REFUSAL = b"airgap/refusal/v1"
    KEY_RECORD = b"airgap/key-record/v1"
    VAULT = b"airgap/vault/v1"
    STATION_POLICY = b"airgap/station-policy/v1"
    AUDIT_ENTRY = b"airgap/audit-entry/v1"
    AUDIT_HEAD = b"airgap/audit-head/v1"
    LOG_CHECKPOINT = b"airgap/log-checkpoint/v1"
    VAULT_COMMITMENT = b"airgap/vault-commitment/v1"


def tagged_digest(tag: Tag, canonical: bytes) -> bytes:
    """SHA-256(len(tag) || tag || canonical); the length byte keeps tags prefix-free."""
    return hashlib.sha256(bytes([len(tag.value)]) + tag.value + canonical).digest()
