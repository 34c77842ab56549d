"""The signing ceremony end to end: SoftHSM tokens, camera frames, the audit log and the HSM seal."""

from __future__ import annotations

import shutil
from pathlib import Path

import cbor2
import pytest

from airgap.camera.frames import ImageFolderSource
from airgap.qr.decode import payloads_in_image
from airgap.ur.ur import UR
from appliance.ceremony import Outcome, StationCode
from appliance.policy_install import PolicyChangeError
from appliance.run_loop import run
from custody.policy.engine import Code
from custody.schemas.audit_log import EntryKind, verify_chain
from custody.schemas.bundle import SignedBundle
from custody.schemas.request import UR_TYPE, Announce, Cancel, Execute, RaiseLock, Rekey, Withdraw
from custody.schemas.response import REFUSAL_UR_TYPE, RESPONSE_UR_TYPE, Refusal, SignatureResponse
from custody.schemas.vault import VaultDefinition
from tests.appliance.conftest import requires_softhsm
from tests.appliance.kit import (
    ALLOWED,
    DAY,
    HOUR,
    OTHER,
    XCH,
    Clock,
    Ledger,
    RecordingScreen,
    SimStation,
    camera_frames,
    frames_folder,
    install,
    make_request,
    make_station,
    vault_of,
)

pytestmark = [pytest.mark.hsm, requires_softhsm]


def withdraw(amount: int = 10 * XCH, destination: str = ALLOWED) -> Withdraw:
    return Withdraw(asset="XCH", amount=amount, destination=destination)


def refusal(answer_ur: UR) -> Refusal:
    assert answer_ur.type == REFUSAL_UR_TYPE
    return Refusal.from_cbor(answer_ur.cbor)


def test_an_approved_withdrawal_through_camera_frames(
    hot: tuple[SimStation, VaultDefinition], clock: Clock, tmp_path: Path
) -> None:
    station, vault = hot
    request = make_request(vault, withdraw(), clock())
    folder = frames_folder(camera_frames(request.to_cbor()), tmp_path / "camera")
    screen = RecordingScreen()
    ceremony = station.ceremony(screen)
    summary = run(ceremony, ImageFolderSource(folder), decode_image=payloads_in_image)
    ceremony.station.close()
    assert [a.outcome for a in summary.answers] == [Outcome.SIGNED]
    assert len(screen.answers) == 1
    response = SignatureResponse.from_cbor(screen.answers[0].cbor)
    assert screen.answers[0].type == RESPONSE_UR_TYPE
    response.verify(station.record.public_key)
    assert response.request_digest == request.digest() and response.key_id == station.record.key_id
    # The review showed every field in human terms.
    for text in ("10 XCH", ALLOWED, request.request_id.hex(), request.digest().hex(), "cooldown", "WITHDRAW"):
        assert text in screen.text
    # Write-ahead: approval and signature are in the log, at the position the response names.
    with station.open() as opened:
        entries = list(opened.store.entries())
        assert verify_chain(entries).ok
        approve = entries[response.audit_seq - 1]
        assert approve.kind == EntryKind.APPROVE and approve.hash == response.log_head
        assert entries[response.audit_seq].kind == EntryKind.SIGNATURE
        assert entries[-1].kind == EntryKind.RELEASED
        kinds = [e.kind for e in entries]
        kinds = kinds[kinds.index(EntryKind.SCAN) :]
        assert kinds.index(EntryKind.REVIEW) < kinds.index(EntryKind.CARDS) < kinds.index(EntryKind.APPROVE)
    # A bundle of this one response satisfies the 1-of-2 vault.
    from custody.schemas.bundle import check_bundle

    assert check_bundle(vault, SignedBundle(request=request, responses=(response,)), now=clock()) == []


