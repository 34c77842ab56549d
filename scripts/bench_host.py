#!/usr/bin/env python3
"""Host benchmark: verifying a signed bundle, and auditing a station log of a million entries.

Bundle: a 3-of-5 and a 12-of-32 P-256 vault; each measurement parses the
bundle bytes and runs ``check_bundle`` (what ``host verify`` does after
reading two files), plus one ``host verify`` run as a process for the wall
time a third party sees.

Audit: an export of N entries (default 1,000,000) in the appliance's format,
one approval and signature pair per thousand entries, written to a file and
then read back through ``host audit``'s check (chain recomputed, signatures
opened, matched and verified, earlier heads compared), and once through the
``host audit`` command against a registry that built the requests.
Run: .venv/bin/python scripts/bench_host.py [--entries N]
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custody.schemas.audit_log import (
    GENESIS,
    HeadSignature,
    SignedHead,
    make_entry,
    read_export,
    write_entries,
    write_export,
)
from custody.schemas.bundle import SignedBundle, check_bundle
from custody.schemas.key_record import KeyRecord
from custody.schemas.request import SpendRequest
from host.audit_check import Known, audit_export
from host.cli import main as host_main
from host.registry import Registry
from tests.custody.schemas.fixtures import T0, SoftKey, request, vault


def bench_bundle(n_keys: int, threshold: int, rounds: int) -> tuple[int, float, float]:
    keys = [SoftKey(i, f"station-{i}") for i in range(1, n_keys + 1)]
    v = vault(threshold=threshold, keys=keys)
    r = request(v)
    data = SignedBundle(request=r, responses=tuple(k.respond(r) for k in keys[:threshold])).to_cbor()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        assert not check_bundle(v, SignedBundle.from_cbor(data), now=T0)
        times.append(time.perf_counter() - start)
    return len(data), statistics.median(times) * 1000, max(times) * 1000


def verify_process(tmp: Path) -> float:
    keys = [SoftKey(i, f"station-{i}") for i in range(1, 6)]
    v = vault(threshold=3, keys=keys)
    r = request(v)
    (tmp / "vault.cbor").write_bytes(v.to_cbor())
    bundle = SignedBundle(request=r, responses=tuple(k.respond(r) for k in keys[:3]))
    (tmp / "bundle.cbor").write_bytes(bundle.to_cbor())
    argv = [
        sys.executable,
        "-m",
        "host.cli",
        "verify",
        "--vault",
        str(tmp / "vault.cbor"),
        "--bundle",
        str(tmp / "bundle.cbor"),
        "--at",
        str(T0),
    ]
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def write_log(path: Path, entries: int, station: SoftKey, requests: list[SpendRequest]) -> None:
    """A station's export: scans, with an approve + signature pair every thousand entries. Streamed:
    the entries go to a side file, then the header (which needs the head) and the entries are joined."""
    body = path.with_suffix(".entries")
    prev, k = GENESIS, 0
    with open(body, "wb") as out:
        for seq in range(1, entries + 1):
            kind, fields = "scan", {"ur_type": "x-spend-request", "bytes": 268}
            if k < len(requests) and seq % 1000 in (999, 0):
                req = requests[k]
                if seq % 1000 == 999:
                    kind, fields = (
                        "approve",
                        {"request": req.core().to_cbor(), "request_digest": req.digest()},
                    )
                else:
                    resp = station.respond(req, audit_seq=seq - 1, log_head=prev, approved_at=T0 + seq - 1)
                    kind, fields = "signature", {"request_digest": req.digest(), "response": resp.to_cbor()}
                    k += 1
            e = make_entry(seq, T0 + seq, kind, fields, prev)
            write_entries(out, [e])
            prev = e.hash
    header = io.BytesIO()
    head = SignedHead(station=station.station, count=entries, head=prev, at=T0 + entries)
    signature = HeadSignature(
        key_id=station.vault_key.key_id, signature=station.sign(head.statement_digest())
    )
    write_export(header, replace(head, signatures=(signature,)), [])
    with open(path, "wb") as out, open(body, "rb") as src:
        out.write(header.getvalue())
        while chunk := src.read(1 << 20):
            out.write(chunk)
    body.unlink()


def record_of(key: SoftKey) -> KeyRecord:
    vk = key.vault_key
    return KeyRecord(
        algorithm=vk.algorithm,
        public_key=vk.public_key,
        key_id=vk.key_id,
        token_serial="sn",
        label="cold",
        station=key.station,
        created_at=T0,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    print("## Bundle verification\n")
    print("| vault | bundle | median | worst |")
    print("|---|---|---|---|")
    for n, m in ((5, 3), (32, 12)):
        size, median, worst = bench_bundle(n, m, args.rounds)
        print(f"| {m}-of-{n} P-256 | {size} B | {median:.2f} ms | {worst:.2f} ms |")
    with tempfile.TemporaryDirectory() as tmp:
        print(f"\n`host verify` as a process (interpreter start included): {verify_process(Path(tmp)):.2f} s")

    print(f"\n## Audit of {args.entries:,} entries\n")
    station = SoftKey(2, "station-2")
    v = vault()
    requests = [request(v, request_id=i.to_bytes(16, "big")) for i in range(args.entries // 1000)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "station-2.audit"
        start = time.perf_counter()
        write_log(path, args.entries, station, requests)
        made = time.perf_counter() - start
        by_digest = {r.digest(): r for r in requests}
        start = time.perf_counter()
        with open(path, "rb") as stream:
            header, entries = read_export(stream)
            keys = {station.vault_key.key_id: (station.vault_key.algorithm, station.public)}
            known = Known(by_digest.get, keys, {}, {}, lambda _: v.rules, T0 + args.entries)
            report = audit_export(header, entries, known)
        checked = time.perf_counter() - start
        assert report.ok and report.matched == len(requests), report.findings[:3]

        with Registry(folder / "registry.db") as reg:
            reg.add_station(record_of(station), T0)
            reg.add_vault(v, T0)
            for r in requests:
                reg.add_request(r, 1)
        start = time.perf_counter()
        code = host_main(
            ["audit", str(path), f"--registry={folder / 'registry.db'}"],
            out=io.StringIO(),
            clock=lambda: T0 + args.entries,
        )
        command = time.perf_counter() - start
        assert code == 0
        size = path.stat().st_size
    print("| step | entries | export | time |")
    print("|---|---|---|---|")
    print(
        f"| check (chain, {len(requests)} signatures matched and verified) | {args.entries:,} | "
        f"{size / 1e6:.0f} MB | {checked:.2f} s |"
    )
    print(
        f"| `host audit` command (registry lookups, import recorded) | {args.entries:,} | "
        f"{size / 1e6:.0f} MB | {command:.2f} s |"
    )
    print(f"\n(writing the export took {made:.1f} s; not part of the audit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
