"""Real SoftHSM stations as Chia vault members: the ceremony signs a spend the Simulator accepts."""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

import pytest

from appliance.ceremony import Outcome
from custody.chains.chia.adapter import ChiaAdapter
from custody.chains.chia.assemble import assemble_bundle
from custody.chains.chia.build import choose_coins, payment_payload
from custody.chains.chia.payload import parse_payload
from custody.policy.engine import Code
from custody.schemas.key_record import Algorithm
from custody.schemas.request import SpendRequest, Withdraw
from custody.schemas.response import SignatureResponse
from custody.schemas.signatures import verify_signature
from tests.appliance.conftest import requires_softhsm
from tests.appliance.kit import HOUR, Clock, RecordingScreen, install, make_station
from tests.custody.chains.chia.kit import DEST, OTHER, XCH, ChainVault, mint_keys

pytestmark = [pytest.mark.hsm, requires_softhsm]
FEE = XCH // 10_000


def chia_request(
    cv: ChainVault, amount: int, now: int, *, to: str = DEST, declared: str = DEST
) -> SpendRequest:
    adapter = ChiaAdapter()
    coins = choose_coins(cv.coins(), amount + FEE)
    payload = payment_payload(
        cv.launcher_id, cv.current, coins, adapter.puzzle_hash_of(cv.definition, to), amount, FEE, None
    )
    return SpendRequest(
        request_id=secrets.token_bytes(16),
        vault_id=cv.definition.vault_id,
        policy_digest=cv.definition.digest(),
        created_at=now - 60,
        expires_at=now + 540,
        action=Withdraw(asset="TXCH", amount=amount, destination=declared),
        fee=FEE,
        payload=payload.to_bytes(),
    )


@pytest.mark.parametrize("algorithm", [Algorithm.P256, Algorithm.SECP256K1], ids=["r1", "k1"])
def test_three_softhsm_stations_sign_a_chia_withdrawal_the_chain_accepts(
    softhsm: Path, tmp_path: Path, algorithm: Algorithm
) -> None:
    clock = Clock()
    stations = [make_station(tmp_path, f"st-{n}", clock, algorithm=algorithm) for n in "abc"]
    cv = mint_keys(tuple(s.key() for s in stations), 2, now=clock())
    for s in stations:
        install(s, cv.definition)
    clock.advance(2 * HOUR)
    request = chia_request(cv, 30 * XCH, clock())
    message = ChiaAdapter().parse(cv.definition, request.payload).message
    signatures = {}
    for s in (stations[2], stations[0]):
        screen = RecordingScreen()
        answer = s.handle(request, screen)
        assert answer.outcome is Outcome.SIGNED, answer.text
        response = SignatureResponse.from_cbor(answer.ur.cbor)
        verify_signature(algorithm, s.record.public_key, message, response.chain_signature)
        signatures[response.key_id] = response.chain_signature
        for shown in ("pays", DEST, "30 TXCH", "chain message", "unchanged", "clawback"):
            assert shown in screen.text
    cv.sim.set_next_timestamp(clock())
    cv.sim.new_transaction(assemble_bundle(cv.definition, parse_payload(request.payload), signatures))
    assert cv.balance(ChiaAdapter().puzzle_hash_of(cv.definition, DEST)) == 30 * XCH


def test_a_spend_that_pays_someone_else_than_the_request_says_is_refused_before_any_card(
    softhsm: Path, tmp_path: Path
) -> None:
    clock = Clock()
    station = make_station(tmp_path, "st-a", clock)
    cv = mint_keys((station.key(),), 1, now=clock())
    install(station, cv.definition)
    clock.advance(2 * HOUR)
    swapped = chia_request(cv, 30 * XCH, clock(), to=OTHER, declared=DEST)
    screen = RecordingScreen()
    answer = station.handle(swapped, screen)
    assert answer.outcome is Outcome.REFUSED and answer.code == Code.PAYLOAD_MISMATCH.value
    assert OTHER in screen.text  # the review shows where the spend really pays
    assert not any(line.startswith("Custodians") for line in screen.lines)
    garbage = replace(swapped, payload=b"\x78\x9c\x03\x00")
    assert station.handle(garbage).code == Code.PAYLOAD_INVALID.value
    bare = replace(swapped, payload=b"")
    assert station.handle(bare).code == Code.PAYLOAD_INVALID.value