def test_each_rule_refuses_end_to_end(hot: tuple[SimStation, VaultDefinition], clock: Clock) -> None:
    station, vault = hot
    now = clock()
    cases = [
        (make_request(vault, withdraw(destination=OTHER), now), Code.DESTINATION),
        (make_request(vault, withdraw(51 * XCH), now), Code.PER_SPEND),
        (make_request(vault, withdraw(), now, lifetime=2 * HOUR), Code.LIFETIME),
        (make_request(vault, withdraw(), now, created_at=now - 700), Code.EXPIRED),
        (make_request(vault, withdraw(), now, created_at=now + 900), Code.NOT_YET_VALID),
        (make_request(vault, Withdraw(asset="BTC", amount=1, destination=ALLOWED), now), Code.WRONG_ASSET),
        (
            make_request(vault, Announce(asset="XCH", amount=1, destination=ALLOWED), now),
            Code.NO_ANNOUNCE_PHASE,
        ),
        (make_request(vault, Cancel(announce_id=b"\x01" * 16), now), Code.UNKNOWN_ANNOUNCEMENT),
        (make_request(vault, RaiseLock(threshold=1), now), Code.LOCK_RATCHET),
        (make_request(vault, withdraw(XCH // 2), now), Code.MIN_AMOUNT),
    ]
    from dataclasses import replace

    cases.append(
        (replace(make_request(vault, withdraw(), now), policy_digest=b"\x00" * 32), Code.POLICY_MISMATCH)
    )
    for request, code in cases:
        screen = RecordingScreen()
        answer = station.handle(request, screen)
        assert answer.outcome is Outcome.REFUSED and answer.code == code.value, (code, answer.text)
        assert refusal(screen.answers[0]).code == code.value
        assert "FAIL" in screen.text  # the rule's result was on the review screen
        assert not any(line.startswith("Custodians") for line in screen.lines)  # no cards were asked for
    # Over the window and inside the cooldown, after real approvals the history carries.
    for _ in range(2):
        assert station.handle(station.request(vault, withdraw(50 * XCH), clock())).outcome is Outcome.SIGNED
        clock.advance(HOUR)
    assert station.handle(station.request(vault, withdraw(30 * XCH), clock())).code == Code.WINDOW.value
    assert station.handle(station.request(vault, withdraw(10 * XCH), clock())).outcome is Outcome.SIGNED
    clock.advance(HOUR - 1)
    assert station.handle(station.request(vault, withdraw(1 * XCH), clock())).code == Code.COOLDOWN.value
    # A history that leaves out what this station signed is refused, naming the request left out.
    missing = station.handle(make_request(vault, withdraw(1 * XCH), clock() + 1))
    assert missing.code == Code.HISTORY_INCOMPLETE.value
    assert any(r.request_id.hex() in missing.text for r, _ in station.ledger.signed.values())
    with station.open() as opened:
        refusals = opened.store.kind_entries(EntryKind.REFUSE)
        assert len(refusals) == len(cases) + 3
        assert all(Refusal.from_cbor(e.fields()["refusal"]).text for e in refusals)


def test_a_replay_is_refused(hot: tuple[SimStation, VaultDefinition], clock: Clock) -> None:
    station, vault = hot
    request = make_request(vault, withdraw(), clock())
    assert station.handle(request).outcome is Outcome.SIGNED
    clock.advance(2 * HOUR)
    answer = station.handle(
        make_request(vault, withdraw(), clock(), request_id=request.request_id, created_at=request.created_at)
    )
    assert answer.outcome is Outcome.REFUSED
    answer = station.handle(request)
    assert answer.outcome is Outcome.REFUSED and answer.code in (Code.REPLAY.value, Code.EXPIRED.value)
    fresh = station.request(vault, withdraw(), clock())
    assert station.handle(fresh).outcome is Outcome.SIGNED
    clock.advance(60)
    again = station.handle(fresh)
    assert again.code == Code.REPLAY.value


def test_announce_execute_timings_and_cancel(softhsm: Path, tmp_path: Path, clock: Clock) -> None:
    a = make_station(tmp_path, "st-a", clock)
    vault = vault_of([a.key()], threshold=1, announce_delay_seconds=DAY, announce_expiry_seconds=2 * DAY)
    install(a, vault)
    clock.advance(2 * HOUR)
    assert a.handle(a.request(vault, withdraw(), clock())).code == Code.ANNOUNCE_REQUIRED.value
    transfer = {"asset": "XCH", "amount": 10 * XCH, "destination": ALLOWED}
    announce = a.request(vault, Announce(**transfer), clock())
    assert a.handle(announce).outcome is Outcome.SIGNED
    execute = Execute(announce_id=announce.request_id, **transfer)
    clock.advance(DAY - 60)
    early = a.handle(a.request(vault, execute, clock()))
    assert early.code == Code.TOO_EARLY.value and "opens in" in early.text
    clock.advance(120)
    assert a.handle(a.request(vault, execute, clock())).outcome is Outcome.SIGNED
    assert a.handle(a.request(vault, execute, clock())).code == Code.ANNOUNCEMENT_CLOSED.value

    # A second announcement runs out; a third is cancelled, after which it cannot execute.
    clock.advance(2 * HOUR)
    late = a.request(vault, Announce(**transfer), clock())
    assert a.handle(late).outcome is Outcome.SIGNED
    clock.advance(3 * DAY + 1)
    expired = Execute(announce_id=late.request_id, **transfer)
    assert a.handle(a.request(vault, expired, clock())).code == Code.ANNOUNCEMENT_EXPIRED.value
    third = a.request(vault, Announce(**transfer), clock())
    assert a.handle(third).outcome is Outcome.SIGNED
    clock.advance(60)
    assert a.handle(a.request(vault, Cancel(announce_id=third.request_id), clock())).outcome is Outcome.SIGNED
    clock.advance(DAY + 60)
    cancelled = Execute(announce_id=third.request_id, **transfer)
    assert a.handle(a.request(vault, cancelled, clock())).code == Code.ANNOUNCEMENT_CLOSED.value


def sign_at(stations: list[SimStation], request) -> bytes:  # type: ignore[no-untyped-def]
    responses = []
    for s in stations:
        answer = s.handle(request)
        assert answer.outcome is Outcome.SIGNED, answer.text
        responses.append(SignatureResponse.from_cbor(answer.ur.cbor))
    return SignedBundle(request=request, responses=tuple(responses)).to_cbor()


def test_raise_lock_then_lowering_is_refused(softhsm: Path, tmp_path: Path, clock: Clock) -> None:
    stations = [make_station(tmp_path, f"st-{n}", clock) for n in "abc"]
    vault = vault_of([s.key() for s in stations], threshold=2)
    for s in stations:
        install(s, vault)
    clock.advance(2 * HOUR)
    raise_lock = make_request(vault, RaiseLock(threshold=3), clock())
    bundle = sign_at(stations[:2], raise_lock)
    raised = VaultDefinition(
        **{
            **{f: getattr(vault, f) for f in ("vault_id", "asset", "keys", "rules")},
            "generation": 2,
            "threshold": 3,
        }
    )
    with pytest.raises(PolicyChangeError, match="needs the signed"):
        install(stations[0], raised)
    install(stations[0], raised, authorization=bundle)
    # Lowering the threshold: refused as a request, and refused as a policy.
    clock.advance(HOUR)
    lower = stations[0].request(raised, RaiseLock(threshold=2), clock())
    assert stations[0].handle(lower).code == Code.LOCK_RATCHET.value
    lowered = VaultDefinition(
        **{
            **{f: getattr(vault, f) for f in ("vault_id", "asset", "keys", "rules")},
            "generation": 3,
            "threshold": 2,
        }
    )
    with pytest.raises(PolicyChangeError):
        install(stations[0], lowered, authorization=bundle)
    # Station b has not installed the raise yet: a request built on the new definition is refused there.
    assert stations[1].handle(make_request(raised, withdraw(), clock())).code == Code.POLICY_MISMATCH.value


def test_attack_1_one_idle_station_cannot_rekey_the_vault_alone(
    softhsm: Path, tmp_path: Path, clock: Clock
) -> None:
    """Issue 12, defect 1: an idle station of a 3-of-5 vault signed 'rekey to 1 of 1' alone, and the
    bundle verified. Now a rekey needs the current threshold, at every station and in every check."""
    ledger = Ledger()
    stations = [make_station(tmp_path, f"st-{n}", clock, ledger=ledger) for n in "abc"]
    vault = vault_of([s.key() for s in stations], threshold=2, rekey_delay_seconds=DAY)
    for s in stations:
        install(s, vault)
    clock.advance(DAY + 60)
    alone = (stations[1].key(),)
    request = make_request(vault, Rekey(keys=alone, threshold=1), clock())
    lone = sign_at(stations[1:2], request)  # the idle station signs: one signature, not two
    rekeyed = VaultDefinition(
        vault_id=vault.vault_id, generation=2, asset=vault.asset, threshold=1, keys=alone, rules=vault.rules
    )
    with pytest.raises(PolicyChangeError, match="1 valid distinct signature"):
        install(stations[1], rekeyed, authorization=lone)
    # The old wire form, declaring fewer signers, is not a request at all any more.
    legacy = cbor2.loads(request.to_cbor())
    legacy["action"]["params"]["declared_signers"] = 1
    answer = stations[1].handle(cbor2.dumps(legacy, canonical=True))
    assert answer.code == StationCode.MALFORMED.value and "declared_signers" in answer.text
    # With the threshold's two signatures the rekey stands, and it may lower the threshold.
    full = (
        *SignedBundle.from_cbor(lone).responses,
        SignatureResponse.from_cbor(stations[0].handle(request).ur.cbor),
    )
    install(stations[1], rekeyed, authorization=SignedBundle(request=request, responses=full).to_cbor())


def test_an_edited_policy_file_is_refused(hot: tuple[SimStation, VaultDefinition], clock: Clock) -> None:
    station, vault = hot
    path = station.state / "policies" / f"{vault.vault_id}.cbor"
    data = cbor2.loads(path.read_bytes())
    data["vault"]["rules"]["max_per_spend"] = 10**6 * XCH
    data["vault"]["rules"]["window_max"] = 10**7 * XCH
    path.write_bytes(cbor2.dumps(data, canonical=True))
    answer = station.handle(make_request(vault, withdraw(), clock()))
    assert answer.code == StationCode.POLICY_CHANGED.value
    path.write_bytes(b"garbage")
    assert station.handle(make_request(vault, withdraw(), clock())).code == StationCode.POLICY_CHANGED.value


def test_an_edited_policy_and_log_together_are_caught_by_the_seal(
    hot: tuple[SimStation, VaultDefinition], clock: Clock
) -> None:
    """Someone with the disk rewrites the policy and the whole log to match: the HSM seal still says no."""
    import sqlite3

    station, vault = hot
    db = station.state / "audit.db"
    snapshot = station.state / "snapshot.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(FULL)")
    shutil.copy(db, snapshot)
    assert station.handle(make_request(vault, withdraw(), clock())).outcome is Outcome.SIGNED
    clock.advance(HOUR)
    # Put back the older copy of the database: its head is no longer the sealed one.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(snapshot, db)
    answer = station.handle(make_request(vault, withdraw(), clock()))
    assert answer.code == StationCode.LOG_ROLLBACK.value and "older copy" in answer.text


def test_the_clock_set_back_is_refused(hot: tuple[SimStation, VaultDefinition], clock: Clock) -> None:
    station, vault = hot
    assert station.handle(make_request(vault, withdraw(), clock())).outcome is Outcome.SIGNED
    clock.advance(-DAY)
    answer = station.handle(make_request(vault, withdraw(), clock()))
    assert answer.code == Code.CLOCK_ROLLBACK.value
    with station.open() as opened:
        last_scan = opened.store.kind_entries(EntryKind.SCAN)[-1]
        assert (
            last_scan.fields()["clock_reading"] == clock()
        )  # the real reading is kept, time never goes back
        assert verify_chain(opened.store.entries()).ok


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xff",
        cbor2.dumps({"version": 1}),
        cbor2.dumps(b"\x00" * 15000),
        b"\xbf" + b"\x61a\x01" * 3 + b"\xff",
        b"\x81" * 40 + b"\x00",
    ],
    ids=["garbage", "missing-fields", "oversized", "indefinite", "deep"],
)
def test_hostile_cbor_is_refused_without_a_crash(
    hot: tuple[SimStation, VaultDefinition], payload: bytes
) -> None:
    station, _ = hot
    screen = RecordingScreen()
    answer = station.handle(payload, screen)
    assert answer.outcome is Outcome.REFUSED and answer.code == StationCode.MALFORMED.value
    assert refusal(screen.answers[0]).request_id == b""


