"""The registry's schema as an ordered list of migrations; ``PRAGMA user_version`` says how many ran.

A migration is never edited once released: a change is a new entry at the
end, so a registry written by any earlier version upgrades in place, inside
one transaction, or not at all.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: stations, vaults, requests, responses, refusals, log heads seen, audit imports.
    """
    CREATE TABLE stations (
        station TEXT PRIMARY KEY,
        key_id BLOB NOT NULL UNIQUE,
        algorithm TEXT NOT NULL,
        public_key BLOB NOT NULL,
        label TEXT NOT NULL,
        token_serial TEXT NOT NULL,
        record BLOB NOT NULL,
        enrolled_at INTEGER NOT NULL
    );
    CREATE TABLE vaults (
        vault_id TEXT NOT NULL,
        generation INTEGER NOT NULL,
        definition BLOB NOT NULL,
        digest BLOB NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        authorized_by BLOB,
        PRIMARY KEY (vault_id, generation)
    );
    CREATE TABLE requests (
        request_id BLOB PRIMARY KEY,
        vault_id TEXT NOT NULL,
        generation INTEGER NOT NULL,
        kind TEXT NOT NULL,
        body BLOB NOT NULL,
        digest BLOB NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        finalized_at INTEGER,
        bundle BLOB,
        FOREIGN KEY (vault_id, generation) REFERENCES vaults (vault_id, generation)
    );
    CREATE INDEX requests_vault ON requests (vault_id, created_at);
    CREATE TABLE responses (
        request_id BLOB NOT NULL REFERENCES requests (request_id),
        key_id BLOB NOT NULL,
        station TEXT NOT NULL,
        body BLOB NOT NULL,
        audit_seq INTEGER NOT NULL,
        log_head BLOB NOT NULL,
        collected_at INTEGER NOT NULL,
        approved_at INTEGER,
        PRIMARY KEY (request_id, key_id)
    );
    CREATE TABLE refusals (
        id INTEGER PRIMARY KEY,
        request_id BLOB,
        station TEXT NOT NULL,
        code TEXT NOT NULL,
        text TEXT NOT NULL,
        at INTEGER NOT NULL,
        body BLOB NOT NULL UNIQUE,
        collected_at INTEGER NOT NULL
    );
    CREATE TABLE heads (
        station TEXT NOT NULL,
        seq INTEGER NOT NULL,
        head BLOB NOT NULL,
        source TEXT NOT NULL,
        seen_at INTEGER NOT NULL,
        PRIMARY KEY (station, seq)
    );
    CREATE TABLE audits (
        id INTEGER PRIMARY KEY,
        station TEXT NOT NULL,
        imported_at INTEGER NOT NULL,
        count INTEGER NOT NULL,
        head BLOB NOT NULL,
        ok INTEGER NOT NULL,
        findings TEXT NOT NULL
    );
    """,
)
