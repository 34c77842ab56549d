"""The log as the ceremony reads it: folded entry by entry, the same from a checkpoint as from the start."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.errors import StationStateError
from appliance.log_index import LogIndex
from custody.schemas import strict
from custody.schemas.audit_log import GENESIS, AuditEntry, EntryKind, make_entry
from custody.schemas.request import Withdraw
from tests.appliance.kit import ALLOWED, T0, XCH, Clock, make_request, vault_of
from tests.custody.schemas.fixtures import SoftKey

VAULT = vault_of([SoftKey(0, "st-a").vault_key], threshold=1)


class Log:
    """Entries made by hand, chained as the station chains them."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def add(self, kind: EntryKind, fields: dict[str, Any], at: int = T0) -> AuditEntry:
        prev = self.entries[-1].hash if self.entries else GENESIS
        entry = make_entry(len(self.entries) + 1, at, kind.value, fields, prev)
        self.entries.append(entry)
        return entry

    def approve(self, n: int) -> tuple[AuditEntry, bytes]:
        request = make_request(VAULT, Withdraw(asset="XCH", amount=XCH, destination=ALLOWED), T0 + n)
        digest = request.digest()
        fields = {"request": request.core().to_cbor(), "request_digest": digest}
        return self.add(EntryKind.APPROVE, fields), digest


def test_approvals_count_and_unfinished_requests_follow_signature_and_release() -> None:
    log = Log()
    log.add(EntryKind.SCAN, {"bytes": 1})
    first, d1 = log.approve(1)
    second, d2 = log.approve(2)
    index = LogIndex().folded(log.entries)
    assert [e.seq for e in index.vaults[VAULT.vault_id].approvals] == [first.seq, second.seq]
    assert index.pending[d1] == first and index.pending[d2] == second  # approved, never signed
    signature = log.add(EntryKind.SIGNATURE, {"request_digest": d1, "response": b"r"})
    log.add(EntryKind.RELEASED, {"request_digest": d2, "audit_seq": second.seq})
    index = LogIndex().folded(log.entries)
    assert index.pending == {d1: signature}  # a logged signature wins over its approval; released is done
    assert (index.seq, index.head, index.at) == (len(log.entries), log.entries[-1].hash, T0)


def test_a_recovery_voids_the_approvals_and_installations_it_names() -> None:
    log = Log()
    installed = log.add(EntryKind.POLICY_INSTALLED, {"vault": VAULT.vault_id, "policy": b"p"})
    kept, d1 = log.approve(1)
    void, d2 = log.approve(2)
    cut_off = log.add(EntryKind.POLICY_INSTALLED, {"vault": VAULT.vault_id, "policy": b"q"})
    voided = [void.seq, cut_off.seq]
    log.add(EntryKind.RECOVER, {"sealed_seq": 2, "tail": 2, "voided": voided, "signatures_sealed": []})
    index = LogIndex().folded(log.entries)
    assert index.vaults[VAULT.vault_id].approvals == (kept,)
    assert index.vaults[VAULT.vault_id].installs == (installed,)
    assert d2 not in index.pending and index.pending[d1] == kept


def test_a_checkpoint_round_trips_and_folding_from_it_equals_folding_from_the_start() -> None:
    log = Log()
    clock = Clock()
    for n in range(6):
        clock.advance(60)
        _, digest = log.approve(n)
        log.add(EntryKind.SIGNATURE, {"request_digest": digest, "response": b"r"}, clock())
        if n % 2:
            log.add(EntryKind.RELEASED, {"request_digest": digest, "audit_seq": 0}, clock())
    middle = LogIndex().folded(log.entries[:7])
    restored = LogIndex.from_cbor(middle.to_cbor())
    assert restored == middle and restored.to_cbor() == middle.to_cbor()
    assert restored.folded(log.entries[7:]) == LogIndex().folded(log.entries)


def test_entries_out_of_order_and_damaged_checkpoints_are_refused() -> None:
    log = Log()
    log.add(EntryKind.SCAN, {"bytes": 1})
    log.add(EntryKind.SCAN, {"bytes": 2})
    with pytest.raises(StationStateError, match="does not follow"):
        LogIndex().folded(log.entries[1:])
    numbered = strict.encode(
        {"version": 1, "seq": 0, "head": bytes(32), "at": 0, "pending": {},
         "vaults": {7: {"installs": [], "approvals": []}}}
    )  # fmt: skip
    for damaged in (b"", b"\xa0", LogIndex().to_cbor()[:-1], b"\xff" * 40, numbered):
        with pytest.raises(StationStateError, match="checkpoint is damaged"):
            LogIndex.from_cbor(damaged)


def test_an_approval_body_the_station_never_wrote_is_refused() -> None:
    log = Log()
    log.add(EntryKind.APPROVE, {"request": b"not a request", "request_digest": bytes(32)})
    with pytest.raises(StationStateError, match="approval does not hold a valid request"):
        LogIndex().folded(log.entries)
