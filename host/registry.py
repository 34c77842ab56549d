"""The host's registry in SQLite: stations, vaults, requests, collected answers, log heads, audits.

Every change is one transaction in WAL mode with ``synchronous=FULL``, so a
crash mid-write leaves the registry as it was before the command or after it,
never between. Stored messages are their canonical bytes and are re-parsed
on the way out: the registry cannot hold a message the schemas would refuse.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from custody.schemas.key_record import KeyRecord
from custody.schemas.request import SpendRequest
from custody.schemas.response import Refusal, SignatureResponse
from custody.schemas.vault import VaultDefinition
from host.errors import RegistryError, UsageError
from host.migrations import MIGRATIONS


@dataclass(frozen=True, slots=True)
class StationRow:
    record: KeyRecord
    enrolled_at: int


@dataclass(frozen=True, slots=True)
class VaultRow:
    definition: VaultDefinition
    created_at: int
    authorized_by: bytes | None  # the rekey or raise-lock request that made this generation


@dataclass(frozen=True, slots=True)
class RequestRow:
    request: SpendRequest
    generation: int
    finalized_at: int | None
    bundle: bytes | None


@dataclass(frozen=True, slots=True)
class ResponseRow:
    response: SignatureResponse  # its approved_at is the station's own time, signed in its HSM
    collected_at: int


@dataclass(frozen=True, slots=True)
class RefusalRow:
    refusal: Refusal
    collected_at: int


@dataclass(frozen=True, slots=True)
class HeadRow:
    station: str
    seq: int
    head: bytes
    source: str
    seen_at: int


class Registry:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f"{path}: not a usable registry ({exc})") from None

    def _migrate(self) -> None:
        with self.transaction():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise RegistryError(
                    f"{self.path}: schema version {version} is newer than this host tool "
                    f"(knows {len(MIGRATIONS)}); upgrade the tool"
                )
            for number in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: BEGIN IMMEDIATE takes the write lock up front, so checks and writes agree."""
        if self._db.in_transaction:
            yield self._db
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # stations and their keys (a station holds one key per vault it guards)

    def add_station(self, record: KeyRecord, now: int) -> bool:
        """Enrol a key. False when this exact key is already enrolled; UsageError when it is
        enrolled under another station, or the station already holds a key with this label."""
        with self.transaction() as db:
            clash = db.execute("SELECT station FROM station_keys WHERE key_id=?", (record.key_id,)).fetchone()
            if clash:
                if clash[0] == record.station:
                    return False
                raise UsageError(f"this key is already enrolled as station {clash[0]!r}")
            same_label = [r for r in self.station_keys(record.station) if r.record.label == record.label]
            if same_label:
                raise UsageError(
                    f"station {record.station!r} already has a key labelled {record.label!r} "
                    f"({same_label[0].record.key_id.hex()[:16]}); a station's key is never silently replaced"
                )
            db.execute(
                "INSERT INTO station_keys VALUES (?,?,?,?,?,?,?,?)",
                (
                    record.key_id,
                    record.station,
                    record.algorithm.value,
                    record.public_key,
                    record.label,
                    record.token_serial,
                    record.to_cbor(),
                    now,
                ),
            )
        return True

    def station_keys(self, name: str) -> list[StationRow]:
        rows = self._db.execute(
            "SELECT record, enrolled_at FROM station_keys WHERE station=? ORDER BY enrolled_at, label",
            (name,),
        ).fetchall()
        return [StationRow(KeyRecord.from_cbor(r[0]), r[1]) for r in rows]

    def key(self, key_id: bytes) -> StationRow | None:
        row = self._db.execute(
            "SELECT record, enrolled_at FROM station_keys WHERE key_id=?", (key_id,)
        ).fetchone()
        return StationRow(KeyRecord.from_cbor(row[0]), row[1]) if row else None

    def stations(self) -> list[StationRow]:
        rows = self._db.execute(
            "SELECT record, enrolled_at FROM station_keys ORDER BY station, enrolled_at"
        ).fetchall()
        return [StationRow(KeyRecord.from_cbor(r[0]), r[1]) for r in rows]

    # vaults

    def add_vault(self, definition: VaultDefinition, now: int, authorized_by: bytes | None = None) -> None:
        with self.transaction() as db:
            current = self.vault(definition.vault_id)
            expected = 1 if current is None else current.definition.generation + 1
            if definition.generation != expected:
                raise UsageError(
                    f"vault {definition.vault_id!r} already exists at generation {expected - 1}; "
                    "it changes only by rekey or raise-lock"
                    if current and definition.generation == 1
                    else f"vault {definition.vault_id!r}: next generation is {expected}"
                )
            db.execute(
                "INSERT INTO vaults VALUES (?,?,?,?,?,?)",
                (
                    definition.vault_id,
                    definition.generation,
                    definition.to_cbor(),
                    definition.digest(),
                    now,
                    authorized_by,
                ),
            )

    def vault(self, vault_id: str, generation: int | None = None) -> VaultRow | None:
        query = "SELECT definition, created_at, authorized_by FROM vaults WHERE vault_id=?"
        params: tuple[object, ...] = (vault_id,)
        if generation is not None:
            query += " AND generation=?"
            params += (generation,)
        row = self._db.execute(query + " ORDER BY generation DESC LIMIT 1", params).fetchone()
        return VaultRow(VaultDefinition.from_cbor(row[0]), row[1], row[2]) if row else None

    def vault_generations(self, vault_id: str) -> list[VaultRow]:
        rows = self._db.execute(
            "SELECT definition, created_at, authorized_by FROM vaults WHERE vault_id=? ORDER BY generation",
            (vault_id,),
        ).fetchall()
        return [VaultRow(VaultDefinition.from_cbor(r[0]), r[1], r[2]) for r in rows]

    def vault_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT vault_id FROM vaults ORDER BY vault_id")]

    # requests

    def add_request(self, request: SpendRequest, generation: int) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO requests (request_id, vault_id, generation, kind, body, digest, created_at, "
                "expires_at) VALUES (?,?,?,?,?,?,?,?)",
                (
                    request.request_id,
                    request.vault_id,
                    generation,
                    request.action.kind.value,
                    request.to_cbor(),
                    request.digest(),
                    request.created_at,
                    request.expires_at,
                ),
            )

    _REQUEST_COLUMNS = "body, generation, finalized_at, bundle"

    @staticmethod
    def _request_row(row: tuple[bytes, int, int | None, bytes | None]) -> RequestRow:
        return RequestRow(SpendRequest.from_cbor(row[0]), row[1], row[2], row[3])

    def request(self, request_id: bytes) -> RequestRow | None:
        row = self._db.execute(
            f"SELECT {self._REQUEST_COLUMNS} FROM requests WHERE request_id=?", (request_id,)
        ).fetchone()
        return self._request_row(row) if row else None

    def request_by_digest(self, digest: bytes) -> RequestRow | None:
        row = self._db.execute(
            f"SELECT {self._REQUEST_COLUMNS} FROM requests WHERE digest=?", (digest,)
        ).fetchone()
        return self._request_row(row) if row else None

    def find_request(self, prefix_hex: str) -> RequestRow:
        """A request by its id in hex, or a unique prefix of it (operators type the first 8 digits)."""
        text = prefix_hex.strip().lower()
        if not text or any(c not in "0123456789abcdef" for c in text) or len(text) > 32:
            raise UsageError(f"{prefix_hex!r} is not a request id (hex digits)")
        rows = self._db.execute(
            f"SELECT {self._REQUEST_COLUMNS} FROM requests WHERE hex(request_id) LIKE ? LIMIT 2",
            (text.upper() + "%",),
        ).fetchall()
        if not rows:
            raise UsageError(f"no request {text} in the registry")
        if len(rows) > 1:
            raise UsageError(f"{text} matches more than one request; give more digits")
        return self._request_row(rows[0])

    def requests(self, vault_id: str | None = None) -> list[RequestRow]:
        query = f"SELECT {self._REQUEST_COLUMNS} FROM requests"
        params: tuple[str, ...] = ()
        if vault_id is not None:
            query += " WHERE vault_id=?"
            params = (vault_id,)
        rows = self._db.execute(query + " ORDER BY created_at, request_id", params).fetchall()
        return [self._request_row(r) for r in rows]

    def requests_with_responses(self, vault_id: str) -> list[tuple[RequestRow, list[ResponseRow]]]:
        """Every request of the vault with the signatures held for it: what the timeline is built from."""
        return [(r, self.responses(r.request.request_id)) for r in self.requests(vault_id)]

    def finalize(self, request_id: bytes, bundle: bytes, now: int) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE requests SET finalized_at=?, bundle=? WHERE request_id=? AND finalized_at IS NULL",
                (now, bundle, request_id),
            )

    # answers

    def add_response(self, response: SignatureResponse, now: int) -> bool:
        """False when this station's response to this request is already held."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO responses VALUES (?,?,?,?,?,?,?)",
                (
                    response.request_id,
                    response.key_id,
                    response.station,
                    response.to_cbor(),
                    response.audit_seq,
                    response.log_head,
                    now,
                ),
            )
            return cursor.rowcount == 1

    def responses(self, request_id: bytes) -> list[ResponseRow]:
        rows = self._db.execute(
            "SELECT body, collected_at FROM responses WHERE request_id=? ORDER BY collected_at",
            (request_id,),
        ).fetchall()
        return [ResponseRow(SignatureResponse.from_cbor(r[0]), r[1]) for r in rows]

    def responses_of(self, station: str) -> list[tuple[RequestRow, ResponseRow]]:
        """Every signature collected from ``station``, with its request: what an audit checks times by."""
        rows = self._db.execute(
            "SELECT q.body, q.generation, q.finalized_at, q.bundle, r.body, r.collected_at FROM responses r "
            "JOIN requests q ON q.request_id = r.request_id WHERE r.station=? ORDER BY r.collected_at",
            (station,),
        ).fetchall()
        return [
            (
                self._request_row((r[0], r[1], r[2], r[3])),
                ResponseRow(SignatureResponse.from_cbor(r[4]), r[5]),
            )
            for r in rows
        ]

    def add_refusal(self, refusal: Refusal, now: int) -> bool:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO refusals (request_id, station, code, text, at, body, collected_at) "
                "VALUES (?,?,?,?,?,?,?)",
                (
                    refusal.request_id or None,
                    refusal.station,
                    refusal.code,
                    refusal.text,
                    refusal.at,
                    refusal.to_cbor(),
                    now,
                ),
            )
            return cursor.rowcount == 1

    def refusals(self, request_id: bytes) -> list[RefusalRow]:
        rows = self._db.execute(
            "SELECT body, collected_at FROM refusals WHERE request_id=? ORDER BY id", (request_id,)
        ).fetchall()
        return [RefusalRow(Refusal.from_cbor(r[0]), r[1]) for r in rows]

    # log heads and audits

    def see_head(self, station: str, seq: int, head: bytes, source: str, now: int) -> HeadRow | None:
        """Remember a head; return the earlier one when it contradicts (same station and seq, other hash)."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT head, source, seen_at FROM heads WHERE station=? AND seq=?", (station, seq)
            ).fetchone()
            if row is None:
                db.execute("INSERT INTO heads VALUES (?,?,?,?,?)", (station, seq, head, source, now))
                return None
            return HeadRow(station, seq, row[0], row[1], row[2]) if row[0] != head else None

    def heads(self, station: str) -> list[HeadRow]:
        rows = self._db.execute(
            "SELECT seq, head, source, seen_at FROM heads WHERE station=? ORDER BY seq", (station,)
        ).fetchall()
        return [HeadRow(station, r[0], r[1], r[2], r[3]) for r in rows]

    def add_audit(self, station: str, now: int, count: int, head: bytes, ok: bool, findings: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO audits (station, imported_at, count, head, ok, findings) VALUES (?,?,?,?,?,?)",
                (station, now, count, head, int(ok), findings),
            )

    # commitments to vault definitions, published before anyone needs to check them

    def add_commitment(
        self, vault_id: str, generation: int, salt: bytes, commitment: bytes, now: int
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO commitments VALUES (?,?,?,?,?)", (vault_id, generation, salt, commitment, now)
            )

    def commitment(self, vault_id: str, generation: int) -> tuple[bytes, bytes, int] | None:
        """(salt, commitment, created_at) of the vault generation's commitment, if one was made."""
        row = self._db.execute(
            "SELECT salt, commitment, created_at FROM commitments WHERE vault_id=? AND generation=?",
            (vault_id, generation),
        ).fetchone()
        return (bytes(row[0]), bytes(row[1]), row[2]) if row else None

    def audits(self) -> list[tuple[str, int, int, bool]]:
        rows = self._db.execute(
            "SELECT station, imported_at, count, ok FROM audits ORDER BY station, id"
        ).fetchall()
        return [(r[0], r[1], r[2], bool(r[3])) for r in rows]
