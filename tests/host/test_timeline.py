"""The host's per-station view: bounds on when stations approved, and refusing only what is sure."""

from __future__ import annotations

from dataclasses import replace

from custody.schemas.request import Announce, Execute
from host.registry import RequestRow, ResponseRow, VaultRow
from host.timeline import approvals_of, preflight, station_states, timeline
from tests.custody.schemas.fixtures import KEYS, RULES, T0, request, vault

HOUR, DAY = 3600, 86400
V = vault()
GEN = [VaultRow(V, T0 - DAY, None)]


def signed(
    req_changes: dict[str, object],
    who: range,
    collected: int,
    approved: int | None = None,
    finalized: bool = True,
) -> tuple[RequestRow, list[ResponseRow]]:
    r = request(V, **req_changes)  # type: ignore[arg-type]
    row = RequestRow(r, 1, collected if finalized else None, None)
    return row, [ResponseRow(KEYS[i].respond(r), collected, approved) for i in who]


def test_bounds_run_from_creation_to_collection_until_an_audit_gives_the_time() -> None:
    rows = [signed({}, range(3), collected=T0 + 5 * HOUR)]
    [a, *_] = approvals_of(rows)
    assert (a.earliest, a.latest) == (T0, T0 + 5 * HOUR)
    [a, *_] = approvals_of([signed({}, range(1), collected=T0 + 5 * HOUR, approved=T0 + HOUR)])
    assert (a.earliest, a.latest) == (T0 + HOUR, T0 + HOUR)


def test_a_station_refuses_for_sure_only_when_every_possible_timing_refuses() -> None:
    # signed at some time between T0 and T0+5h; cooldown 1h
    rows = [signed({}, range(3), collected=T0 + 5 * HOUR)]
    states = station_states(GEN, approvals_of(rows))
    new = request(V, request_id=b"\x09" * 16, created_at=T0 + 3 * HOUR, expires_at=T0 + 4 * HOUR)
    outlook = preflight(V, states, new, T0 + 3 * HOUR)
    # at the earliest timing the cooldown is over, at the latest it is not: "may refuse", not "refuses"
    assert [(o.refuses, o.maybe) for o in outlook.outlooks[:3]] == [(False, True)] * 3
    assert outlook.ok
    early = request(V, request_id=b"\x0a" * 16, created_at=T0 + 1800, expires_at=T0 + 3000)
    outlook = preflight(V, states, early, T0 + 1800)
    assert [o.refuses for o in outlook.outlooks] == [True, True, True, False, False]
    assert not outlook.ok and outlook.willing == 2 and "cooldown" in outlook.outlooks[0].reason


def test_announcement_windows_need_a_quorum_of_signers() -> None:
    two_phase = replace(V, rules=replace(RULES, announce_delay_seconds=DAY, announce_expiry_seconds=DAY))
    gen = [VaultRow(two_phase, T0 - DAY, None)]
    ann = Announce(asset="XCH", amount=10, destination="xch1dest")
    r = request(two_phase, action=ann)
    row = RequestRow(r, 1, T0 + HOUR, None)
    responses = [ResponseRow(KEYS[i].respond(r), T0 + (i + 1) * HOUR, None) for i in range(3)]
    t = timeline(gen, [(row, responses)])
    [view] = t.announcements
    assert view.status == "open" and view.signers == ("station-1", "station-2", "station-3")
    assert view.opens_at == T0 + 3 * HOUR + DAY  # the third signer's latest possible approval
    assert view.closes_at == T0 + 2 * DAY  # the earliest possible close among the three
    execute = Execute(announce_id=r.request_id, asset="XCH", amount=10, destination="xch1dest")
    done = request(two_phase, request_id=b"\x07" * 16, action=execute)
    done_row = RequestRow(done, 1, T0 + DAY + 4 * HOUR, None)
    t = timeline(gen, [(row, responses), (done_row, [])])
    assert t.announcements[0].status == "executed"
    pending = RequestRow(r, 1, None, None)
    assert timeline(gen, [(pending, responses[:1])]).announcements[0].status == "pending"