def test_hostile_frames_in_the_run_loop_are_refused_and_scanning_goes_on(
    hot: tuple[SimStation, VaultDefinition], clock: Clock, tmp_path: Path
) -> None:
    from airgap.camera.frames import Frame

    station, vault = hot
    good = make_request(vault, withdraw(), clock())
    from airgap.ur.ur import parts_for_message

    oversized = parts_for_message(UR(UR_TYPE, cbor2.dumps(b"\x00" * 70000)), 1000)[0]  # over the 64 KiB cap
    text_frames = [
        Frame(0, text="not a ur"),
        Frame(1, text="ur:x-spend-request/" + "ae" * 40),
        Frame(2, text=oversized),
    ]
    ceremony = station.ceremony()

    class Mixed:
        def frames(self):  # type: ignore[no-untyped-def]
            yield from text_frames
            yield from camera_frames(good.to_cbor(), seed=3)

        def close(self) -> None:
            pass

    summary = run(ceremony, Mixed(), decode_image=payloads_in_image)  # type: ignore[arg-type]
    ceremony.station.close()
    # the broken checksum and the oversized message are each refused; the good request is signed
    assert [a.outcome for a in summary.answers] == [Outcome.REFUSED, Outcome.REFUSED, Outcome.SIGNED]


def test_wrong_cards_and_declined_reviews_sign_nothing(
    hot: tuple[SimStation, VaultDefinition], clock: Clock
) -> None:
    station, vault = hot
    request = make_request(vault, withdraw(), clock())
    ceremony = station.ceremony(RecordingScreen(confirm_answer=False))
    assert ceremony.handle(UR(UR_TYPE, request.to_cbor())).code == StationCode.DECLINED.value
    ceremony.station.close()
    one_card = station.ceremony(cards=(1,))
    assert one_card.handle(UR(UR_TYPE, request.to_cbor())).code == StationCode.CARDS_REFUSED.value
    one_card.station.close()
    with station.open() as opened:
        assert not opened.store.kind_entries(EntryKind.APPROVE)
    assert station.handle(request).outcome is Outcome.SIGNED  # the request was never used up


