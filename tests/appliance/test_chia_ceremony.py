"""Real SoftHSM stations as Chia vault members: the ceremony signs a spend the Simulator accepts."""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

import pytest
from chia_wallet_sdk import SpendBundle

from appliance.ceremony import Outcome
from custody.chains.base import ChainError
from custody.chains.chia.adapter import ChiaAdapter
from custody.chains.chia.assemble import assemble_bundle, judge_bundle
from custody.chains.chia.build import choose_coins, payment_payload
from custody.chains.chia.payload import parse_payload
from custody.policy.engine import Code
from custody.schemas.history import HistoryEntry
from custody.schemas.key_record import Algorithm
from custody.schemas.request import SpendRequest, Withdraw
from custody.schemas.response import SignatureResponse
from custody.schemas.signatures import verify_signature
from tests.appliance.conftest import requires_softhsm
from tests.appliance.kit import HOUR, Clock, Ledger, RecordingScreen, SimStation, install, make_station
from tests.custody.chains.chia.kit import (
    DEST,
    OTHER,
    XCH,
    ChainVault,
    fake_change_payload,
    leaky_payload,
    mint_keys,
)

pytestmark = [pytest.mark.hsm, requires_softhsm]
FEE = XCH // 10_000


def chia_request(
    cv: ChainVault,
    amount: int,
    now: int,
    *,
    to: str = DEST,
    declared: str = DEST,
    fee: int = FEE,
    history: tuple[HistoryEntry, ...] = (),
) -> SpendRequest:
    adapter = ChiaAdapter()
    coins = choose_coins(cv.coins(), amount + fee)
    payload = payment_payload(
        cv.launcher_id, cv.current, coins, adapter.puzzle_hash_of(cv.definition, to), amount, fee, None
    )
    return SpendRequest(
        request_id=secrets.token_bytes(16),
        vault_id=cv.definition.vault_id,
        policy_digest=cv.definition.digest(),
        created_at=now - 60,
        expires_at=now + 540,
        action=Withdraw(asset="TXCH", amount=amount, destination=declared),
        fee=fee,
        payload=payload.to_bytes(),
        history=history,
    )


@pytest.mark.parametrize("algorithm", [Algorithm.P256, Algorithm.SECP256K1], ids=["r1", "k1"])
def test_three_softhsm_stations_sign_a_chia_withdrawal_the_chain_accepts(
    softhsm: Path, tmp_path: Path, algorithm: Algorithm
) -> None:
    """2 of 3 sign (the 3-of-5 happy path is the attack test's last step)."""
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


def _signed(stations: list[SimStation], request: SpendRequest) -> dict[bytes, bytes]:
    signatures = {}
    for s in stations:
        answer = s.handle(request)
        assert answer.outcome is Outcome.SIGNED, answer.text
        response = SignatureResponse.from_cbor(answer.ur.cbor)
        signatures[response.key_id] = response.chain_signature
    return signatures


def _rejected(cv: ChainVault, bundle: SpendBundle, reason: str | None = None) -> None:
    if reason is None:  # a bundle whose own puzzles fail: the offline judge sees it too
        assert judge_bundle(bundle, cv.sim.next_timestamp())
    with pytest.raises(ValueError, match=reason):
        cv.sim.new_transaction(bundle)


@pytest.mark.parametrize("algorithm", [Algorithm.P256, Algorithm.SECP256K1], ids=["r1", "k1"])
def test_attacks_on_a_three_of_five_softhsm_vault_are_refused_by_stations_or_rejected_by_the_chain(
    softhsm: Path, tmp_path: Path, algorithm: Algorithm
) -> None:
    clock, ledger = Clock(), Ledger()
    stations = [make_station(tmp_path, f"st-{n}", clock, algorithm=algorithm, ledger=ledger) for n in "abcde"]
    cv = mint_keys(tuple(s.key() for s in stations), 3, (30 * XCH, 25 * XCH, 45 * XCH), now=clock())
    for s in stations:
        install(s, cv.definition)
    clock.advance(2 * HOUR)
    cv.sim.set_next_timestamp(clock())
    dest = ChiaAdapter().puzzle_hash_of(cv.definition, DEST)
    # the station refuses before any card: a fee above the cap, unaccounted mojos, fake change
    base = chia_request(cv, 10 * XCH, clock())
    for bad, code in (
        (chia_request(cv, 10 * XCH, clock(), fee=XCH // 100), Code.FEE),
        (replace(base, fee=0, payload=leaky_payload(cv, 10 * XCH, dest)), Code.UNACCOUNTED),
        (replace(base, payload=fake_change_payload(cv, 10 * XCH, FEE, dest)), Code.PAYLOAD_MISMATCH),
    ):
        answer = stations[0].handle(bad)
        assert answer.outcome is Outcome.REFUSED and answer.code == code.value, answer.text
    request = chia_request(cv, 10 * XCH, clock(), history=ledger.history())
    signatures = _signed(stations[2:], request)
    payload = parse_payload(request.payload)
    too_few = dict(list(signatures.items())[:2])
    with pytest.raises(ChainError, match="2 chain signature"):
        assemble_bundle(cv.definition, payload, too_few)
    first = next(iter(signatures))
    flipped = {
        **signatures,
        first: signatures[first][:40] + bytes([signatures[first][40] ^ 1]) + signatures[first][41:],
    }
    _rejected(cv, assemble_bundle(cv.definition, payload, flipped))
    coins = [s.coin.coin() for s in payload.spends]
    for to, amount in ((ChiaAdapter().puzzle_hash_of(cv.definition, OTHER), 10 * XCH), (dest, 20 * XCH)):
        swapped = payment_payload(cv.launcher_id, cv.current, coins, to, amount, FEE, None)
        _rejected(cv, assemble_bundle(cv.definition, swapped, signatures))
    genuine = assemble_bundle(cv.definition, payload, signatures)
    cv.sim.new_transaction(genuine)
    assert cv.balance(dest) == 10 * XCH
    _rejected(cv, genuine, "DoubleSpend")  # the replay
    cv.advance()
    again = payment_payload(
        cv.launcher_id, cv.current, choose_coins(cv.coins(), 10 * XCH + FEE), dest, 10 * XCH, FEE, None
    )
    _rejected(cv, assemble_bundle(cv.definition, again, signatures))  # old signatures, the next vault coin
