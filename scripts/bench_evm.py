#!/usr/bin/env python3
"""EVM benchmark: the station's decode and decision for a SafeTx, the host's assembly and judge, QR frames.

Station: the SafeTx parsed, every call decoded, the facts derived and the
policy decided (``parse`` + ``decide``), and a signature's v recovered and
checked as the station does before release. HSM signing is timed by
scripts/bench_ceremony.py (the same secp256k1 mechanism, 32-byte digests).
Host: ``execTransaction`` assembly from 3 signatures (v recovered per owner)
and the offline judge (hash, recovery, owners, order, low-S, threshold).
Link: request bytes and QR frames at the default density, for one transfer
and for a MultiSend of 10 token transfers.
Run: .venv/bin/python scripts/bench_evm.py [--count N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airgap.link_defaults import DEFAULT_MAX_FRAGMENT
from airgap.ur.ur import UR, parts_for_message
from custody.chains.evm.adapter import EvmAdapter
from custody.chains.evm.build import batch, transfer, transfer_call
from custody.chains.evm.facts import parse
from custody.chains.evm.safe_tx import SafeTx
from custody.policy.engine import decide
from custody.policy.vault_state import VaultState
from custody.schemas.request import UR_TYPE, SpendRequest, Withdraw
from host.evm.embedded import EmbeddedEvm
from tests.custody.chains.evm.kit import (
    DEST,
    ETH,
    T0,
    TST,
    SafeVault,
    addr,
    make_vault,
    request_for,
    signatures,
)


def timed(fn: Callable[[], object], count: int) -> tuple[float, float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def cases(sv: SafeVault) -> list[tuple[str, SafeTx, SpendRequest]]:
    b = sv.binding
    eth = transfer(b, 0, "ETH", addr(DEST), ETH)
    tst = transfer(b, 0, "TST", addr(DEST), 10 * TST)
    ten = batch(b, 0, [transfer_call(b.tokens[0].address, addr(DEST), TST) for _ in range(10)])
    out = []
    for name, tx, action in (
        ("ETH transfer", eth, Withdraw(asset="ETH", amount=ETH, destination=DEST)),
        ("ERC-20 transfer", tst, Withdraw(asset="TST", amount=10 * TST, destination=DEST)),
        ("MultiSend of 10", ten, Withdraw(asset="TST", amount=TST, destination=DEST)),
    ):
        out.append((name, tx, request_for(sv, tx, action, seed=name)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    count = parser.parse_args().count
    evm = EmbeddedEvm()
    sv = make_vault(evm, 5, 3, salt=1)
    state = VaultState(vault_id="safe", installed_at=T0 - 86400)
    adapter = EvmAdapter()
    print(f"EVM benchmark: 3-of-5 Safe 1.4.1 in the embedded EVM, median / worst of {count} (ms)")
    print(f"{'case':<16} {'parse':>12} {'parse+decide':>14} {'v check':>10} {'assemble':>12} {'judge':>12}")
    link = []
    key = sv.definition.keys[0]
    for name, tx, request in cases(sv):
        facts = parse(sv.definition, request.payload)
        sigs = signatures(sv, tx, (0, 1, 2))
        calldata = adapter.assemble(sv.definition, request, sigs)

        def station(r: SpendRequest = request) -> object:
            return decide(sv.definition, state, r, T0, parse(sv.definition, r.payload))

        columns = [
            timed(partial(parse, sv.definition, request.payload), count),
            timed(station, count),
            timed(partial(adapter.check_signature, facts, key.public_key, sigs[key.key_id]), count),
            timed(partial(adapter.assemble, sv.definition, request, sigs), count),
            timed(partial(adapter.judge, sv.definition, request, calldata, T0), count),
        ]
        print(f"{name:<16} " + " ".join(f"{m:>6.2f}/{w:<6.2f}" for m, w in columns))
        frames = len(parts_for_message(UR(UR_TYPE, request.to_cbor()), DEFAULT_MAX_FRAGMENT))
        link.append((name, len(request.payload), len(request.to_cbor()), frames))
    print(f"\nlink: QR frames per request at the default density ({DEFAULT_MAX_FRAGMENT} B per frame)")
    print(f"{'case':<16} {'payload B':>9} {'request B':>9} {'frames':>6}")
    for name, payload, size, frames in link:
        print(f"{name:<16} {payload:>9} {size:>9} {frames:>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
