"""The sealed checkpoint: a session verifies what the seal names and the entries after it, never the whole
log, and a checkpoint that is missing, rewritten or not the sealed one is a rolled-back log."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from appliance.audit_store import AuditStore
from appliance.ceremony import Outcome, StationCode
from appliance.log_index import LogIndex, VaultLog
from appliance.seal import Seal
from custody.errors import SchemaError
from custody.policy.engine import Code
from custody.schemas import strict
from custody.schemas.audit_log import AuditEntry, EntryKind
from custody.schemas.request import Withdraw
from custody.schemas.vault import VaultDefinition
from tests.appliance.conftest import requires_softhsm
from tests.appliance.kit import ALLOWED, HOUR, XCH, Clock, SimStation

pytestmark = [pytest.mark.hsm, requires_softhsm]


def sign(station: SimStation, vault: VaultDefinition, clock: Clock, amount: int = 10 * XCH) -> str:
    clock.advance(2 * HOUR)
    action = Withdraw(asset="XCH", amount=amount, destination=ALLOWED)
    return station.handle(station.request(vault, action, clock())).code


def checkpoint_rows(station: SimStation) -> list[int]:
    with sqlite3.connect(station.state / "audit.db") as db:
        return [row[0] for row in db.execute("SELECT seq FROM checkpoint ORDER BY seq")]


def test_each_session_seals_a_checkpoint_and_the_next_reads_only_the_entries_after_it(
    hot: tuple[SimStation, VaultDefinition], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    station, vault = hot
    assert sign(station, vault, clock) == "signed"
    with station.open() as opened:
        sealed_at = checkpoint_rows(station)[-1]
        # sealed with the approval; the signature (sealed too) and the release come after it
        assert opened.store.head()[0] == sealed_at + 2
    starts: list[int] = []
    entries = AuditStore.entries

    def recorded(self: AuditStore, start: int = 1) -> Iterator[AuditEntry]:
        starts.append(start)
        return entries(self, start)

    monkeypatch.setattr(AuditStore, "entries", recorded)
    assert sign(station, vault, clock) == "signed"
    assert starts and min(starts) > sealed_at  # nothing at or before the checkpoint was read again
    assert checkpoint_rows(station)[0] == sealed_at  # the one the seal named until the last commit
    assert len(checkpoint_rows(station)) == 2  # older ones are dropped


def test_approvals_in_checkpoints_still_count_against_the_window(
    hot: tuple[SimStation, VaultDefinition], clock: Clock
) -> None:
    station, vault = hot
    for _ in range(2):
        assert sign(station, vault, clock, 50 * XCH) == "signed"
    # Each signing was its own session and checkpoint; the station's own approvals still sum up.
    assert sign(station, vault, clock, 30 * XCH) == Code.WINDOW.value


@pytest.mark.parametrize("damage", ["rewritten", "deleted"])
def test_a_rewritten_or_deleted_checkpoint_is_a_rolled_back_log(
    hot: tuple[SimStation, VaultDefinition], clock: Clock, damage: str
) -> None:
    """Someone with the disk drops the approvals from the checkpoint to reset the window: the seal says no."""
    station, vault = hot
    assert sign(station, vault, clock) == "signed"
    seq = checkpoint_rows(station)[-1]
    with sqlite3.connect(station.state / "audit.db") as db:
        if damage == "deleted":
            db.execute("DELETE FROM checkpoint")
        else:
            (blob,) = db.execute("SELECT state FROM checkpoint WHERE seq = ?", (seq,)).fetchone()
            index = LogIndex.from_cbor(blob)
            vaults = {v: VaultLog(installs=log.installs) for v, log in index.vaults.items()}
            emptied = LogIndex(seq=index.seq, head=index.head, at=index.at, vaults=vaults)
            db.execute("UPDATE checkpoint SET state = ? WHERE seq = ?", (emptied.to_cbor(), seq))
    clock.advance(2 * HOUR)
    action = Withdraw(asset="XCH", amount=10 * XCH, destination=ALLOWED)
    answer = station.handle(station.request(vault, action, clock()))
    assert answer.outcome is Outcome.REFUSED and answer.code == StationCode.LOG_ROLLBACK.value
    assert "checkpoint" in answer.text


def test_a_cut_between_a_checkpoint_and_its_seal_leaves_the_sealed_one_in_use(
    hot: tuple[SimStation, VaultDefinition], clock: Clock
) -> None:
    """A newer checkpoint committed that the seal never named: the next session uses the sealed one."""
    station, vault = hot
    assert sign(station, vault, clock) == "signed"
    sealed = checkpoint_rows(station)[-1]
    with station.open() as opened:
        opened.log(EntryKind.SCAN, {"bytes": 1}, clock())
        unsealed = opened.index
    with sqlite3.connect(station.state / "audit.db") as db:  # committed; the cut came before the seal
        db.execute("INSERT INTO checkpoint VALUES (?, ?)", (unsealed.seq, unsealed.to_cbor()))
    assert checkpoint_rows(station)[-2:] == [sealed, unsealed.seq]
    assert sign(station, vault, clock) == "signed"
    assert checkpoint_rows(station)[0] == sealed and checkpoint_rows(station)[-1] > unsealed.seq
    assert sign(station, vault, clock) == "signed"
    assert len(checkpoint_rows(station)) == 2  # the unsealed one is gone with the others


def test_a_first_version_seal_is_read_and_its_first_session_checks_the_whole_log() -> None:
    old = strict.encode({"version": 1, "log_seq": 3, "log_head": b"\x01" * 32, "log_time": 5, "policies": {}})
    seal = Seal.from_cbor(old)
    assert (seal.log_seq, seal.checkpoint_seq, seal.checkpoint_digest) == (3, 0, b"")
    assert Seal.from_cbor(seal.to_cbor()) == seal


@pytest.mark.parametrize(
    "checkpoint",
    [
        {"checkpoint_seq": 4, "checkpoint_digest": b"\x02" * 32},
        {"checkpoint_seq": 2, "checkpoint_digest": b""},
    ],
    ids=["after-the-head", "no-digest"],
)
def test_a_seal_naming_an_impossible_checkpoint_is_damaged(checkpoint: dict[str, object]) -> None:
    data = strict.encode(
        {"version": 2, "log_seq": 3, "log_head": b"\x01" * 32, "log_time": 5, "policies": {}, **checkpoint}
    )
    with pytest.raises(SchemaError, match="checkpoint is malformed"):
        Seal.from_cbor(data)
