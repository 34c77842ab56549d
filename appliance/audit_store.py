"""The station's audit log in SQLite: append-only, hash-chained, committed before anything leaves.

WAL mode with ``synchronous=FULL``: once ``append`` returns, the entry
survives a power cut. Triggers refuse UPDATE and DELETE, which guards against
our own bugs; against someone with the disk, the chain head sealed in the HSM
is what counts (see ``seal``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from appliance.errors import StationStateError
from custody.errors import CustodyError
from custody.schemas.audit_log import GENESIS, AuditEntry, EntryKind, make_entry
from custody.schemas.history import RequestCore
from custody.schemas.response import SignatureResponse

#: Given the entry being committed: the checkpoint as of it, and the oldest checkpoint to keep.
Checkpointer = Callable[[AuditEntry], tuple[bytes, int]]

FILE_NAME = "audit.db"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body BLOB NOT NULL,
    prev BLOB NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    vault TEXT,
    request_digest BLOB
);
CREATE INDEX IF NOT EXISTS log_vault ON log (vault, kind);
CREATE INDEX IF NOT EXISTS log_request ON log (request_digest, kind);
-- Checkpoints of what the ceremony reads from the log (appliance.log_index), each sealed by digest.
CREATE TABLE IF NOT EXISTS checkpoint (seq INTEGER PRIMARY KEY, state BLOB NOT NULL);
CREATE TRIGGER IF NOT EXISTS log_no_update BEFORE UPDATE ON log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS log_no_delete BEFORE DELETE ON log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


class AuditStore:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / FILE_NAME
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            with self._transaction():
                row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None:
                    self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                elif row[0] != SCHEMA_VERSION:
                    raise StationStateError(f"{self.path}: schema version {row[0]} is not supported")
        except sqlite3.DatabaseError as exc:
            raise StationStateError(f"{self.path}: not a usable audit database ({exc})") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self) -> Any:
        return _Transaction(self._db)

    def head(self) -> tuple[int, bytes, int]:
        """(last sequence number, its hash, its time); (0, GENESIS, 0) for an empty log."""
        row = self._db.execute("SELECT seq, hash, at FROM log ORDER BY seq DESC LIMIT 1").fetchone()
        return (0, GENESIS, 0) if row is None else (row[0], bytes(row[1]), row[2])

    def append(
        self,
        kind: EntryKind,
        fields: dict[str, Any],
        at: int,
        *,
        vault: str | None = None,
        request_digest: bytes | None = None,
        checkpoint: Checkpointer | None = None,
    ) -> AuditEntry:
        """Commit one entry (durably) and return it.

        Entry times never go backwards: a clock reading earlier than the last
        entry is kept inside the entry as ``clock_reading``, and the entry
        takes the last entry's time.

        With ``checkpoint``, the checkpoint it makes of the log up to this
        entry is committed in the same transaction (one write, one sync).
        """
        try:
            with self._transaction():
                seq, prev, last_at = self.head()
                if at < last_at:
                    fields, at = {**fields, "clock_reading": at}, last_at
                entry = make_entry(seq + 1, at, kind.value, fields, prev)
                self._db.execute(
                    "INSERT INTO log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        entry.seq,
                        entry.at,
                        entry.kind,
                        entry.body,
                        entry.prev,
                        entry.hash,
                        vault,
                        request_digest,
                    ),
                )
                if checkpoint is not None:
                    state, keep = checkpoint(entry)
                    self._db.execute("INSERT OR REPLACE INTO checkpoint VALUES (?, ?)", (entry.seq, state))
                    self._db.execute("DELETE FROM checkpoint WHERE seq < ?", (keep,))
        except sqlite3.DatabaseError as exc:
            raise StationStateError(f"{self.path}: cannot write the audit log ({exc})") from None
        return entry

    def checkpoint(self, seq: int | None = None) -> tuple[int, bytes] | None:
        """The checkpoint at ``seq``, or the latest one; None if there is none."""
        row = self._db.execute(
            "SELECT seq, state FROM checkpoint ORDER BY seq DESC LIMIT 1"
            if seq is None
            else "SELECT seq, state FROM checkpoint WHERE seq = ?",
            () if seq is None else (seq,),
        ).fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def entries(self, start: int = 1) -> Iterator[AuditEntry]:
        cursor = self._db.execute(
            "SELECT seq, at, kind, body, prev, hash FROM log WHERE seq >= ? ORDER BY seq", (start,)
        )
        for seq, at, kind, body, prev, digest in cursor:
            yield AuditEntry(seq, at, kind, bytes(body), bytes(prev), bytes(digest))

    def entry(self, seq: int) -> AuditEntry | None:
        return next(iter(self._select("seq = ?", (seq,))), None)

    def _select(self, where: str, args: tuple[Any, ...]) -> list[AuditEntry]:
        rows = self._db.execute(
            f"SELECT seq, at, kind, body, prev, hash FROM log WHERE {where} ORDER BY seq", args
        ).fetchall()
        return [AuditEntry(s, a, k, bytes(b), bytes(p), bytes(h)) for s, a, k, b, p, h in rows]

    def kind_entries(self, kind: EntryKind) -> list[AuditEntry]:
        return self._select("kind = ?", (kind.value,))


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *rest: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def approved_request(entry: AuditEntry) -> RequestCore:
    """The request an ``approve`` entry approved: its core (the history is committed by its digest)."""
    try:
        return RequestCore.from_cbor(entry.fields()["request"])
    except (CustodyError, KeyError, TypeError) as exc:
        raise StationStateError(
            f"audit entry {entry.seq}: approval does not hold a valid request ({exc})"
        ) from None


def logged_response(entry: AuditEntry) -> SignatureResponse:
    try:
        return SignatureResponse.from_cbor(entry.fields()["response"])
    except (CustodyError, KeyError, TypeError) as exc:
        raise StationStateError(f"audit entry {entry.seq}: signature entry is malformed ({exc})") from None