@pytest.mark.parametrize("point", ["approved", "signature-logged", "signature-sealed"])
def test_sigkill_before_display_leaves_no_unlogged_signature_and_recovers(
    hot: tuple[SimStation, VaultDefinition], clock: Clock, tmp_path: Path, point: str
) -> None:
    import subprocess
    import sys

    station, vault = hot
    request = make_request(vault, withdraw(), clock())
    request_file = tmp_path / "request.cbor"
    request_file.write_bytes(request.to_cbor())
    argv = [
        sys.executable,
        "-m",
        "tests.appliance.crash_station",
        str(station.state),
        str(station.cards_dir),
        str(request_file),
        point,
        str(clock()),
    ]
    crashed = subprocess.run(argv, capture_output=True, text=True, cwd=Path(__file__).parents[2], check=False)
    assert crashed.returncode == -9, crashed.stderr
    assert "ANSWER SHOWN" not in crashed.stdout

    with station.open() as opened:
        signatures = opened.store.kind_entries(EntryKind.SIGNATURE)
        assert not opened.store.kind_entries(EntryKind.RELEASED)
        logged = [SignatureResponse.from_cbor(e.fields()["response"]) for e in signatures]
    assert len(logged) == (0 if point == "approved" else 1)  # a signature exists only if it is logged

    clock.advance(60)
    screen = RecordingScreen()
    answer = station.handle(request, screen)
    response = SignatureResponse.from_cbor(answer.ur.cbor)
    response.verify(station.record.public_key)
    if point == "approved":
        assert answer.outcome is Outcome.SIGNED  # signed under the approval sealed before the crash
    else:
        assert answer.outcome is Outcome.REISSUED and response == logged[0]  # the same bytes, nothing new
    with station.open() as opened:
        assert len(opened.store.kind_entries(EntryKind.APPROVE)) == 1  # the request counted once
        assert verify_chain(opened.store.entries()).ok
    clock.advance(60)
    assert station.handle(request).code == Code.REPLAY.value  # released now: a replay is refused


