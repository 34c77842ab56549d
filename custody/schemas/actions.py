"""What a request asks for: one action, each kind its own dataclass with its own parameters.

Decoding refuses anything outside the schema, so the review screen can show
every parameter the signature will cover, and nothing else exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from custody.errors import SchemaError
from custody.schemas import strict
from custody.schemas.vault import MAX_AMOUNT, MAX_KEYS, VaultKey, keys_from_list, keys_to_list

REQUEST_ID_LEN = 16


class ActionKind(StrEnum):
    WITHDRAW = "withdraw"
    ANNOUNCE = "announce"
    EXECUTE = "execute"
    CANCEL = "cancel"
    REKEY = "rekey"
    SLOW_REKEY = "slow-rekey"
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
    """Takes back what is still pending: an announcement, or a slow rekey the chain is holding."""

    announce_id: bytes  # the announce (or slow-rekey) request's id
    kind = ActionKind.CANCEL


@dataclass(frozen=True, slots=True, kw_only=True)
class Rekey:
    """A new key set and threshold, signed by the current threshold of the current keys.

    There is no rekey with fewer signers: its delay and the quorum's right to
    cancel it would be held only by the stations that happened to sign it.
    Where a chain enforces both (Chia's recovery path), its adapter offers it.
    """

    keys: tuple[VaultKey, ...]
    threshold: int
    kind = ActionKind.REKEY


@dataclass(frozen=True, slots=True, kw_only=True)
class SlowRekey:
    """A rekey scheduled by ``initiators`` stations, fewer than the threshold, on a chain that holds
    it: the chain enforces its delay (longer per missing signer) and lets the full quorum cancel it
    meanwhile (Chia's recovery path, docs/chia.md). Only a vault whose chain binding offers the
    path for that many initiators may carry it."""

    keys: tuple[VaultKey, ...]
    threshold: int
    initiators: int
    kind = ActionKind.SLOW_REKEY


@dataclass(frozen=True, slots=True, kw_only=True)
class RaiseLock:
    threshold: int
    kind = ActionKind.RAISE_LOCK


Action = Withdraw | Announce | Execute | Cancel | Rekey | SlowRekey | RaiseLock
Transfer = Withdraw | Announce | Execute


def _transfer_fields(v: dict[str, Any], what: str) -> dict[str, Any]:
    strict.text(v["asset"], what=what, name="asset", max_len=16)
    strict.natural(v["amount"], what=what, name="amount", positive=True, limit=MAX_AMOUNT)
    strict.text(v["destination"], what=what, name="destination", max_len=128)
    return v


def signatures_needed(action: Action, threshold: int) -> int:
    """How many valid signatures approve ``action`` under a vault of lock level ``threshold``."""
    return action.initiators if isinstance(action, SlowRekey) else threshold


def action_to_map(action: Action) -> dict[str, Any]:
    if isinstance(action, Rekey):
        params: dict[str, Any] = {"keys": keys_to_list(action.keys), "threshold": action.threshold}
    elif isinstance(action, SlowRekey):
        params = {
            "keys": keys_to_list(action.keys),
            "threshold": action.threshold,
            "initiators": action.initiators,
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
        return Cancel(
            announce_id=strict.sized(c["announce_id"], what=what, name="announce_id", length=REQUEST_ID_LEN)
        )
    if kind is ActionKind.REKEY:
        r = strict.fields(p, {"keys": list, "threshold": int}, what=what)
        keys = keys_from_list(r["keys"], what=what)
        if not 1 <= r["threshold"] <= len(keys):
            raise SchemaError(f"{what}: new threshold must be between 1 and {len(keys)}")
        return Rekey(keys=keys, threshold=r["threshold"])
    if kind is ActionKind.SLOW_REKEY:
        r = strict.fields(p, {"keys": list, "threshold": int, "initiators": int}, what=what)
        keys = keys_from_list(r["keys"], what=what)
        if not 1 <= r["threshold"] <= len(keys):
            raise SchemaError(f"{what}: new threshold must be between 1 and {len(keys)}")
        strict.natural(r["initiators"], what=what, name="initiators", positive=True, limit=MAX_KEYS)
        return SlowRekey(keys=keys, threshold=r["threshold"], initiators=r["initiators"])
    r = strict.fields(p, {"threshold": int}, what=what)
    strict.natural(r["threshold"], what=what, name="threshold", positive=True, limit=MAX_KEYS)
    return RaiseLock(threshold=r["threshold"])
