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
    # 2: several keys per station (one per vault it guards), and the second message format:
    # vault rules gained a minimum and a window count, requests carry the vault's history, responses
    # their signed approval time. Rows of the first format cannot be converted (nothing can sign
    # them again), so they are kept, never read, in legacy_ tables; vaults are defined anew.
    """
    CREATE TABLE station_keys (
        key_id BLOB PRIMARY KEY,
        station TEXT NOT NULL,
        algorithm TEXT NOT NULL,
        public_key BLOB NOT NULL,
        label TEXT NOT NULL,
        token_serial TEXT NOT NULL,
        record BLOB NOT NULL,
        enrolled_at INTEGER NOT NULL
    );
    INSERT INTO station_keys
        SELECT key_id, station, algorithm, public_key, label, token_serial, record, enrolled_at FROM stations;
    DROP TABLE stations;
    CREATE INDEX station_keys_station ON station_keys (station, enrolled_at);
    DROP INDEX requests_vault;
    ALTER TABLE vaults RENAME TO legacy_vaults;
    ALTER TABLE requests RENAME TO legacy_requests;
    ALTER TABLE responses RENAME TO legacy_responses;
    ALTER TABLE refusals RENAME TO legacy_refusals;
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
    CREATE TABLE commitments (
        vault_id TEXT NOT NULL,
        generation INTEGER NOT NULL,
        salt BLOB NOT NULL,
        commitment BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (vault_id, generation),
        FOREIGN KEY (vault_id, generation) REFERENCES vaults (vault_id, generation)
    );
    """,
)
