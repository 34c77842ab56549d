"""The spend request: what the host asks a station to sign, and the one thing custodians review.

Each action is its own dataclass with its own parameters; the request holds
one. Decoding refuses anything outside the schema, so the review screen can
show every field the signature will cover, and nothing else exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from custody.errors import SchemaError
from custody.schemas import strict
from custody.schemas.digests import Tag, tagged_digest
from custody.schemas.vault import MAX_AMOUNT, MAX_KEYS, VaultKey, check_vault_id, keys_from_list, keys_to_list

UR_TYPE = "x-spend-request"
VERSION = 1
REQUEST_ID_LEN = 16
MAX_REQUEST_BYTES = 16 * 1024


class ActionKind(StrEnum):
    WITHDRAW = "withdraw"
    ANNOUNCE = "announce"
    EXECUTE = "execute"
    CANCEL = "cancel"
    REKEY = "rekey"
    RAISE_LOCK = "raise-lock"


@dataclass(frozen=True, slots=True, kw_only=True)
class Withdraw:
    asset: str
    amount: int
    destination: str
    kind = ActionKind.WITHDRAW


@dataclass(frozen=True, slots=True, kw_only=True)
class Announce:
    """The first phase of a two-phase withdrawal: the transfer is announced, then waits."""

    asset: str
    amount: int
    destination: str
    kind = ActionKind.ANNOUNCE


@dataclass(frozen=True, slots=True, kw_only=True)
class Execute:
    """The second phase: names the announcement and repeats its transfer, which must match."""

    announce_id: bytes
    asset: str
    amount: int
    destination: str
    kind = ActionKind.EXECUTE


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancel:
    announce_id: bytes
    kind = ActionKind.CANCEL


@dataclass(frozen=True, slots=True, kw_only=True)
class Rekey:
    """A new key set and threshold. ``declared_signers`` below the current threshold is allowed,
    with the rekey delay multiplied by the penalty once per missing signer."""

    keys: tuple[VaultKey, ...]
    threshold: int
    declared_signers: int
    kind = ActionKind.REKEY


@dataclass(frozen=True, slots=True, kw_only=True)
class RaiseLock:
    threshold: int
    kind = ActionKind.RAISE_LOCK


Action = Withdraw | Announce | Execute | Cancel | Rekey | RaiseLock
Transfer = Withdraw | Announce | Execute


def _transfer_fields(v: dict[str, Any], what: str) -> dict[str, Any]:
    strict.text(v["asset"], what=what, name="asset", max_len=16)
    strict.natural(v["amount"], what=what, name="amount", positive=True, limit=MAX_AMOUNT)
    strict.text(v["destination"], what=what, name="destination", max_len=128)
    return v


def action_to_map(action: Action) -> dict[str, Any]:
    if isinstance(action, Rekey):
        params: dict[str, Any] = {
            "keys": keys_to_list(action.keys),
            "threshold": action.threshold,
            "declared_signers": action.declared_signers,
        }
    elif isinstance(action, RaiseLock):
        params = {"threshold": action.threshold}
    elif isinstance(action, Cancel):
        params = {"announce_id": action.announce_id}
    else:
        params = {"asset": action.asset, "amount": action.amount, "destination": action.destination}
        if isinstance(action, Execute):
            params["announce_id"] = action.announce_id
    return {"kind": action.kind.value, "params": params}


def action_from_map(value: Any, *, what: str) -> Action:
    v = strict.fields(value, {"kind": str, "params": dict}, what=f"{what} action")
    try:
        kind = ActionKind(v["kind"])
    except ValueError:
        raise SchemaError(f"{what}: unknown action {v['kind']!r}") from None
    what = f"{what} {kind.value}"
    p = v["params"]
    if kind in (ActionKind.WITHDRAW, ActionKind.ANNOUNCE):
        t = _transfer_fields(
            strict.fields(p, {"asset": str, "amount": int, "destination": str}, what=what), what
        )
        return (Withdraw if kind is ActionKind.WITHDRAW else Announce)(**t)
    if kind is ActionKind.EXECUTE:
        spec = {"announce_id": bytes, "asset": str, "amount": int, "destination": str}
        t = _transfer_fields(strict.fields(p, spec, what=what), what)
        strict.sized(t["announce_id"], what=what, name="announce_id", length=REQUEST_ID_LEN)
        return Execute(**t)
    if kind is ActionKind.CANCEL:
        c = strict.fields(p, {"announce_id": bytes}, what=what)
        return Cancel(announce_id=strict.sized(c["announce_id"], what=what, name="announce_id", length=16))
    if kind is ActionKind.REKEY:
        r = strict.fields(p, {"keys": list, "threshold": int, "declared_signers": int}, what=what)
        keys = keys_from_list(r["keys"], what=what)
        if not 1 <= r["threshold"] <= len(keys):
            raise SchemaError(f"{what}: new threshold must be between 1 and {len(keys)}")
        strict.natural(
            r["declared_signers"], what=what, name="declared_signers", positive=True, limit=MAX_KEYS
        )
        return Rekey(keys=keys, threshold=r["threshold"], declared_signers=r["declared_signers"])
    r = strict.fields(p, {"threshold": int}, what=what)
    strict.natural(r["threshold"], what=what, name="threshold", positive=True, limit=MAX_KEYS)
    return RaiseLock(threshold=r["threshold"])


@dataclass(frozen=True, slots=True, kw_only=True)
class SpendRequest:
    request_id: bytes
    vault_id: str
    policy_digest: bytes  # the vault definition's digest, as the host believes it
    created_at: int
    expires_at: int
    action: Action
    _bytes: bytes = field(default=b"", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        what = "spend request"
        strict.sized(self.request_id, what=what, name="request_id", length=REQUEST_ID_LEN)
        check_vault_id(self.vault_id, what=what)
        strict.sized(self.policy_digest, what=what, name="policy_digest", length=32)
        strict.natural(self.created_at, what=what, name="created_at")
        strict.natural(self.expires_at, what=what, name="expires_at")
        if self.expires_at <= self.created_at:
            raise SchemaError(f"{what}: expires_at must be after created_at")
        object.__setattr__(self, "_bytes", strict.encode(self._to_map()))

    def _to_map(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "request_id": self.request_id,
            "vault_id": self.vault_id,
            "policy_digest": self.policy_digest,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "action": action_to_map(self.action),
        }

    def to_cbor(self) -> bytes:
        return self._bytes

    def digest(self) -> bytes:
        return tagged_digest(Tag.SPEND_REQUEST, self._bytes)

    @classmethod
    def from_cbor(cls, data: bytes) -> SpendRequest:
        what = "spend request"
        v = strict.fields(
            strict.decode(data, what=what, max_bytes=MAX_REQUEST_BYTES),
            {
                "version": int,
                "request_id": bytes,
                "vault_id": str,
                "policy_digest": bytes,
                "created_at": int,
                "expires_at": int,
                "action": dict,
            },
            what=what,
        )
        strict.version(v["version"], VERSION, what=what)
        request = cls(
            request_id=v["request_id"],
            vault_id=v["vault_id"],
            policy_digest=v["policy_digest"],
            created_at=v["created_at"],
            expires_at=v["expires_at"],
            action=action_from_map(v["action"], what=what),
        )
        if request.to_cbor() != data:  # unreachable if the schema and encoder agree; cheap to be sure
            raise SchemaError(f"{what}: does not re-encode to the bytes received")
        return request
