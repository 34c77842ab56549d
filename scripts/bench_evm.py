#!/usr/bin/env python3
"""EVM benchmark: the station's decode and decision for a SafeTx, the host's assembly and judge, QR frames.

Station: the SafeTx parsed, every call decoded, the facts derived and the
policy decided (``parse`` + ``decide``), and a signature's v recovered and
checked as the station does before release; then the whole ``Ceremony.handle``
at a SoftHSM secp256k1 station (decode, decide, review, cards, HSM login and
signing, v check, log and seal), for the station's own envelope and for an
ERC-4527 eth-sign-request.
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
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_chia import timed

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


def ceremonies(count: int) -> list[tuple[str, float, float]]:
    """``Ceremony.handle`` at a SoftHSM secp256k1 station, sole owner of a Safe: (envelope, median, worst)."""
    import os
    import tempfile

    from bench_chia import MODULE, RenderingScreen, presenter

    from appliance.ceremony import Ceremony, Outcome
    from appliance.hsm.pkcs11_signer import load_module
    from custody.chains.evm.erc4527 import (
        SIGN_REQUEST_UR_TYPE,
        EthSignRequest,
        encode_sign_request,
        typed_data_json,
    )
    from custody.schemas.key_record import Algorithm
    from custody.schemas.response import SignatureResponse
    from tests.appliance.kit import HOUR, Clock, install, make_station
    from tests.custody.chains.evm.kit import safe_for

    rows = []
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
        station = make_station(root, "bench-k1", clock, algorithm=Algorithm.SECP256K1)
        evm = EmbeddedEvm()
        definition = safe_for(evm, (station.key(),), 1, salt=9, window_count=32)
        sv = SafeVault(evm, definition, [])
        install(station, definition)
        nonce = 0
        for envelope in ("own envelope", "eth-sign-request"):
            samples = []
            for _ in range(count):
                clock.advance(4 * HOUR)  # at most 6 a day: within the window's count
                tx = transfer(sv.binding, nonce, "ETH", addr(DEST), ETH // 100)
                if envelope == "own envelope":
                    action = Withdraw(asset="ETH", amount=ETH // 100, destination=DEST)
                    history = station.ledger.history()
                    request = request_for(sv, tx, action, seed=f"c{nonce}", now=clock(), history=history)
                    ur = UR(UR_TYPE, request.to_cbor())
                else:
                    wire = EthSignRequest(
                        nonce.to_bytes(16, "big"), typed_data_json(tx), 2, None, "", b"", ""
                    )
                    ur = UR(SIGN_REQUEST_UR_TYPE, encode_sign_request(wire))
                ceremony = Ceremony(station.open(), screen=RenderingScreen(), cards=presenter(station))
                start = time.perf_counter()
                answer = ceremony.handle(ur)
                samples.append((time.perf_counter() - start) * 1000)
                ceremony.station.close()
                assert answer.outcome is Outcome.SIGNED, answer.text
                if envelope == "own envelope":
                    station.ledger.add(request, SignatureResponse.from_cbor(answer.ur.cbor))
                nonce += 1
            rows.append((envelope, statistics.median(samples), max(samples)))
    return rows


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
    print(
        f"\nstation: Ceremony.handle, ETH transfer, SoftHSM secp256k1 station, {max(3, count // 5)} runs (ms)"
    )
    print(f"{'envelope':<18} {'median':>8} {'worst':>8}")
    for envelope, median, worst in ceremonies(max(3, count // 5)):
        print(f"{envelope:<18} {median:>8.1f} {worst:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
