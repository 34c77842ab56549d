#!/usr/bin/env python3
"""Chia benchmark: the station's time for a Chia spend, the host's build and assembly, and QR frames.

Station: one SoftHSM station per curve (P-256 as an r1 member, secp256k1 as
a k1 member) holding a 1-of-1 Chia vault on the SDK's Simulator, funded with
20 coins. Each row times ``Ceremony.handle`` on a withdrawal spending 1 or 20
of them, scan excluded: the request parsed, the payload inflated and parsed,
the facts derived with the SDK's ``parse_vault_transaction``, the history's
signatures verified, the policy decided, the review drawn, the cards checked,
the approval logged and sealed, the chain message and the statement signed in
the HSM and verified, the signature logged and sealed, the answer rendered as
QR. The same rows break out the chain parse and the decision alone.

Host: building the unsigned spend (coin selection and payload), assembling
the spend bundle from the stations' chain signatures, and the offline judge.
Link: request bytes and QR frames at the default density.
Run: .venv/bin/python scripts/bench_chia.py [--count N]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airgap.link_defaults import DEFAULT_MAX_FRAGMENT, WEBCAM_MAX_FRAGMENT
from airgap.qr.render import animation_frames
from airgap.ur.ur import UR, parts_for_message
from appliance.cards import PresentedCard
from appliance.ceremony import Ceremony, Outcome
from appliance.hsm.pkcs11_signer import load_module
from custody.chains.chia.adapter import ChiaAdapter
from custody.chains.chia.assemble import assemble_bundle, judge_bundle
from custody.chains.chia.build import choose_coins, payment_payload
from custody.chains.chia.payload import parse_payload
from custody.policy.engine import Approve, decide
from custody.schemas.key_record import Algorithm
from custody.schemas.request import UR_TYPE, SpendRequest, Withdraw
from custody.schemas.response import SignatureResponse
from tests.appliance.kit import HOUR, Clock, RecordingScreen, SimStation, install, make_station
from tests.custody.chains.chia.kit import DEST, XCH, ChainVault, mint_keys

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
COINS = 20
FEE = XCH // 10_000


class RenderingScreen(RecordingScreen):
    """Renders each answer's QR frames in memory, as the station display would."""

    def show_answer(self, title: str, ur: UR) -> None:
        super().show_answer(title, ur)
        animation_frames(ur, WEBCAM_MAX_FRAGMENT, passes=1)


def build(cv: ChainVault, coins: int, now: int, history: tuple) -> tuple[SpendRequest, float]:  # type: ignore[type-arg]
    """A withdrawal spending ``coins`` of the vault's coins; and the host's time to build its payload."""
    amount = 4 * XCH if coins == 1 else ((coins - 1) * 5 + 1) * XCH  # needs exactly ``coins`` coins
    start = time.perf_counter()
    chosen = choose_coins(cv.coins(), amount + FEE)
    payload = payment_payload(
        cv.launcher_id, cv.current, chosen, ChiaAdapter.puzzle_hash_of(cv.definition, DEST), amount, FEE, None
    ).to_bytes()
    built = time.perf_counter() - start
    assert len(chosen) == coins, f"{len(chosen)} coins chosen, {coins} wanted"
    request = SpendRequest(
        request_id=secrets.token_bytes(16),
        vault_id=cv.definition.vault_id,
        policy_digest=cv.definition.digest(),
        created_at=now - 60,
        expires_at=now + 540,
        action=Withdraw(asset="TXCH", amount=amount, destination=DEST),
        fee=FEE,
        payload=payload,
        history=history,
    )
    return request, built


def presenter(station: SimStation) -> Callable[[int], list[PresentedCard]]:
    """The custodians' cards, as the ceremony asks for them."""
    cards = station.cards()
    return lambda _: cards


