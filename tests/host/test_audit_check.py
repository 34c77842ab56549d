"""The audit check against the attacks issue 12 found: tails cut or rewritten, and clocks set wrong.

Each export is read back from bytes, as ``host audit`` reads it. The station
signed a request the host never built (the nanakusa pattern); the attacker
then tries to hide it.
"""

from __future__ import annotations

import io
from dataclasses import replace

from custody.schemas.audit_log import EntryKind, export_bytes, make_entry, read_export
from custody.schemas.request import SpendRequest
from host.audit_check import Flag, Known, audit_export
from tests.custody.schemas.fixtures import T0, request, vault
from tests.host.kit import DAY, HOUR, FakeStation, stations

V = vault()
BUILT = request(V)
SECRET = request(V, request_id=b"\x66" * 16)  # the host never built this one


def known(station: FakeStation, now: int, **changes: object) -> Known:
    by_digest: dict[bytes, SpendRequest] = {BUILT.digest(): BUILT}
    base = Known(
        request_by_digest=by_digest.get,
        station_keys={station.key.vault_key.key_id: (station.key.vault_key.algorithm, station.key.public)},
        seen_heads={},
        collected_at={},
        rules_of=lambda _: V.rules,
        now=now,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def audit(data: bytes, k: Known) -> set[Flag]:
    header, entries = read_export(io.BytesIO(data))
    report = audit_export(header, entries, k)
    return {f.flag for f in report.findings}


def signed_then_secret() -> FakeStation:
    station = stations()[0]
    station.sign(BUILT, T0)
    station.sign(SECRET, T0 + HOUR)  # entries 4 and 5: approve and signature of the secret request
    return station


def test_an_honest_export_is_clean() -> None:
    station = stations()[0]
    station.sign(BUILT, T0)
    assert audit(station.export(T0 + HOUR), known(station, T0 + HOUR)) == set()


def test_attack_3_a_tail_cut_with_the_header_fixed_up_is_named() -> None:
    """Issue 12, defect 3 (a): the export was cut before the secret signature and its unsigned
    header's count and head fixed up; it came back clean."""
    station = signed_then_secret()
    assert Flag.UNREQUESTED in audit(station.export(T0 + 2 * HOUR), known(station, T0 + 2 * HOUR))
    cut = station.entries[:3]
    fixed_up = export_bytes(station.head(cut, signed=False), cut)  # no HSM: no signature on the new head
    assert Flag.UNSIGNED in audit(fixed_up, known(station, T0 + 2 * HOUR))
    resigned_elsewhere = export_bytes(replace(station.head(cut), station="station-1"), cut)
    assert Flag.UNSIGNED in audit(  # signed with a key this host never enrolled for the station
        resigned_elsewhere, known(station, T0 + 2 * HOUR, station_keys={})
    )


def test_attack_3_a_tail_cut_under_the_genuine_signed_head_is_named() -> None:
    station = signed_then_secret()
    genuine = station.export(T0 + 2 * HOUR)
    header, entries = read_export(io.BytesIO(genuine))
    cut = export_bytes(header, list(entries)[:3])
    flags = audit(cut, known(station, T0 + 2 * HOUR))
    assert Flag.HEADER in flags and Flag.UNREQUESTED not in flags  # the head names what is missing


def test_attack_3_a_rewritten_and_rechained_log_is_named() -> None:
    """Issue 12, defect 3 (b): the log rewritten and re-chained without the secret entries."""
    station = signed_then_secret()
    station.entries = station.entries[:3]
    prev = station.entries[-1].hash
    station.entries.append(make_entry(4, T0 + HOUR, EntryKind.SCAN, {"error": "quiet"}, prev))
    rewritten = export_bytes(station.head(signed=False), station.entries)
    assert Flag.UNSIGNED in audit(rewritten, known(station, T0 + 2 * HOUR))


def test_attack_3_an_older_export_is_stale_and_heads_never_go_backwards() -> None:
    """Issue 12, defect 3 (c): an export from before the secret signing, presented afterwards."""
    station = stations()[0]
    station.sign(BUILT, T0)
    old = station.export(T0 + 60)
    station.sign(SECRET, T0 + HOUR)
    seen = {station.entries[-1].seq: (station.entries[-1].hash, "a response collected at T0+1h")}
    assert Flag.STALE in audit(old, known(station, T0 + 2 * DAY))
    assert Flag.ROLLED_BACK in audit(old, known(station, T0 + 2 * HOUR, seen_heads=seen))


def test_attack_4_a_station_clock_ahead_is_named() -> None:
    """Issue 12, defect 4: a station clock set 90 days fast signed an early execution, and the audit
    stayed clean. The auditor now compares the log with its own clock and with what it collected."""
    station = stations()[0]
    fast = T0 + 90 * DAY
    station.sign(BUILT, fast)
    export = station.export(fast)
    report_now = T0 + HOUR
    assert Flag.CLOCK_AHEAD in audit(export, known(station, report_now))
    collected = known(station, fast + 60, collected_at={BUILT.digest(): T0 + HOUR})
    header, entries = read_export(io.BytesIO(export))
    report = audit_export(header, entries, collected)
    assert any(f.flag is Flag.CLOCK_AHEAD and "after this host collected" in f.text for f in report.findings)


def test_attack_4_a_clock_set_back_after_a_jump_is_named() -> None:
    station = stations()[0]
    station.sign(BUILT, T0 + 90 * DAY)
    prev = station.entries[-1]
    station.entries.append(
        make_entry(
            prev.seq + 1, prev.at, EntryKind.SCAN, {"error": "x", "clock_reading": T0 + HOUR}, prev.hash
        )
    )
    report = audit(station.export(T0 + 90 * DAY), known(station, T0 + 90 * DAY))
    assert Flag.CLOCK_BACK in report


def test_a_head_dated_ahead_of_the_auditor_is_named() -> None:
    station = stations()[0]
    assert Flag.CLOCK_AHEAD in audit(station.export(T0 + DAY), known(station, T0))


def test_the_progress_callback_counts_every_entry_checked_in_order() -> None:
    station = signed_then_secret()
    header, entries = read_export(io.BytesIO(station.export(T0 + 2 * HOUR)))
    counts: list[int] = []
    report = audit_export(header, entries, known(station, T0 + 2 * HOUR), on_entry=counts.append)
    assert report.chain is not None and report.chain.count == header.count
    assert counts == list(range(1, header.count + 1))
