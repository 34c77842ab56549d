"""What the ceremony reads from the audit log, as one value a checkpoint can seal.

A ceremony needs little of its log: each vault's installed definitions, the
approvals that count against its rules, and each request a crash left
unfinished (an approval never signed, a signature never shown). ``LogIndex``
is exactly that, folded entry by entry from the entries' hashed bodies (never
from the database's side columns, which no hash covers).

A checkpoint is this value at some entry, stored in the database and sealed
by digest in the HSM. A session checks the checkpoint against the seal and
verifies only the entries after it, so its cost does not grow with the log.
The whole chain is still checked by ``appliance audit verify`` and by the
host's audit of an export.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from appliance.audit_store import approved_request
from appliance.errors import StationStateError
from custody.errors import CustodyError
from custody.schemas import strict
from custody.schemas.audit_log import GENESIS, AuditEntry, EntryKind
from custody.schemas.digests import Tag, tagged_digest

_VERSION = 1
#: A checkpoint holds every approval and installation: generous, and still bounded when read.
MAX_CHECKPOINT_BYTES = 256 << 20


@dataclass(frozen=True, slots=True)
class VaultLog:
    installs: tuple[AuditEntry, ...] = ()  # policy-installed entries, oldest first
    approvals: tuple[AuditEntry, ...] = ()  # approvals that count (void ones removed), oldest first


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class LogIndex:
    seq: int = 0  # the last entry folded in
    head: bytes = GENESIS  # its hash
    at: int = 0  # its time: the log's latest, since entry times never go back
    vaults: Mapping[str, VaultLog] = field(default_factory=_empty)
    #: request digest -> its signature logged but never released, else its approval never signed
    pending: Mapping[bytes, AuditEntry] = field(default_factory=_empty)

    def folded(self, entries: Iterable[AuditEntry]) -> LogIndex:
        """This index with ``entries`` (the ones right after it, in order) folded in."""
        folding = Folding(self)
        for entry in entries:
            folding.fold(entry)
        return folding.freeze()

    def to_cbor(self) -> bytes:
        return strict.encode(
            {
                "version": _VERSION,
                "seq": self.seq,
                "head": self.head,
                "at": self.at,
                "vaults": {
                    vault_id: {
                        "installs": [_entry_item(e) for e in log.installs],
                        "approvals": [_entry_item(e) for e in log.approvals],
                    }
                    for vault_id, log in self.vaults.items()
                },
                "pending": {digest: _entry_item(e) for digest, e in self.pending.items()},
            }
        )

    @classmethod
    def from_cbor(cls, data: bytes) -> LogIndex:
        what = "audit log checkpoint"
        try:
            v = strict.fields(
                strict.decode(data, what=what, max_bytes=MAX_CHECKPOINT_BYTES),
                {"version": int, "seq": int, "head": bytes, "at": int, "vaults": dict, "pending": dict},
                what=what,
            )
            strict.version(v["version"], _VERSION, what=what)
            vaults = {}
            for vault_id, log in v["vaults"].items():
                log = strict.fields(log, {"installs": list, "approvals": list}, what=what)
                if not isinstance(vault_id, str):
                    raise TypeError("a vault id is not text")
                vaults[vault_id] = VaultLog(
                    installs=tuple(_entry(i) for i in log["installs"]),
                    approvals=tuple(_entry(i) for i in log["approvals"]),
                )
            pending = {
                strict.sized(d, what=what, name="request digest", length=32): _entry(i)
                for d, i in v["pending"].items()
            }
            return cls(
                seq=strict.natural(v["seq"], what=what, name="seq"),
                head=strict.sized(v["head"], what=what, name="head", length=32),
                at=v["at"],
                vaults=MappingProxyType(vaults),
                pending=MappingProxyType(pending),
            )
        except (CustodyError, TypeError, ValueError) as exc:
            raise StationStateError(f"the audit log checkpoint is damaged: {exc}") from None

    def digest(self) -> bytes:
        return checkpoint_digest(self.to_cbor())


def checkpoint_digest(blob: bytes) -> bytes:
    return tagged_digest(Tag.LOG_CHECKPOINT, blob)


def _entry_item(e: AuditEntry) -> list[Any]:
    return [e.seq, e.at, e.kind, e.body, e.prev, e.hash]


def _entry(item: Any) -> AuditEntry:
    if not (
        isinstance(item, list)
        and len(item) == 6
        and all(isinstance(x, t) for x, t in zip(item, (int, int, str, bytes, bytes, bytes), strict=True))
    ):
        raise TypeError("an entry is not [seq, at, kind, body, prev, hash]")
    return AuditEntry(*item)


class Folding:
    """Folds many entries into an index without copying it for each one."""

    def __init__(self, start: LogIndex) -> None:
        self.seq, self.head, self.at = start.seq, start.head, start.at
        self.installs = {v: list(log.installs) for v, log in start.vaults.items()}
        self.approvals = {v: list(log.approvals) for v, log in start.vaults.items()}
        self.pending = dict(start.pending)

    def fold(self, entry: AuditEntry) -> None:
        if entry.seq != self.seq + 1:
            raise StationStateError(f"audit entry {entry.seq} does not follow entry {self.seq}")
        kind = entry.kind
        if kind == EntryKind.APPROVE:
            request = approved_request(entry)
            self.approvals.setdefault(request.vault_id, []).append(entry)
            self.installs.setdefault(request.vault_id, [])
            digest = _digest_field(entry)
            if self.pending.get(digest, entry).kind != EntryKind.SIGNATURE:
                self.pending[digest] = entry
        elif kind == EntryKind.SIGNATURE:
            self.pending[_digest_field(entry)] = entry
        elif kind == EntryKind.RELEASED:
            self.pending.pop(_digest_field(entry), None)
        elif kind == EntryKind.POLICY_INSTALLED:
            vault_id = _field(entry, "vault", str)
            self.installs.setdefault(vault_id, []).append(entry)
            self.approvals.setdefault(vault_id, [])
        elif kind == EntryKind.RECOVER:
            voided = {s for s in _field(entry, "voided", list) if isinstance(s, int)}
            if voided:
                for entries in (*self.approvals.values(), *self.installs.values()):
                    entries[:] = [e for e in entries if e.seq not in voided]
                self.pending = {d: e for d, e in self.pending.items() if e.seq not in voided}
        self.seq, self.head, self.at = entry.seq, entry.hash, max(self.at, entry.at)

    def freeze(self) -> LogIndex:
        return LogIndex(
            seq=self.seq,
            head=self.head,
            at=self.at,
            vaults=MappingProxyType(
                {v: VaultLog(tuple(self.installs[v]), tuple(self.approvals[v])) for v in self.installs}
            ),
            pending=MappingProxyType(dict(self.pending)),
        )


def _field(entry: AuditEntry, name: str, kind: type) -> Any:
    try:
        value = entry.fields()[name]
    except (CustodyError, KeyError) as exc:
        raise StationStateError(f"audit entry {entry.seq}: {entry.kind} entry is malformed ({exc})") from None
    if not isinstance(value, kind):
        raise StationStateError(f"audit entry {entry.seq}: {name} is not {kind.__name__}")
    return value


def _digest_field(entry: AuditEntry) -> bytes:
    digest: bytes = _field(entry, "request_digest", bytes)
    return digest
