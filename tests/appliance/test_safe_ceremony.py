"""Real SoftHSM stations as Safe owners: the ceremony signs a SafeTx the real Safe contract executes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from appliance.ceremony import Outcome
from custody.chains.evm.adapter import EvmAdapter
from custody.chains.evm.build import safe_tx, transfer
from custody.chains.evm.safe_tx import parse_payload
from custody.errors import SchemaError
from custody.policy.engine import Code
from custody.schemas.key_record import Algorithm
from custody.schemas.request import Withdraw
from custody.schemas.response import SignatureResponse
from host.evm.embedded import EmbeddedEvm
from tests.appliance.conftest import requires_softhsm
from tests.appliance.kit import HOUR, Clock, RecordingScreen, install, make_station
from tests.custody.chains.evm.kit import DEST, ETH, OTHER, SafeVault, addr, keys, request_for, safe_for

pytestmark = [pytest.mark.hsm, requires_softhsm]


def test_three_softhsm_stations_of_five_sign_an_eth_transfer_the_safe_executes(
    softhsm: Path, tmp_path: Path
) -> None:
    clock = Clock()
    stations = [make_station(tmp_path, f"st-{n}", clock, algorithm=Algorithm.SECP256K1) for n in "abcde"]
    evm = EmbeddedEvm()
    definition = safe_for(evm, tuple(s.key() for s in stations), 3, salt=21)
    sv = SafeVault(evm, definition, [])
    for s in stations:
        install(s, definition)
    clock.advance(2 * HOUR)
    tx = transfer(sv.binding, 0, "ETH", addr(DEST), 3 * ETH)
    request = request_for(
        sv, tx, Withdraw(asset="ETH", amount=3 * ETH, destination=DEST), seed="hsm", now=clock()
    )
    signatures = {}
    for s in (stations[4], stations[1], stations[2]):
        screen = RecordingScreen()
        answer = s.handle(request, screen)
        assert answer.outcome is Outcome.SIGNED, answer.text
        response = SignatureResponse.from_cbor(answer.ur.cbor)
        signatures[response.key_id] = response.chain_signature
        for shown in ("embedded EVM", "3 ETH", DEST, "safeTxHash", tx.safe_tx_hash().hex(), "gas refund"):
            assert shown in screen.text
    before = evm.balance(DEST)
    calldata = EvmAdapter().assemble(definition, request, signatures)
    assert EvmAdapter().judge(definition, request, calldata, clock()) == []
    evm.execute(sv.safe, calldata)
    assert evm.balance(DEST) - before == 3 * ETH
    assert parse_payload(request.payload).nonce == 0


def test_the_bybit_delegatecall_is_refused_on_screen_before_any_card(softhsm: Path, tmp_path: Path) -> None:
    clock = Clock()
    station = make_station(tmp_path, "st-a", clock, algorithm=Algorithm.SECP256K1)
    evm = EmbeddedEvm()
    definition = safe_for(evm, (station.key(),), 1, salt=22)
    sv = SafeVault(evm, definition, [])
    install(station, definition)
    clock.advance(2 * HOUR)
    tx = safe_tx(sv.binding, 0, addr(OTHER), 0, bytes(12) + addr(OTHER), operation=1)
    request = request_for(
        sv, tx, Withdraw(asset="ETH", amount=ETH, destination=DEST), seed="bybit", now=clock()
    )
    screen = RecordingScreen()
    answer = station.handle(request, screen)
    assert answer.outcome is Outcome.REFUSED and answer.code == Code.DELEGATECALL.value
    assert "DELEGATECALL" in screen.text and OTHER in screen.text
    assert not any(line.startswith("Custodians") for line in screen.lines)


def test_a_p256_station_key_cannot_own_a_safe(softhsm: Path, tmp_path: Path) -> None:
    station = make_station(tmp_path, "st-r1", Clock(), algorithm=Algorithm.P256)
    owned_by_k1 = safe_for(EmbeddedEvm(), (keys(1)[0].vault_key,), 1, salt=23)
    with pytest.raises(SchemaError, match="secp256k1"):
        replace(owned_by_k1, keys=(station.key(),))
