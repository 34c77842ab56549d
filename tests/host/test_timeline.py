"""The host's view: each station's state from its signed approval times, and the vault's timeline."""

from __future__ import annotations

from dataclasses import replace

from custody.schemas.request import Announce, Execute, Withdraw
from host.history import history_for
from host.registry import RequestRow, ResponseRow, VaultRow
from host.timeline import preflight, station_state, timeline
from tests.custody.schemas.fixtures import KEYS, RULES, T0, request, vault

HOUR, DAY = 3600, 86400
V = vault()
GEN = [VaultRow(V, T0 - DAY, None)]


def signed(
    req_changes: dict[str, object], who: range, approved: int, collected: int | None = None
) -> tuple[RequestRow, list[ResponseRow]]:
    r = request(V, **req_changes)  # type: ignore[arg-type]
    row = RequestRow(r, 1, None, None)
    return row, [ResponseRow(KEYS[i].respond(r, approved_at=approved), collected or approved) for i in who]


def test_a_station_state_holds_the_approvals_collected_from_it_at_their_signed_times() -> None:
    rows = [signed({}, range(3), approved=T0 + HOUR, collected=T0 + 5 * HOUR)]
    state = station_state(GEN, rows, KEYS[0].vault_key)
    assert [a.at for a in state.approvals] == [T0 + HOUR]  # the station's own time, not the collection's
    assert station_state(GEN, rows, KEYS[4].vault_key).approvals == ()
    assert state.installed_at == T0 - DAY and V.digest() in state.definitions


def test_preflight_refuses_what_the_stations_would_refuse_with_the_history_it_sends() -> None:
    rows = [signed({}, range(3), approved=T0 + HOUR)]  # 10 XCH by stations 1-3, a quorum
    early = request(V, request_id=b"\x09" * 16, created_at=T0 + HOUR + 600, expires_at=T0 + 2 * HOUR)
    early = replace(early, history=history_for(GEN, rows, early.action, T0 + HOUR + 600))
    outlook = preflight(GEN, rows, early, T0 + HOUR + 600)
    assert [o.refuses for o in outlook.outlooks] == [True] * 5  # the vault's cooldown, seen by all
    assert not outlook.ok and "cooldown" in outlook.outlooks[4].reason
    later = replace(early, created_at=T0 + 2 * HOUR + 60, expires_at=T0 + 3 * HOUR)
    later = replace(later, history=history_for(GEN, rows, later.action, T0 + 2 * HOUR + 60))
    assert preflight(GEN, rows, later, T0 + 2 * HOUR + 60).ok
    bare = replace(later, history=())  # without the history, stations 1-3 miss what they signed
    outlook = preflight(GEN, rows, bare, T0 + 2 * HOUR + 60)
    assert [o.refuses for o in outlook.outlooks] == [True, True, True, False, False]
    assert "leaves out request" in outlook.outlooks[0].reason


def test_announcement_windows_run_from_the_latest_signature_of_the_quorum() -> None:
    two_phase = replace(V, rules=replace(RULES, announce_delay_seconds=DAY, announce_expiry_seconds=DAY))
    gen = [VaultRow(two_phase, T0 - DAY, None)]
    ann = Announce(asset="XCH", amount=10, destination="xch1dest")
    r = request(two_phase, action=ann)
    row = RequestRow(r, 1, T0 + 4 * HOUR, None)
    responses = [
        ResponseRow(KEYS[i].respond(r, approved_at=T0 + (i + 1) * HOUR), T0 + 4 * HOUR) for i in range(3)
    ]
    t = timeline(gen, [(row, responses)])
    [view] = t.announcements
    assert view.status == "open" and view.signers == ("station-1", "station-2", "station-3")
    assert view.opens_at == T0 + 3 * HOUR + DAY and view.closes_at == T0 + 3 * HOUR + 2 * DAY
    execute = Execute(announce_id=r.request_id, asset="XCH", amount=10, destination="xch1dest")
    done = request(two_phase, request_id=b"\x07" * 16, action=execute)
    done_row = RequestRow(done, 1, T0 + DAY + 4 * HOUR, None)
    done_responses = [
        ResponseRow(KEYS[i].respond(done, approved_at=T0 + DAY + 4 * HOUR), T0 + DAY + 4 * HOUR)
        for i in range(3)
    ]
    t = timeline(gen, [(row, responses), (done_row, done_responses)])
    assert t.announcements[0].status == "executed" and t.last_action_at == T0 + DAY + 4 * HOUR
    assert timeline(gen, [(row, responses[:1])]).announcements[0].status == "pending"


def test_history_holds_what_a_station_may_have_signed_that_a_rule_can_still_see() -> None:
    withdrawal = signed({"request_id": b"\x01" * 16}, range(3), approved=T0)
    lone = signed({"request_id": b"\x02" * 16}, range(1), approved=T0 + HOUR)
    unanswered = signed({"request_id": b"\x03" * 16}, range(0), approved=T0)
    old = signed(
        {"request_id": b"\x04" * 16, "created_at": T0 - 9 * DAY, "expires_at": T0 - 9 * DAY + 600},
        range(3),
        approved=T0 - 9 * DAY,
    )
    rows = [withdrawal, lone, unanswered, old]
    history = history_for(GEN, rows, Withdraw(asset="XCH", amount=1, destination="xch1dest"), T0 + 2 * HOUR)
    assert {e.request.request_id for e in history} == {b"\x01" * 16, b"\x02" * 16}
    assert [len(e.signatures) for e in sorted(history, key=lambda e: e.request.request_id)] == [3, 1]
    assert [e.request.digest() for e in history] == sorted(e.request.digest() for e in history)
    included = history_for(GEN, rows, withdrawal[0].request.action, T0 + 2 * HOUR, frozenset({b"\x03" * 16}))
    assert b"\x03" * 16 in {e.request.request_id for e in included}  # an answer that never came back
