"""What the HSM vouches for: the audit log's head and counter, and each installed policy's digest.

The seal is a private data object on the token, so it can be read or changed
only in a session opened with k custodian cards. A database restored from an
older copy no longer contains the sealed head; a policy file edited on disk
no longer hashes to the sealed digest; a clock set back reads earlier than
the sealed time. Each of these makes the station refuse.

Entries written since the last seal (the "tail") are accepted only if they
chain from the sealed head and every signature in them verifies under this
station's keys. Approvals in the tail are void: an approval is always sealed
before the HSM signs, so an unsealed one never produced a signature, and one
that someone appended by hand must not count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Protocol

from appliance.audit_store import AuditStore, logged_response
from appliance.errors import StationStateError
from custody.errors import CustodyError, SchemaError
from custody.schemas import strict
from custody.schemas.audit_log import GENESIS, AuditEntry, EntryKind, verify_chain
from custody.schemas.key_record import KeyRecord
from custody.schemas.signatures import SignatureError

SEAL_LABEL = "airgap-station-seal"
_VERSION = 1


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

    def advanced(self, entry: AuditEntry) -> Seal:
        return replace(self, log_seq=entry.seq, log_head=entry.hash, log_time=max(self.log_time, entry.at))

    def with_policy(self, vault_id: str, digest: bytes) -> Seal:
        return replace(self, policies=MappingProxyType({**self.policies, vault_id: digest}))

    def to_cbor(self) -> bytes:
        return strict.encode(
            {
                "version": _VERSION,
                "log_seq": self.log_seq,
                "log_head": self.log_head,
                "log_time": self.log_time,
                "policies": dict(self.policies),
            }
        )

    @classmethod
    def from_cbor(cls, data: bytes) -> Seal:
        what = "HSM seal"
        v = strict.fields(
            strict.decode(data, what=what),
            {"version": int, "log_seq": int, "log_head": bytes, "log_time": int, "policies": dict},
            what=what,
        )
        strict.version(v["version"], _VERSION, what=what)
        policies = v["policies"]
        if not all(isinstance(k, str) and isinstance(d, bytes) and len(d) == 32 for k, d in policies.items()):
            raise SchemaError(f"{what}: policy digests are malformed")
        return cls(
            log_seq=strict.natural(v["log_seq"], what=what, name="log_seq"),
            log_head=strict.sized(v["log_head"], what=what, name="log_head", length=32),
            log_time=v["log_time"],
            policies=MappingProxyType(dict(policies)),
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


@dataclass(frozen=True, slots=True)
class Reconciled:
    tail: tuple[AuditEntry, ...]  # entries after the sealed head
    voided: tuple[int, ...]  # approvals in the tail, which must not count


def reconcile(store: AuditStore, seal: Seal | None, keys: Mapping[bytes, KeyRecord]) -> Reconciled:
    """Check the whole log against the seal; raise LogRollbackError if it is not the sealed log."""
    sealed_seq = seal.log_seq if seal is not None else 0
    report = verify_chain(store.entries())
    if not report.ok:
        raise LogRollbackError(f"the audit log's hash chain is broken: {report.problems[0]}")
    if seal is not None:
        at_seal = store.entry(seal.log_seq) if seal.log_seq else None
        head = at_seal.hash if at_seal is not None else (GENESIS if seal.log_seq == 0 else None)
        if head != seal.log_head:
            raise LogRollbackError(
                f"the audit log does not contain the head sealed in the HSM (entry {seal.log_seq}): "
                f"the database was restored from an older copy or rewritten (it ends at {report.last_seq})"
            )
    tail = tuple(store.entries(sealed_seq + 1))
    for entry in tail:
        if entry.kind == EntryKind.SIGNATURE:
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
    voided = tuple(e.seq for e in tail if e.kind == EntryKind.APPROVE)
    return Reconciled(tail, voided)


def voided_approvals(store: AuditStore) -> frozenset[int]:
    """Approvals that recoveries declared void (they were never sealed, so never signed)."""
    voided: set[int] = set()
    for entry in store.kind_entries(EntryKind.RECOVER):
        seqs = entry.fields().get("voided", [])
        voided.update(s for s in seqs if isinstance(s, int))
    return frozenset(voided)