def timed(fn: Callable[[], object], count: int) -> tuple[float, float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:>8.1f} {max(values) * 1000:>8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10, help="ceremonies per row")
    args = parser.parse_args()
    station_rows, host_rows, link_rows = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "tokens").mkdir()
        conf = root / "softhsm2.conf"
        conf.write_text(
            f"directories.tokendir = {root}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
        )
        os.environ["SOFTHSM2_CONF"] = str(conf)
        load_module(MODULE).reinitialize()
        for algorithm, member in ((Algorithm.P256, "r1"), (Algorithm.SECP256K1, "k1")):
            clock = Clock()
            station = make_station(root, f"bench-{member}", clock, algorithm=algorithm)
            cv = mint_keys(
                (station.key(),),
                1,
                tuple(5 * XCH + i for i in range(COINS)),  # distinct: the chain refuses twin outputs
                now=clock(),
                max_per_spend=200 * XCH,
                window_max=10**6 * XCH,
                window_count=32,
                cooldown_seconds=0,
            )
            install(station, cv.definition)
            for coins in (1, COINS):
                handle, parse, decision, builds, assembles, judges = [], [], [], [], [], []
                request = None
                for _ in range(args.count):
                    clock.advance(2 * HOUR)
                    request, built = build(cv, coins, clock(), station.ledger.history())
                    builds.append(built)
                    start = time.perf_counter()
                    facts = ChiaAdapter().parse(cv.definition, request.payload)
                    parse.append(time.perf_counter() - start)
                    opened = station.open()
                    state = opened.vault_state(cv.definition.vault_id)
                    opened.close()
                    start = time.perf_counter()
                    assert isinstance(decide(cv.definition, state, request, clock(), facts), Approve)
                    decision.append(time.perf_counter() - start)
                    ceremony = Ceremony(station.open(), screen=RenderingScreen(), cards=presenter(station))
                    start = time.perf_counter()
                    answer = ceremony.handle(UR(UR_TYPE, request.to_cbor()))
                    handle.append(time.perf_counter() - start)
                    ceremony.station.close()
                    assert answer.outcome is Outcome.SIGNED, answer.text
                    response = SignatureResponse.from_cbor(answer.ur.cbor)
                    station.ledger.add(request, response)
                    start = time.perf_counter()
                    bundle = assemble_bundle(
                        cv.definition,
                        parse_payload(request.payload),
                        {response.key_id: response.chain_signature},
                    )
                    assembles.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    assert judge_bundle(bundle, clock()) == []
                    judges.append(time.perf_counter() - start)
                assert request is not None
                station_rows.append(
                    (member, coins, len(request.to_cbor()), len(request.history), handle, parse, decision)
                )
                host_rows.append((member, coins, builds, assembles, judges))
            if member == "r1":
                for coins in (1, 5, COINS):
                    fresh, _ = build(cv, coins, clock(), ())  # a vault's first request: no history
                    for carried in ((), station.ledger.history()[-1:]):
                        request = replace(fresh, history=carried)
                        ur = UR(UR_TYPE, request.to_cbor())
                        frames = len(parts_for_message(ur, DEFAULT_MAX_FRAGMENT))
                        link_rows.append(
                            (coins, len(request.payload), len(request.to_cbor()), len(carried), frames)
                        )
    print("station: Ceremony.handle, scan excluded (median / worst ms)")
    head = f"{'member':<7} {'coins':>5} {'bytes':>6} {'history':>7} {'handle med':>10} {'worst':>8}"
    print(f"{head} {'parse':>8} {'':>8} {'decide':>8} {'':>8}")
    for member, coins, size, history, handle, parse, decision in station_rows:
        print(f"{member:<7} {coins:>5} {size:>6} {history:>7}   {ms(handle)} {ms(parse)} {ms(decision)}")
    print("\nhost (median / worst ms)")
    print(f"{'member':<7} {'coins':>5} {'build':>8} {'':>8} {'assemble':>8} {'':>8} {'judge':>8} {'':>8}")
    for member, coins, builds, assembles, judges in host_rows:
        print(f"{member:<7} {coins:>5} {ms(builds)} {ms(assembles)} {ms(judges)}")
    print(f"\nlink: QR frames per request at the default density ({DEFAULT_MAX_FRAGMENT} B per frame)")
    print(f"{'coins':>5} {'payload B':>9} {'request B':>9} {'history':>7} {'frames':>6}")
    for coins, payload, size, history, frames in link_rows:
        print(f"{coins:>5} {payload:>9} {size:>9} {history:>7} {frames:>6}")


if __name__ == "__main__":
    main()
