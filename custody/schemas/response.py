"""What a station sends back: a signature response, or a refusal with its reason.

**What the signature covers.** The station does not sign the bare request
digest. It signs the *statement*: the digest (tag ``signature-response``) of
the response's canonical CBOR without its ``signature`` field. So one
signature binds every field a verifier relies on: the request id and digest,
the vault, the station, the key id and algorithm, and the station's signed
audit head: the position (``audit_seq``, ``log_head``) and the time
(``approved_at``, the station's clock) at which it logged its approval.
Change any of them and the signature no longer verifies.

The audit position is that of the station's ``approve`` entry, which is
committed and sealed in the HSM *before* the HSM signs (the signature cannot
cover a log head that includes itself); the entry recording the signature
follows at ``audit_seq + 1``. ``approved_at`` is what later requests use to
place this signature in time (docs/vault-wide.md), and what the host checks
against its own clock.

Refusals are not signed: a station refuses before any custodian card is
presented, so no HSM session exists. A refusal is information for the host,
never evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from custody.errors import SchemaError
from custody.schemas import strict
from custody.schemas.actions import REQUEST_ID_LEN
from custody.schemas.digests import Tag, tagged_digest
from custody.schemas.key_record import Algorithm, parse_algorithm
from custody.schemas.signatures import MAX_CHAIN_SIGNATURES, check_chain_signature, verify_signature
from custody.schemas.vault import check_vault_id

RESPONSE_UR_TYPE = "x-signature-response"
REFUSAL_UR_TYPE = "x-refusal"
VERSION = 2
MAX_TEXT = 512
#: The fields, and a chain signature for every input a Bitcoin spend may have.
MAX_RESPONSE_BYTES = 1024 + 64 * MAX_CHAIN_SIGNATURES

_RESPONSE_FIELDS: dict[str, type] = {
    "version": int,
    "request_id": bytes,
    "request_digest": bytes,
    "vault_id": str,
    "station": str,
    "key_id": bytes,
    "algorithm": str,
    "audit_seq": int,
    "log_head": bytes,
    "approved_at": int,
    "chain_signature": bytes,
    "signature": bytes,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureResponse:
    request_id: bytes
    request_digest: bytes
    vault_id: str
    station: str
    key_id: bytes
    algorithm: Algorithm
    audit_seq: int
    log_head: bytes
    approved_at: int
    chain_signature: bytes = b""  # over the chain's own message (docs/chia.md); empty for a statement vault
    signature: bytes = b""

    def _unsigned_map(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "request_id": self.request_id,
            "request_digest": self.request_digest,
            "vault_id": self.vault_id,
            "station": self.station,
            "key_id": self.key_id,
            "algorithm": self.algorithm.value,
            "audit_seq": self.audit_seq,
            "log_head": self.log_head,
            "approved_at": self.approved_at,
            "chain_signature": self.chain_signature,
        }

    def statement_digest(self) -> bytes:
        """The 32 bytes the station's key signs."""
        return tagged_digest(Tag.SIGNATURE_RESPONSE, strict.encode(self._unsigned_map()))

    def verify(self, public_key: bytes) -> None:
        """Raise SignatureError unless ``signature`` is this response's statement, signed by the key."""
        verify_signature(self.algorithm, public_key, self.statement_digest(), self.signature)

    def to_cbor(self) -> bytes:
        return strict.encode({**self._unsigned_map(), "signature": self.signature})

    @classmethod
    def from_cbor(cls, data: bytes) -> SignatureResponse:
        what = "signature response"
        decoded = strict.decode(data, what=what, max_bytes=MAX_RESPONSE_BYTES)
        v = strict.fields(decoded, _RESPONSE_FIELDS, what=what)
        strict.version(v["version"], VERSION, what=what)
        strict.sized(v["request_id"], what=what, name="request_id", length=REQUEST_ID_LEN)
        strict.sized(v["request_digest"], what=what, name="request_digest", length=32)
        check_vault_id(v["vault_id"], what=what)
        strict.text(v["station"], what=what, name="station")
        strict.sized(v["key_id"], what=what, name="key_id", length=32)
        strict.natural(v["audit_seq"], what=what, name="audit_seq", positive=True)
        strict.sized(v["log_head"], what=what, name="log_head", length=32)
        strict.timestamp(v["approved_at"], what=what, name="approved_at")
        check_chain_signature(v["chain_signature"], what=what)
        strict.sized(v["signature"], what=what, name="signature", length=64)
        algorithm = parse_algorithm(v["algorithm"], what=what)
        del v["version"]
        return cls(**{**v, "algorithm": algorithm})


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """``request_id`` and ``request_digest`` are empty when the request could not even be parsed."""

    request_id: bytes
    request_digest: bytes
    vault_id: str
    station: str
    code: str
    text: str
    at: int

    def to_cbor(self) -> bytes:
        return strict.encode(
            {
                "version": VERSION,
                "request_id": self.request_id,
                "request_digest": self.request_digest,
                "vault_id": self.vault_id,
                "station": self.station,
                "code": self.code,
                "text": self.text,
                "at": self.at,
            }
        )

    def digest(self) -> bytes:
        return tagged_digest(Tag.REFUSAL, self.to_cbor())

    @classmethod
    def from_cbor(cls, data: bytes) -> Refusal:
        what = "refusal"
        v = strict.fields(
            strict.decode(data, what=what, max_bytes=4096),
            {
                "version": int,
                "request_id": bytes,
                "request_digest": bytes,
                "vault_id": str,
                "station": str,
                "code": str,
                "text": str,
                "at": int,
            },
            what=what,
        )
        strict.version(v["version"], VERSION, what=what)
        if len(v["request_id"]) not in (0, REQUEST_ID_LEN) or len(v["request_digest"]) not in (0, 32):
            raise SchemaError(f"{what}: request_id and request_digest must be empty or full length")
        if v["vault_id"]:
            check_vault_id(v["vault_id"], what=what)
        strict.text(v["station"], what=what, name="station")
        strict.text(v["code"], what=what, name="code", max_len=32)
        strict.text(v["text"], what=what, name="text", max_len=MAX_TEXT)
        strict.timestamp(v["at"], what=what, name="at")
        del v["version"]
        return cls(**v)
