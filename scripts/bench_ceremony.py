#!/usr/bin/env python3
"""Ceremony benchmark: station machine time for one request, from payload to rendered answer (scan excluded).

One SoftHSM station in a temporary directory, a policy installed and sealed,
then N plain withdrawals and N rekeys naming 12 keys (the largest action),
two hours apart, each carrying the vault's history as the host sends it
(the requests signed in the last day), through the whole ceremony: parse,
verify every history signature, decide,
review, card check, HSM login, log-versus-seal check, approval logged and
sealed, HSM signature verified, signature logged and sealed, and the answer
rendered as QR frames. Repeated with the log pre-filled, because every
session re-verifies the whole chain against the seal.
Run: .venv/bin/python scripts/bench_ceremony.py [--count N]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airgap.link_defaults import WEBCAM_MAX_FRAGMENT
from airgap.qr.render import animation_frames
from airgap.ur.ur import UR
from appliance.ceremony import Ceremony, Outcome
from appliance.hsm.pkcs11_signer import load_module
from custody.schemas.audit_log import make_entry
from custody.schemas.request import UR_TYPE, Rekey, Withdraw
from custody.schemas.response import SignatureResponse
from tests.appliance.kit import (
    ALLOWED,
    HOUR,
    XCH,
    Clock,
    RecordingScreen,
    install,
    make_station,
    vault_of,
)
from tests.custody.schemas.fixtures import SoftKey

MODULE = "/usr/lib/softhsm/libsofthsm2.so"


class RenderingScreen(RecordingScreen):
    """Renders each answer's QR frames in memory, as the station display would."""

    def show_answer(self, title: str, ur: UR) -> None:
        super().show_answer(title, ur)
        animation_frames(ur, WEBCAM_MAX_FRAGMENT, passes=1)


def prefill(db: Path, count: int, at: int) -> None:
    """``count`` unsealed scan entries appended in one transaction, as months of use would leave."""
    with sqlite3.connect(db) as conn:
        seq, prev = conn.execute("SELECT seq, hash FROM log ORDER BY seq DESC LIMIT 1").fetchone()
        rows = []
        for n in range(seq + 1, seq + count + 1):
            e = make_entry(n, at, "scan", {"bytes": 300, "request_digest": bytes(32)}, prev)
            rows.append((e.seq, e.at, e.kind, e.body, e.prev, e.hash, None, None))
            prev = e.hash
        conn.executemany("INSERT INTO log VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def measure(station, vault, clock: Clock, count: int, big: bool) -> tuple[list[float], int, int]:  # type: ignore[no-untyped-def]
    times, size, history = [], 0, 0
    keys = tuple(SoftKey(i, f"station-{i}").vault_key for i in range(12))
    for _ in range(count):
        clock.advance(2 * HOUR)
        action = (
            Rekey(keys=keys, threshold=7) if big else Withdraw(asset="XCH", amount=XCH, destination=ALLOWED)
        )
        request = station.request(vault, action, clock())  # with the vault's history, as the host sends it
        size, history = len(request.to_cbor()), len(request.history)
        ceremony = Ceremony(station.open(), screen=RenderingScreen(), cards=lambda _: station.cards())
        start = time.perf_counter()
        answer = ceremony.handle(UR(UR_TYPE, request.to_cbor()))
        times.append(time.perf_counter() - start)
        ceremony.station.close()
        assert answer.outcome is Outcome.SIGNED, answer.text
        station.ledger.add(request, SignatureResponse.from_cbor(answer.ur.cbor))
    return times, size, history


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10, help="ceremonies per row")
    parser.add_argument("--prefill", type=int, default=100_000, help="log entries for the last rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "tokens").mkdir()
        conf = root / "softhsm2.conf"
        conf.write_text(
            f"directories.tokendir = {root}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
        )
        os.environ["SOFTHSM2_CONF"] = str(conf)
        load_module(MODULE).reinitialize()
        clock = Clock()
        station = make_station(root, "bench", clock)
        vault = vault_of([station.key()], threshold=1, rekey_delay_seconds=60, window_count=32)
        install(station, vault)
        rows = []
        for label, big in (("withdraw", False), ("rekey, 12 keys", True)):
            times, size, history = measure(station, vault, clock, args.count, big)
            rows.append((label, size, history, "small", times))
        prefill(station.state / "audit.db", args.prefill, clock())
        for label, big in (("withdraw", False), ("rekey, 12 keys", True)):
            times, size, history = measure(station, vault, clock, args.count, big)
            rows.append((label, size, history, f"+{args.prefill:,} entries", times))
    print(f"{'request':<16} {'bytes':>6} {'history':>8} {'log':>18} {'median ms':>10} {'worst ms':>9}")
    for label, size, history, log, times in rows:
        median, worst = statistics.median(times) * 1000, max(times) * 1000
        print(f"{label:<16} {size:>6} {history:>8} {log:>18} {median:>10.1f} {worst:>9.1f}")


if __name__ == "__main__":
    main()