def test_attack_5_a_far_future_expiry_is_refused_logged_and_shown(
    hot: tuple[SimStation, VaultDefinition], clock: Clock
) -> None:
    """Issue 12, defect 5: expires_at = 10^12 crashed the review screen with nothing logged or shown,
    and 2^63-1 exited with no refusal."""
    station, vault = hot
    good = cbor2.loads(make_request(vault, withdraw(), clock()).to_cbor())
    for far in (10**12, 2**63 - 1):
        screen = RecordingScreen()
        answer = station.handle(cbor2.dumps({**good, "expires_at": far}, canonical=True), screen)
        assert answer.outcome is Outcome.REFUSED and answer.code == StationCode.MALFORMED.value
        assert "year 9999" in answer.text and refusal(screen.answers[0]).code == StationCode.MALFORMED.value
    with station.open() as opened:
        logged = [
            Refusal.from_cbor(e.fields()["refusal"]) for e in opened.store.kind_entries(EntryKind.REFUSE)
        ]
        assert [r.code for r in logged] == [StationCode.MALFORMED.value] * 2


def test_the_review_renders_any_time_and_shows_the_station_clock() -> None:
    from appliance.review import clock_banner, stamp, when

    assert stamp(0) == "1970-01-01 00:00:00 UTC"
    for hostile in (10**12, 2**63 - 1, -(2**63), 10**30):
        assert str(hostile) in stamp(hostile) and when(hostile, 0)  # a number, never a crash
    assert "STATION CLOCK" in clock_banner(0)[0]


