"""The spend request: what the host asks a station to sign, and the one thing custodians review.

On the wire it is the core's fields with the history itself in place of its
digest (``custody.schemas.history``); its digest is the core's, so a request
and the core logged for it name each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from custody.errors import SchemaError
from custody.schemas import strict
from custody.schemas.actions import (
    REQUEST_ID_LEN,
    Action,
    ActionKind,
    Announce,
    Cancel,
    Execute,
    RaiseLock,
    Rekey,
    SlowRekey,
    Transfer,
    Withdraw,
    action_from_map,
    signatures_needed,
)
from custody.schemas.history import (
    CORE_FIELDS,
    CORE_VERSION,
    MAX_HISTORY,
    MAX_PAYLOAD,
    HistoryEntry,
    RequestCore,
    check_history,
    history_digest,
    history_to_list,
    payload_digest,
    split_sequence,
)

__all__ = [
    "MAX_REQUEST_BYTES",
    "REQUEST_ID_LEN",
    "UR_TYPE",
    "Action",
    "ActionKind",
    "Announce",
    "Cancel",
    "Execute",
    "RaiseLock",
    "Rekey",
    "SlowRekey",
    "SpendRequest",
    "Transfer",
    "Withdraw",
    "signatures_needed",
]

UR_TYPE = "x-spend-request"
VERSION = CORE_VERSION
#: A request with a full history of 64 entries fits; anything larger is refused before parsing.
MAX_REQUEST_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class SpendRequest:
    request_id: bytes
    vault_id: str
    policy_digest: bytes  # the vault definition's digest, as the host believes it
    created_at: int
    expires_at: int
    action: Action
    fee: int = 0
    history: tuple[HistoryEntry, ...] = ()
    payload: bytes = b""  # the chain's unsigned spend, compressed (docs/chia.md); empty: a statement vault
    sequence: int = 0  # the chain sequence number the payload consumes: a Safe's nonce (docs/evm.md)
    _core: RequestCore | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_history(self.history, what="spend request")
        if len(self.payload) > MAX_PAYLOAD:
            raise SchemaError(f"spend request: the chain payload exceeds {MAX_PAYLOAD} bytes")
        core = RequestCore(
            request_id=self.request_id,
            vault_id=self.vault_id,
            policy_digest=self.policy_digest,
            created_at=self.created_at,
            expires_at=self.expires_at,
            action=self.action,
            fee=self.fee,
            history_digest=history_digest(self.history),
            payload_digest=payload_digest(self.payload),
            sequence=self.sequence,
        )
        object.__setattr__(self, "_core", core)

    def core(self) -> RequestCore:
        assert self._core is not None  # set in __post_init__
        return self._core

    def digest(self) -> bytes:
        return self.core().digest()

    def to_cbor(self) -> bytes:
        wire: dict[str, Any] = {
            **self.core().to_map(),
            "history": history_to_list(self.history),
            "payload": self.payload,
        }
        del wire["history_digest"], wire["payload_digest"]
        return strict.encode(wire)

    @classmethod
    def from_cbor(cls, data: bytes) -> SpendRequest:
        what = "spend request"
        decoded = strict.decode(data, what=what, max_bytes=MAX_REQUEST_BYTES)
        decoded, sequence = split_sequence(decoded, what=what)
        v = strict.fields(
            decoded,
            {**CORE_FIELDS, "history": list, "payload": bytes},
            what=what,
        )
        strict.version(v["version"], VERSION, what=what)
        if len(v["history"]) > MAX_HISTORY:  # before parsing any of them
            raise SchemaError(f"{what}: the history holds more than {MAX_HISTORY} entries")
        request = cls(
            request_id=v["request_id"],
            vault_id=v["vault_id"],
            policy_digest=v["policy_digest"],
            created_at=v["created_at"],
            expires_at=v["expires_at"],
            action=action_from_map(v["action"], what=what),
            fee=v["fee"],
            payload=v["payload"],
            sequence=sequence,
            history=tuple(
                HistoryEntry.from_map(e, what=f"{what} history entry {n}")
                for n, e in enumerate(v["history"], 1)
            ),
        )
        if request.to_cbor() != data:  # unreachable if the schema and encoder agree; cheap to be sure
            raise SchemaError(f"{what}: does not re-encode to the bytes received")
        return request
