#!/usr/bin/env python3
"""Ceremony benchmark: station machine time for one request, from payload to rendered answer (scan excluded),
and how it grows with the audit log.

One SoftHSM station in a temporary directory, a policy installed and sealed,
then plain withdrawals and rekeys naming 12 keys (the largest action), two
hours apart, each carrying the vault's history as the host sends it (the
requests signed in the last day), through the whole ceremony: parse, verify
every history signature, decide, review, card check, HSM login, the log
checked against the seal (the sealed checkpoint and the entries after it),
approval logged and sealed, HSM signature verified, signature logged and
sealed, a new checkpoint sealed, and the answer rendered as QR frames.

For each size in ``--sizes``, a station of its own signs a day of requests,
then its log is grown to that size with unsealed entries, as months of scans
and refusals leave them. The first session after the growth verifies those
entries once and seals a checkpoint after them (its time is shown apart);
the next ``--count`` of each kind are the steady state. Every row's station
holds the same approvals, so the rows differ only in the log's length.
Run: .venv/bin/python scripts/bench_ceremony.py [--count N] [--sizes 0,10000,100000,1000000]
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
from custody.policy.vault_state import action_lookback, spend_lookback
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


def prefill(db: Path, total: int, at: int) -> None:
    """Unsealed scan entries appended until the log holds ``total`` entries."""
    with sqlite3.connect(db) as conn:
        seq, prev = conn.execute("SELECT seq, hash FROM log ORDER BY seq DESC LIMIT 1").fetchone()
        for start in range(seq + 1, total + 1, 100_000):
            rows = []
            for n in range(start, min(start + 100_000, total + 1)):
                e = make_entry(n, at, "scan", {"bytes": 300, "request_digest": bytes(32)}, prev)
                rows.append((e.seq, e.at, e.kind, e.body, e.prev, e.hash, None, None))
                prev = e.hash
            conn.executemany("INSERT INTO log VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def measure(station, vault, clock: Clock, count: int, big: bool) -> tuple[list[float], int, int]:  # type: ignore[no-untyped-def]
    times, size, history = [], 0, 0
    keys = tuple(SoftKey(i, f"station-{i}").vault_key for i in range(12))
    lookback = max(spend_lookback(vault.rules), action_lookback(vault.rules))
    for _ in range(count):
        clock.advance(2 * HOUR)
        # The host sends the history the rules look back on, not every request ever signed.
        ledger = station.ledger.signed
        for digest in [d for d, (r, _) in ledger.items() if r.created_at < clock() - lookback]:
            del ledger[digest]
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


def log_length(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        length: int = conn.execute("SELECT max(seq) FROM log").fetchone()[0]
        return length


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10, help="ceremonies of each kind per log size")
    parser.add_argument("--sizes", default="0,10000,100000,1000000", help="log lengths (0: as it comes)")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "tokens").mkdir()
        conf = root / "softhsm2.conf"
        conf.write_text(
            f"directories.tokendir = {root}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
        )
        os.environ["SOFTHSM2_CONF"] = str(conf)
        load_module(MODULE).reinitialize()
        rows = []
        for n, size in enumerate(sizes):
            # A station of its own per size, with the same signings, so only the log's length differs.
            clock = Clock()
            station = make_station(root, f"bench-{n}", clock)
            vault = vault_of([station.key()], threshold=1, rekey_delay_seconds=60, window_count=32)
            install(station, vault)
            db = station.state / "audit.db"
            measure(station, vault, clock, 13, False)  # a day of signings: the history stops growing
            prefill(db, size, clock())
            length = log_length(db)
            first, _, _ = measure(station, vault, clock, 1, False)  # verifies the new entries once
            plain, size_w, history_w = measure(station, vault, clock, args.count, False)
            big, size_r, history_r = measure(station, vault, clock, args.count, True)
            rows.append((length, first[0], plain, big, size_w, history_w, size_r, history_r))
    fresh = statistics.median(rows[0][2])
    print(
        f"{'log entries':>12} {'first session':>14} {'withdraw median':>16} {'worst':>7} "
        f"{'rekey median':>13} {'worst':>7} {'withdraw / smallest':>20}"
    )
    for length, first_s, plain, big, *_ in rows:
        print(
            f"{length:>12,} {first_s * 1000:>11.0f} ms {statistics.median(plain) * 1000:>13.1f} ms "
            f"{max(plain) * 1000:>7.1f} {statistics.median(big) * 1000:>10.1f} ms {max(big) * 1000:>7.1f} "
            f"{statistics.median(plain) / fresh:>19.2f}x"
        )
    *_, size_w, history_w, size_r, history_r = rows[-1]
    print(
        f"requests: withdraw {size_w:,} B with {history_w} history entries; "
        f"rekey {size_r:,} B with {history_r}; {args.count} of each per row"
    )


if __name__ == "__main__":
    main()