def test_attack_4_the_review_shows_the_station_clock_first(
    hot: tuple[SimStation, VaultDefinition], clock: Clock
) -> None:
    """Issue 12, defect 4: a clock 90 days fast went unnoticed; the custodians now read it first."""
    from appliance.review import stamp

    station, vault = hot
    screen = RecordingScreen()
    station.handle(make_request(vault, withdraw(), clock()), screen)
    banner = next(i for i, line in enumerate(screen.lines) if line.startswith("STATION CLOCK"))
    assert stamp(clock()) in screen.lines[banner] and banner < screen.lines.index(
        "SPEND REQUEST: review every line"
    )


def test_attack_7_unreadable_input_is_counted_shown_and_logged_without_flooding(
    hot: tuple[SimStation, VaultDefinition], clock: Clock
) -> None:
    """Issue 12, defect 7: a UR with a bad checksum and a multipart header claiming 1 GB were dropped
    with '0 unreadable'. Each is now refused and logged once; repeats are one summary entry."""
    from airgap.camera.frames import Frame
    from airgap.ur.fountain import FountainPart
    from airgap.ur.ur import encode_part, encode_single

    station, vault = hot
    good = encode_single(UR(UR_TYPE, make_request(vault, withdraw(), clock()).to_cbor()))
    bad_checksum = good[:-8] + ("ae" if good[-8:-6] != "ae" else "ad") + good[-6:]
    huge = encode_part(
        UR_TYPE, FountainPart(seq_num=1, seq_len=4, message_len=10**9, checksum=5, data=b"abcd")
    )

    class Junk:
        def frames(self):  # type: ignore[no-untyped-def]
            for i in range(50):
                yield Frame(2 * i, text=bad_checksum)
                yield Frame(2 * i + 1, text=huge)

        def close(self) -> None:
            pass

    screen = RecordingScreen()
    ceremony = station.ceremony(screen)
    summary = run(ceremony, Junk(), decode_image=payloads_in_image)  # type: ignore[arg-type]
    ceremony.station.close()
    assert summary.unreadable == 100
    assert [a.outcome for a in summary.answers] == [Outcome.REFUSED, Outcome.REFUSED]
    assert len(screen.answers) == 2 and "repeated 49 more time(s)" in screen.text
    with station.open() as opened:
        scans = [e.fields() for e in opened.store.kind_entries(EntryKind.SCAN) if "error" in e.fields()]
    assert len(scans) == 4  # each reason once, then once more with its count
    assert sorted(f.get("repeats", 0) for f in scans) == [0, 0, 49, 49]


def test_attack_2_the_third_rotating_quorum_is_refused_on_softhsm(
    softhsm: Path, tmp_path: Path, clock: Clock
) -> None:
    """Issue 12, defect 2, as reported, on real stations: 50 per spend and 100 a day in a 2-of-3
    vault; b1+b2, then b1+b3, then b2+b3 within 2 h 10 min. The third quorum now sees the first two
    in the request's history, whether or not the host shows it."""
    ledger = Ledger()
    b = [make_station(tmp_path, f"b{n}", clock, ledger=ledger) for n in (1, 2, 3)]
    vault = vault_of([s.key() for s in b], threshold=2, window_max=100 * XCH)
    for s in b:
        install(s, vault)
    clock.advance(2 * HOUR)
    for first, second in ((0, 1), (0, 2)):
        request = b[first].request(vault, withdraw(50 * XCH), clock())
        assert b[first].handle(request).outcome is Outcome.SIGNED
        assert b[second].handle(request).outcome is Outcome.SIGNED
        clock.advance(HOUR + 5 * 60)
    honest = b[1].request(vault, withdraw(50 * XCH), clock())
    assert len(honest.history) == 2
    for s in (b[1], b[2]):
        answer = s.handle(honest)
        assert answer.code == Code.WINDOW.value and "vault-wide 100 XCH used" in answer.text
    hiding = make_request(vault, withdraw(50 * XCH), clock())  # the host leaves the history out
    for s in (b[1], b[2]):
        assert s.handle(hiding).code == Code.HISTORY_INCOMPLETE.value
