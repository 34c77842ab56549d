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


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hot(softhsm: Path, tmp_path: Path, clock: Clock) -> tuple[SimStation, VaultDefinition]:
    """One real station in a 1-of-2 hot vault (the other key is a second real station's)."""
    a = make_station(tmp_path, "st-a", clock)
    b = make_station(tmp_path, "st-b", clock)
    vault = vault_of([a.key(), b.key()], threshold=1)
    install(a, vault)
    clock.advance(2 * HOUR)
    return a, vault


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
    # Over the window and inside the cooldown, after real approvals.
    for _ in range(2):
        assert station.handle(make_request(vault, withdraw(50 * XCH), clock())).outcome is Outcome.SIGNED
        clock.advance(HOUR)
    assert station.handle(make_request(vault, withdraw(30 * XCH), clock())).code == Code.WINDOW.value
    assert station.handle(make_request(vault, withdraw(10 * XCH), clock())).outcome is Outcome.SIGNED
    clock.advance(HOUR - 1)
    assert station.handle(make_request(vault, withdraw(1 * XCH), clock())).code == Code.COOLDOWN.value
    with station.open() as opened:
        refusals = opened.store.kind_entries(EntryKind.REFUSE)
        assert len(refusals) == len(cases) + 2
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
    fresh = make_request(vault, withdraw(), clock())
    assert station.handle(fresh).outcome is Outcome.SIGNED
    clock.advance(60)
    again = station.handle(fresh)
    assert again.code == Code.REPLAY.value


def test_announce_execute_timings_and_cancel(softhsm: Path, tmp_path: Path, clock: Clock) -> None:
    a = make_station(tmp_path, "st-a", clock)
    vault = vault_of([a.key()], threshold=1, announce_delay_seconds=DAY, announce_expiry_seconds=2 * DAY)
    install(a, vault)
    clock.advance(2 * HOUR)
    assert a.handle(make_request(vault, withdraw(), clock())).code == Code.ANNOUNCE_REQUIRED.value
    transfer = {"asset": "XCH", "amount": 10 * XCH, "destination": ALLOWED}
    announce = make_request(vault, Announce(**transfer), clock())
    assert a.handle(announce).outcome is Outcome.SIGNED
    execute = Execute(announce_id=announce.request_id, **transfer)
    clock.advance(DAY - 60)
    early = a.handle(make_request(vault, execute, clock()))
    assert early.code == Code.TOO_EARLY.value and "opens in" in early.text
    clock.advance(120)
    assert a.handle(make_request(vault, execute, clock())).outcome is Outcome.SIGNED
    assert a.handle(make_request(vault, execute, clock())).code == Code.ANNOUNCEMENT_CLOSED.value

    # A second announcement runs out; a third is cancelled, after which it cannot execute.
    clock.advance(2 * HOUR)
    late = make_request(vault, Announce(**transfer), clock())
    assert a.handle(late).outcome is Outcome.SIGNED
    clock.advance(3 * DAY + 1)
    expired = Execute(announce_id=late.request_id, **transfer)
    assert a.handle(make_request(vault, expired, clock())).code == Code.ANNOUNCEMENT_EXPIRED.value
    third = make_request(vault, Announce(**transfer), clock())
    assert a.handle(third).outcome is Outcome.SIGNED
    clock.advance(60)
    assert (
        a.handle(make_request(vault, Cancel(announce_id=third.request_id), clock())).outcome is Outcome.SIGNED
    )
    clock.advance(DAY + 60)
    cancelled = Execute(announce_id=third.request_id, **transfer)
    assert a.handle(make_request(vault, cancelled, clock())).code == Code.ANNOUNCEMENT_CLOSED.value


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
    lower = make_request(raised, RaiseLock(threshold=2), clock())
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


def test_a_rekey_with_fewer_signers_waits_out_the_penalty(
    softhsm: Path, tmp_path: Path, clock: Clock
) -> None:
    stations = [make_station(tmp_path, f"st-{n}", clock) for n in "abc"]
    vault = vault_of([s.key() for s in stations], threshold=2, rekey_delay_seconds=DAY, rekey_penalty=4)
    install(stations[0], vault)
    new_keys = (stations[0].key(), stations[2].key())
    rekey = Rekey(keys=new_keys, threshold=1, declared_signers=1)  # one signer short: 4 days instead of 1
    clock.advance(DAY + 60)
    early = stations[0].handle(make_request(vault, rekey, clock()))
    assert early.code == Code.REKEY_DELAY.value and "4d" in early.text
    clock.advance(3 * DAY)
    request = make_request(vault, rekey, clock())
    bundle = sign_at(stations[:1], request)
    rekeyed = VaultDefinition(
        vault_id=vault.vault_id,
        generation=2,
        asset=vault.asset,
        threshold=1,
        keys=new_keys,
        rules=vault.rules,
    )
    install(stations[0], rekeyed, authorization=bundle)  # the rekey may lower the threshold


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

    oversized = parts_for_message(UR(UR_TYPE, cbor2.dumps(b"\x00" * 20000)), 1000)[0]  # over the 16 KiB cap
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
    assert [a.outcome for a in summary.answers] == [Outcome.REFUSED, Outcome.SIGNED]


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
