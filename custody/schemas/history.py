"""The signed part of a request, and the vault's history that every request carries.

**Why a request carries history.** A vault is signed by rotating quorums, so
no station sees every spend. Each request therefore carries the vault's
recent requests with the signatures the host holds for them; the stations
verify and count them (``custody.policy.history``) and refuse a history that
leaves out a request they signed themselves. docs/vault-wide.md has the
argument for why that makes the vault's limits hold whichever quorums sign.

**What a signature covers.** The request's digest is taken over its *core*:
every field, with the history replaced by the history's digest. So the
history is part of what every signer signs, yet an entry in a later history
holds only the earlier request's core, never its own history: sizes do not
grow from one request to the next.

An entry's signatures are the earlier responses cut to what cannot be
recomputed (key, approval time, audit position, signature); the rest of each
response follows from the core and the vault's record of the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from custody.errors import SchemaError
from custody.schemas import strict
from custody.schemas.actions import REQUEST_ID_LEN, Action, action_from_map, action_to_map
from custody.schemas.digests import Tag, tagged_digest
from custody.schemas.signatures import check_chain_signature
from custody.schemas.vault import MAX_AMOUNT, MAX_KEYS, check_vault_id

CORE_VERSION = 2
#: Entries a history may hold. The policy's per-window count bounds how many spends fall in a
#: window; this bounds what a hostile host can make a station verify.
MAX_HISTORY = 64
#: The fields a request and its core share; the core adds ``history_digest`` and ``payload_digest``,
#: the wire form ``history`` and ``payload`` themselves.
CORE_FIELDS: dict[str, type] = {
    "version": int,
    "request_id": bytes,
    "vault_id": str,
    "policy_digest": bytes,
    "created_at": int,
    "expires_at": int,
    "action": dict,
    "fee": int,
}
#: An optional core field, present only when not 0: the chain's sequence number the payload consumes
#: (a Safe's nonce), which stations read from the cores of a history to refuse gaps and reuse.
SEQUENCE_FIELD = "sequence"
MAX_SEQUENCE = 2**63 - 1
#: A chain payload (an unsigned spend) is at most this large on the wire, compressed.
MAX_PAYLOAD = 48 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestCore:
    """A request as its signers sign it: the history is present only as its digest."""

    request_id: bytes
    vault_id: str
    policy_digest: bytes  # the vault definition's digest, as the host believes it
    created_at: int
    expires_at: int
    action: Action
    fee: int  # what the chain payload pays in fees, in base units (0 without a chain)
    history_digest: bytes
    payload_digest: bytes
    sequence: int = 0  # the Safe nonce the payload uses (0 also where a chain has none)
    _bytes: bytes = field(default=b"", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        what = "request"
        strict.sized(self.request_id, what=what, name="request_id", length=REQUEST_ID_LEN)
        check_vault_id(self.vault_id, what=what)
        strict.sized(self.policy_digest, what=what, name="policy_digest", length=32)
        strict.timestamp(self.created_at, what=what, name="created_at")
        strict.timestamp(self.expires_at, what=what, name="expires_at")
        if self.expires_at <= self.created_at:
            raise SchemaError(f"{what}: expires_at must be after created_at")
        strict.natural(self.fee, what=what, name="fee", limit=MAX_AMOUNT)
        strict.sized(self.history_digest, what=what, name="history_digest", length=32)
        strict.sized(self.payload_digest, what=what, name="payload_digest", length=32)
        strict.natural(self.sequence, what=what, name=SEQUENCE_FIELD, limit=MAX_SEQUENCE)
        object.__setattr__(self, "_bytes", strict.encode(self.to_map()))

    def to_map(self) -> dict[str, Any]:
        return {
            **sequence_map(self.sequence),
            "version": CORE_VERSION,
            "request_id": self.request_id,
            "vault_id": self.vault_id,
            "policy_digest": self.policy_digest,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "action": action_to_map(self.action),
            "fee": self.fee,
            "history_digest": self.history_digest,
            "payload_digest": self.payload_digest,
        }

    def to_cbor(self) -> bytes:
        return self._bytes

    def digest(self) -> bytes:
        """The request digest: what every signature response names."""
        return tagged_digest(Tag.SPEND_REQUEST, self._bytes)

    @classmethod
    def from_map(cls, value: Any, *, what: str) -> RequestCore:
        value, sequence = split_sequence(value, what=what)
        v = strict.fields(value, {**CORE_FIELDS, "history_digest": bytes, "payload_digest": bytes}, what=what)
        strict.version(v["version"], CORE_VERSION, what=what)
        return cls(
            sequence=sequence,
            request_id=v["request_id"],
            vault_id=v["vault_id"],
            policy_digest=v["policy_digest"],
            created_at=v["created_at"],
            expires_at=v["expires_at"],
            action=action_from_map(v["action"], what=what),
            fee=v["fee"],
            history_digest=v["history_digest"],
            payload_digest=v["payload_digest"],
        )

    @classmethod
    def from_cbor(cls, data: bytes) -> RequestCore:
        return cls.from_map(strict.decode(data, what="request core"), what="request core")


def sequence_map(sequence: int) -> dict[str, int]:
    """The sequence as the wire carries it: absent when 0, so cores without one keep their bytes."""
    return {SEQUENCE_FIELD: sequence} if sequence else {}


def split_sequence(value: Any, *, what: str) -> tuple[Any, int]:
    """A core map without its sequence, and the sequence (0 when absent; present, it is not 0)."""
    if not isinstance(value, dict) or SEQUENCE_FIELD not in value:
        return value, 0
    sequence = value[SEQUENCE_FIELD]
    if not isinstance(sequence, int) or isinstance(sequence, bool):
        raise SchemaError(f"{what}: {SEQUENCE_FIELD} must be an integer")
    strict.natural(sequence, what=what, name=SEQUENCE_FIELD, positive=True, limit=MAX_SEQUENCE)
    return {k: v for k, v in value.items() if k != SEQUENCE_FIELD}, sequence


@dataclass(frozen=True, slots=True, kw_only=True)
class HistorySignature:
    """One station's signature response on an earlier request, without what the core implies."""

    key_id: bytes
    approved_at: int
    audit_seq: int
    log_head: bytes
    signature: bytes
    chain_signature: bytes = b""

    def to_map(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "approved_at": self.approved_at,
            "audit_seq": self.audit_seq,
            "log_head": self.log_head,
            "signature": self.signature,
            "chain_signature": self.chain_signature,
        }

    @classmethod
    def from_map(cls, value: Any, *, what: str) -> HistorySignature:
        v = strict.fields(
            value,
            {
                "key_id": bytes,
                "approved_at": int,
                "audit_seq": int,
                "log_head": bytes,
                "signature": bytes,
                "chain_signature": bytes,
            },
            what=what,
        )
        strict.sized(v["key_id"], what=what, name="key_id", length=32)
        strict.timestamp(v["approved_at"], what=what, name="approved_at")
        strict.natural(v["audit_seq"], what=what, name="audit_seq", positive=True)
        strict.sized(v["log_head"], what=what, name="log_head", length=32)
        strict.sized(v["signature"], what=what, name="signature", length=64)
        check_chain_signature(v["chain_signature"], what=what)
        return cls(**v)


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryEntry:
    """An earlier request of the vault and the signatures the host holds for it (maybe none)."""

    request: RequestCore
    signatures: tuple[HistorySignature, ...]

    def __post_init__(self) -> None:
        ids = [s.key_id for s in self.signatures]
        if len(ids) > MAX_KEYS or ids != sorted(set(ids)):
            raise SchemaError(
                f"history entry {self.request.request_id.hex()[:8]}: signatures must be sorted by key "
                f"and distinct, at most {MAX_KEYS}"
            )

    def to_map(self) -> dict[str, Any]:
        return {"request": self.request.to_map(), "signatures": [s.to_map() for s in self.signatures]}

    @classmethod
    def from_map(cls, value: Any, *, what: str) -> HistoryEntry:
        v = strict.fields(value, {"request": dict, "signatures": list}, what=what)
        return cls(
            request=RequestCore.from_map(v["request"], what=f"{what} request"),
            signatures=tuple(HistorySignature.from_map(s, what=f"{what} signature") for s in v["signatures"]),
        )


def check_history(history: tuple[HistoryEntry, ...], *, what: str) -> None:
    """One canonical form per set of entries: sorted by request digest, each request once."""
    if len(history) > MAX_HISTORY:
        raise SchemaError(f"{what}: the history holds {len(history)} entries, more than {MAX_HISTORY}")
    digests = [e.request.digest() for e in history]
    if digests != sorted(set(digests)):
        raise SchemaError(f"{what}: history entries must be sorted by request digest, each once")
    ids = [e.request.request_id for e in history]
    if len(set(ids)) != len(ids):
        raise SchemaError(f"{what}: the history holds two versions of one request id")


def history_to_list(history: tuple[HistoryEntry, ...]) -> list[dict[str, Any]]:
    return [e.to_map() for e in history]


def payload_digest(payload: bytes) -> bytes:
    """The chain payload's digest, which the core carries in its place (empty: a statement vault)."""
    return tagged_digest(Tag.CHAIN_PAYLOAD, payload)


def history_digest(history: tuple[HistoryEntry, ...]) -> bytes:
    return tagged_digest(Tag.REQUEST_HISTORY, strict.encode(history_to_list(history)))
