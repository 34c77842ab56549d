"""The registry: versioned schema, all-or-nothing writes, messages re-checked on the way out."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from host.errors import UsageError
from host.migrations import MIGRATIONS
from host.registry import Registry
from tests.custody.schemas.fixtures import KEYS, T0, request, vault


def test_a_fresh_registry_is_at_the_latest_schema_and_reopens_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with Registry(path) as reg:
        assert reg.schema_version == len(MIGRATIONS)
        reg.add_vault(vault(), T0)
    with Registry(path) as reg:
        assert reg.schema_version == len(MIGRATIONS)
        assert reg.vault("cold") is not None


def test_a_failed_command_leaves_nothing_half_written(tmp_path: Path) -> None:
    with Registry(tmp_path / "r.db") as reg:
        reg.add_vault(vault(), T0)
        r = request()
        with pytest.raises(RuntimeError), reg.transaction():
            reg.add_request(r, 1)
            reg.add_response(KEYS[0].respond(r), T0)
            raise RuntimeError("power cut")
        assert reg.request(r.request_id) is None and reg.responses(r.request_id) == []


def test_generations_follow_one_another_and_duplicates_are_noticed(tmp_path: Path) -> None:
    with Registry(tmp_path / "r.db") as reg:
        v = vault()
        reg.add_vault(v, T0)
        with pytest.raises(UsageError, match="exists at generation 1"):
            reg.add_vault(v, T0)
        from dataclasses import replace

        with pytest.raises(UsageError, match="next generation is 2"):
            reg.add_vault(replace(v, generation=3), T0)
        reg.add_vault(replace(v, generation=2, threshold=4), T0 + 1)
        assert reg.vault("cold").definition.threshold == 4  # type: ignore[union-attr]
        assert [g.definition.generation for g in reg.vault_generations("cold")] == [1, 2]
        r = request(v)
        reg.add_request(r, 1)
        assert reg.add_response(KEYS[0].respond(r), T0) is True
        assert reg.add_response(KEYS[0].respond(r), T0) is False  # one per station and request
        with pytest.raises(UsageError, match=r"more than one|no request"):
            reg.find_request("ff")


def test_a_row_altered_behind_the_tools_back_fails_to_load(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with Registry(path) as reg:
        reg.add_vault(vault(), T0)
        reg.add_request(request(), 1)
    db = sqlite3.connect(path)
    db.execute("UPDATE requests SET body = substr(body, 1, length(body) - 1)")
    db.commit()
    db.close()
    from custody.errors import CustodyError

    with Registry(path) as reg, pytest.raises(CustodyError):
        reg.requests()


def test_a_first_format_registry_upgrades_in_place_keeping_keys_and_setting_old_rows_aside(
    tmp_path: Path,
) -> None:
    """Migration 2: several keys per station, and the second message format. Enrolled keys carry
    over; vaults, requests and answers of the first format are kept, never read, in legacy_ tables."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            db.execute(statement)
    record = KEYS[0]
    from tests.host.kit import FakeStation

    rec = FakeStation(record).record()
    db.execute(
        "INSERT INTO stations VALUES (?,?,?,?,?,?,?,?)",
        (
            rec.station,
            rec.key_id,
            rec.algorithm.value,
            rec.public_key,
            rec.label,
            rec.token_serial,
            rec.to_cbor(),
            T0,
        ),
    )
    db.execute("INSERT INTO vaults VALUES ('cold', 1, x'a0', x'00', ?, NULL)", (T0,))
    db.execute(
        "INSERT INTO requests (request_id, vault_id, generation, kind, body, digest, created_at, expires_at) "
        "VALUES (x'01', 'cold', 1, 'withdraw', x'a0', x'02', ?, ?)",
        (T0, T0 + 60),
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Registry(path) as reg:
        assert reg.schema_version == len(MIGRATIONS) == 2
        assert [r.record for r in reg.station_keys("station-1")] == [rec]
        assert reg.vault("cold") is None and reg.requests() == []
        reg.add_vault(vault(), T0)  # defined anew, in the second format
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT count(*) FROM legacy_requests").fetchone() == (1,)
    assert raw.execute("SELECT count(*) FROM legacy_vaults").fetchone() == (1,)
    raw.close()
