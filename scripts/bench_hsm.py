#!/usr/bin/env python3
"""HSM benchmark: signatures per second through the adapter against a raw python-pkcs11 loop.

The adapter does more than the raw loop on purpose: it checks the key's
attributes before use, normalises secp256k1 to low-S and verifies every
signature with ``cryptography`` before releasing it. Both run in one process
on one SoftHSM token in a temporary directory, on the same digests.
Run: .venv/bin/python scripts/bench_hsm.py [--count N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

from appliance.hsm import softhsm
from appliance.hsm.pkcs11_signer import _SIGN_MECHANISM, Pkcs11Token, load_module
from appliance.hsm.uri import parse
from custody.schemas.key_record import Algorithm

MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=2000, help="signatures per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per cell (best is reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        conf = Path(folder) / "softhsm2.conf"
        (Path(folder) / "tokens").mkdir()
        conf.write_text(
            f"directories.tokendir = {folder}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
        )
        os.environ["SOFTHSM2_CONF"] = str(conf)
        softhsm.create_token("bench", so_pin="bench-so-pin", user_pin="bench-user-pin")
        load_module(MODULE).reinitialize()
        token = Pkcs11Token(parse(f"pkcs11:token=bench?module-path={MODULE}"))
        digests = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(args.count)]
        rows = []
        with token.session("bench-user-pin", rw=True) as session:
            for algorithm in Algorithm:
                key = session.generate_key(algorithm, f"bench-{algorithm.value}")
                private = session.check_key(key)
                mechanism = _SIGN_MECHANISM[algorithm]
                raw_times, batch_times, single_times = [], [], []
                for _ in range(args.rounds):
                    start = time.perf_counter()
                    for digest in digests:
                        private.sign(digest, mechanism=mechanism)
                    raw_times.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    session.sign_batch(key, digests)
                    batch_times.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    for digest in digests[: args.count // 4]:
                        session.sign(key, digest)
                    single_times.append((time.perf_counter() - start) * 4)
                raw, batch, single = min(raw_times), min(batch_times), min(single_times)
                rows.append(
                    (
                        algorithm.value,
                        rate(args.count, raw),
                        rate(args.count, batch),
                        f"{batch / raw:.2f}x",
                        rate(args.count, single),
                        f"{single / raw:.2f}x",
                    )
                )
    print(f"SoftHSM {MODULE}, {args.count} signatures per measurement, best of {args.rounds}\n")
    headers = [
        "algorithm",
        "raw sign/s",
        "adapter batch sign/s",
        "batch overhead",
        "adapter one-by-one sign/s",
        "one-by-one overhead",
    ]
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
