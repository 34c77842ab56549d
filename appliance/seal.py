"""What the HSM vouches for: the audit log's head and counter, and each installed policy's digest.

The seal is a private data object on the token, so it can be read or changed
only in a session opened with k custodian cards. A database restored from an
older copy no longer contains the sealed head; a policy file edited on disk
no longer hashes to the sealed digest; a clock set back reads earlier than
the sealed time. Each of these makes the station refuse.

Entries written since the last seal (the "tail") are accepted only if they
chain from the sealed head and every signature in them verifies under this
station's keys. Approvals and policy installations in the tail are void: each
is sealed before it takes effect, so an unsealed one produced nothing, and one
that someone appended by hand must not count.

The seal also names a checkpoint (``log_index``): what the ceremony reads from
the log, as of some entry, by digest. A session verifies that checkpoint and
the entries after it, never the whole log, so its cost does not grow with
the log's length. ``appliance audit verify`` still checks every entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Protocol

from appliance.audit_store import AuditStore, logged_response
from appliance.errors import StationStateError
from appliance.log_index import Folding, LogIndex, checkpoint_digest
from custody.errors import CustodyError, SchemaError
from custody.schemas import strict
from custody.schemas.audit_log import GENESIS, AuditEntry, EntryKind, link_problems
from custody.schemas.key_record import KeyRecord
from custody.schemas.signatures import SignatureError

SEAL_LABEL = "airgap-station-seal"
_VERSION = 2  # 1 had no checkpoint: such a seal is still read, and its first session checks the whole log


class LogRollbackError(StationStateError):
    """The database is not the one the HSM sealed: an old copy, or rewritten."""

    exit_code = 31


class DataStore(Protocol):
    def read_data(self, label: str) -> list[bytes]: ...

    def write_data(self, label: str, value: bytes) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Seal:
    log_seq: int = 0
    log_head: bytes = GENESIS
    log_time: int = 0
    policies: Mapping[str, bytes] = field(default_factory=lambda: MappingProxyType({}))
    checkpoint_seq: int = 0  # 0 and no digest: no checkpoint yet, the log is checked from its start
    checkpoint_digest: bytes = b""

    def advanced(self, entry: AuditEntry) -> Seal:
        return replace(self, log_seq=entry.seq, log_head=entry.hash, log_time=max(self.log_time, entry.at))

    def with_policy(self, vault_id: str, digest: bytes) -> Seal:
        return replace(self, policies=MappingProxyType({**self.policies, vault_id: digest}))

    def with_checkpoint(self, seq: int, digest: bytes) -> Seal:
        return replace(self, checkpoint_seq=seq, checkpoint_digest=digest)

    def to_cbor(self) -> bytes:
        return strict.encode(
            {
                "version": _VERSION,
                "log_seq": self.log_seq,
                "log_head": self.log_head,
                "log_time": self.log_time,
                "policies": dict(self.policies),
                "checkpoint_seq": self.checkpoint_seq,
                "checkpoint_digest": self.checkpoint_digest,
            }
        )

    @classmethod
    def from_cbor(cls, data: bytes) -> Seal:
        what = "HSM seal"
        value = strict.decode(data, what=what)
        spec: dict[str, type] = {
            "version": int,
            "log_seq": int,
            "log_head": bytes,
            "log_time": int,
            "policies": dict,
        }
        if not (isinstance(value, dict) and value.get("version") == 1):
            spec |= {"checkpoint_seq": int, "checkpoint_digest": bytes}
        v = strict.fields(value, spec, what=what)
        if v["version"] != 1:
            strict.version(v["version"], _VERSION, what=what)
        checkpoint_seq = strict.natural(v.get("checkpoint_seq", 0), what=what, name="checkpoint_seq")
        digest = v.get("checkpoint_digest", b"")
        if checkpoint_seq > v["log_seq"] or len(digest) != (32 if checkpoint_seq else 0):
            raise SchemaError(f"{what}: the checkpoint is malformed")
        policies = v["policies"]
        if not all(isinstance(k, str) and isinstance(d, bytes) and len(d) == 32 for k, d in policies.items()):
            raise SchemaError(f"{what}: policy digests are malformed")
        return cls(
            log_seq=strict.natural(v["log_seq"], what=what, name="log_seq"),
            log_head=strict.sized(v["log_head"], what=what, name="log_head", length=32),
            log_time=v["log_time"],
            policies=MappingProxyType(dict(policies)),
            checkpoint_seq=checkpoint_seq,
            checkpoint_digest=digest,
        )


def read_seal(session: DataStore) -> Seal | None:
    """The seal on the token; of two (a crash mid-replace), the one further along the log."""
    seals = []
    for value in session.read_data(SEAL_LABEL):
        try:
            seals.append(Seal.from_cbor(value))
        except CustodyError as exc:
            raise StationStateError(f"the seal on the token is damaged: {exc}") from None
    return max(seals, key=lambda s: s.log_seq, default=None)


def write_seal(session: DataStore, seal: Seal) -> None:
    session.write_data(SEAL_LABEL, seal.to_cbor())


#: What an unsealed tail may hold that matters: approvals and installations (void: the seal never
#: named them, so nothing was signed or installed under them), and signatures (checked, then sealed).
_TAIL_KINDS = (EntryKind.APPROVE, EntryKind.POLICY_INSTALLED, EntryKind.SIGNATURE)


@dataclass(frozen=True, slots=True)
class Reconciled:
    index: LogIndex  # the verified log as the ceremony reads it, up to the last entry
    tail: int  # entries after the sealed head
    voided: tuple[int, ...]  # approvals and installations in the tail, which must not count
    signatures: tuple[int, ...]  # signatures in the tail (each verified under this station's keys)


def sealed_checkpoint(store: AuditStore, seal: Seal | None) -> LogIndex:
    """The checkpoint the seal names, checked against its digest; the empty log if it names none."""
    if seal is None or not seal.checkpoint_digest:
        return LogIndex()
    found = store.checkpoint(seal.checkpoint_seq)
    if found is None or checkpoint_digest(found[1]) != seal.checkpoint_digest:
        raise LogRollbackError(
            f"the audit log's checkpoint at entry {seal.checkpoint_seq} is "
            f"{'missing' if found is None else 'not the one sealed in the HSM'}: "
            "the database was restored from an older copy or rewritten"
        )
    try:
        index = LogIndex.from_cbor(found[1])
    except StationStateError as exc:
        raise LogRollbackError(str(exc)) from None
    if index.seq != seal.checkpoint_seq:
        raise LogRollbackError(f"the sealed checkpoint says entry {index.seq}, not {seal.checkpoint_seq}")
    return index


def reconcile(store: AuditStore, seal: Seal | None, keys: Mapping[bytes, KeyRecord]) -> Reconciled:
    """Check the log against the seal, in time that does not grow with the log: the sealed checkpoint,
    then each entry after it. Raise LogRollbackError if it is not the log the HSM sealed."""
    start = sealed_checkpoint(store, seal)
    sealed_seq = seal.log_seq if seal is not None else 0
    sealed_head = seal.log_head if seal is not None else GENESIS
    folding, tail = Folding(start), []
    expected, prev, floor = start.seq + 1, start.head, start.at
    head_seen = start.head if sealed_seq == start.seq else None
    for entry in store.entries(start.seq + 1):
        problems = link_problems(entry, expected, prev, floor)
        if problems:
            raise LogRollbackError(f"the audit log's hash chain is broken: {problems[0]}")
        expected, prev, floor = entry.seq + 1, entry.hash, max(floor, entry.at)
        if entry.seq == sealed_seq:
            head_seen = entry.hash
        elif entry.seq > sealed_seq and entry.kind in _TAIL_KINDS:
            tail.append(entry)
        try:
            folding.fold(entry)
        except StationStateError as exc:  # a body the chain covers but the station never wrote
            raise LogRollbackError(str(exc)) from None
    index = folding.freeze()
    if head_seen != sealed_head:
        raise LogRollbackError(
            f"the audit log does not contain the head sealed in the HSM (entry {sealed_seq}): "
            f"the database was restored from an older copy or rewritten (it ends at {index.seq})"
        )
    for entry in tail:
        if entry.kind == EntryKind.SIGNATURE:
            _check_signature(entry, keys)
    return Reconciled(
        index,
        tail=max(0, index.seq - sealed_seq),
        voided=tuple(e.seq for e in tail if e.kind != EntryKind.SIGNATURE),
        signatures=tuple(e.seq for e in tail if e.kind == EntryKind.SIGNATURE),
    )


def _check_signature(entry: AuditEntry, keys: Mapping[bytes, KeyRecord]) -> None:
    """A signature in the unsealed tail must be this station's own (not appended by hand)."""
    response = logged_response(entry)
    record = keys.get(response.key_id)
    try:
        if record is None:
            raise SignatureError("the key is not this station's")
        response.verify(record.public_key)
    except SignatureError as exc:
        raise LogRollbackError(
            f"audit entry {entry.seq} holds a signature this station did not make: {exc}"
        ) from None
