"""Real SoftHSM stations as Safe owners: the ceremony signs a SafeTx the real Safe contract executes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from eth_utils.crypto import keccak

from airgap.camera.frames import ImageFolderSource
from airgap.qr.decode import payloads_in_image
from airgap.ur.ur import UR, URDecoder, parts_for_message
from appliance.ceremony import Answer, Outcome
from appliance.run_loop import run
from custody.chains.evm.adapter import EvmAdapter
from custody.chains.evm.build import safe_tx, transfer
from custody.chains.evm.erc4527 import (
    SIGN_REQUEST_UR_TYPE,
    SIGNATURE_UR_TYPE,
    EthSignRequest,
    encode_sign_request,
    parse_signature,
    typed_data_json,
)
from custody.chains.evm.safe_tx import SafeTx, parse_payload
from custody.chains.evm.signatures import address_of, owner_signature, pack
from custody.errors import SchemaError
from custody.policy.engine import Code
from custody.policy.history import history_signature
from custody.schemas.history import HistoryEntry
from custody.schemas.key_record import Algorithm
from custody.schemas.request import Withdraw
from custody.schemas.response import SignatureResponse
from host.evm.embedded import EmbeddedEvm
from tests.appliance.conftest import requires_softhsm
from tests.appliance.kit import (
    HOUR,
    Clock,
    RecordingScreen,
    SimStation,
    camera_frames,
    frames_folder,
    install,
    make_station,
)
from tests.custody.chains.evm.kit import DEST, ETH, OTHER, SafeVault, addr, keys, request_for, safe_for

pytestmark = [pytest.mark.hsm, requires_softhsm]


def owned_safe(
    tmp_path: Path, clock: Clock, names: str, m: int, salt: int
) -> tuple[list[SimStation], SafeVault]:
    """SoftHSM secp256k1 stations (one per letter of ``names``) owning a funded ``m``-of-n Safe, its
    policy installed at each; two hours later, so no cooldown counts."""
    stations = [make_station(tmp_path, f"st-{n}", clock, algorithm=Algorithm.SECP256K1) for n in names]
    evm = EmbeddedEvm()
    definition = safe_for(evm, tuple(s.key() for s in stations), m, salt=salt)
    for s in stations:
        install(s, definition)
    clock.advance(2 * HOUR)
    return stations, SafeVault(evm, definition, [])


def test_three_softhsm_stations_of_five_sign_an_eth_transfer_the_safe_executes(
    softhsm: Path, tmp_path: Path
) -> None:
    clock = Clock()
    stations, sv = owned_safe(tmp_path, clock, "abcde", 3, salt=21)
    evm, definition = sv.evm, sv.definition
    tx = transfer(sv.binding, 0, "ETH", addr(DEST), 3 * ETH)
    request = request_for(
        sv, tx, Withdraw(asset="ETH", amount=3 * ETH, destination=DEST), seed="hsm", now=clock()
    )
    signatures, responses = {}, []
    for s in (stations[4], stations[1], stations[2]):
        screen = RecordingScreen()
        answer = s.handle(request, screen)
        assert answer.outcome is Outcome.SIGNED, answer.text
        response = SignatureResponse.from_cbor(answer.ur.cbor)
        signatures[response.key_id] = response.chain_signature
        responses.append(response)
        for shown in ("embedded EVM", "3 ETH", DEST, "safeTxHash", tx.safe_tx_hash().hex(), "gas refund"):
            assert shown in screen.text
    before = evm.balance(DEST)
    calldata = EvmAdapter().assemble(definition, request, signatures)
    assert EvmAdapter().judge(definition, request, calldata, clock()) == []
    evm.execute(sv.safe, calldata)
    assert evm.balance(DEST) - before == 3 * ETH
    assert parse_payload(request.payload).nonce == 0

    # an ERC-20 transfer at the next nonce, as the stations' cameras film it off the host's screen
    clock.advance(2 * HOUR)
    token_tx = transfer(sv.binding, 1, "TST", addr(DEST), 120 * ETH)
    action = Withdraw(asset="TST", amount=120 * ETH, destination=DEST)
    token_request = request_for(sv, token_tx, action, seed="hsm-tst", now=clock())
    executed = HistoryEntry(  # nonce 0 with its quorum, as the host's history carries it
        request=request.core(),
        signatures=tuple(sorted((history_signature(r) for r in responses), key=lambda h: h.key_id)),
    )
    token_request = replace(token_request, history=(executed,))
    folder = frames_folder(camera_frames(token_request.to_cbor(), seed=14), tmp_path / "camera")
    token_signatures = {}
    for s in (stations[0], stations[3], stations[4]):
        screen = RecordingScreen()
        ceremony = s.ceremony(screen)
        summary = run(ceremony, ImageFolderSource(folder), decode_image=payloads_in_image, max_requests=1)
        ceremony.station.close()
        assert [a.outcome for a in summary.answers] == [Outcome.SIGNED], summary.answers
        response = SignatureResponse.from_cbor(screen.answers[0].cbor)
        token_signatures[response.key_id] = response.chain_signature
        assert "120 TST" in screen.text
    before = evm.token_balance(DEST)
    evm.execute(sv.safe, EvmAdapter().assemble(definition, token_request, token_signatures))
    assert evm.token_balance(DEST) - before == 120 * ETH


def test_the_bybit_delegatecall_is_refused_on_screen_before_any_card(softhsm: Path, tmp_path: Path) -> None:
    clock = Clock()
    (station,), sv = owned_safe(tmp_path, clock, "a", 1, salt=22)
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


def _eth_sign(station: Any, wire: EthSignRequest, screen: RecordingScreen | None = None) -> Answer:
    """The coordinator's request as animated UR parts, reassembled, then the station's ceremony."""
    decoder = URDecoder(expected_types=frozenset({SIGN_REQUEST_UR_TYPE}))
    for part in parts_for_message(UR(SIGN_REQUEST_UR_TYPE, encode_sign_request(wire)), 120, passes=2):
        decoder.receive(part)
        if decoder.result is not None:
            break
    assert decoder.result is not None
    ceremony = station.ceremony(screen)
    try:
        return cast(Answer, ceremony.handle(decoder.result))
    finally:
        ceremony.station.close()


def _wire(tx: SafeTx, **changes: Any) -> EthSignRequest:
    base = EthSignRequest(
        request_id=bytes(range(16)),
        sign_data=typed_data_json(tx),
        data_type=2,
        chain_id=None,  # MetaMask may leave it out: the station takes it from the EIP-712 domain
        keypath="",
        address=b"",
        origin="Safe{Wallet}",
    )
    return replace(base, **changes)


def test_an_eth_sign_request_round_trip_signs_a_safe_tx_the_safe_executes(
    softhsm: Path, tmp_path: Path
) -> None:
    clock = Clock()
    stations, sv = owned_safe(tmp_path, clock, "abc", 2, salt=31)
    evm = sv.evm
    tx = transfer(sv.binding, 0, "TST", addr(DEST), 40 * ETH)
    pairs = []
    for s in stations[1:]:
        screen = RecordingScreen()
        owner = address_of(s.key().public_key)
        answer = _eth_sign(s, _wire(tx, address=owner), screen)
        assert answer.outcome is Outcome.SIGNED, answer.text
        assert answer.ur.type == SIGNATURE_UR_TYPE
        assert "40 TST" in screen.text and tx.safe_tx_hash().hex() in screen.text
        request_id, signature = parse_signature(answer.ur.cbor)
        assert request_id == bytes(range(16)) and signature[64] in (27, 28)
        assert owner_signature(tx.safe_tx_hash(), signature[:64], owner) == signature
        pairs.append((owner, signature[:64]))
    before = evm.token_balance(DEST)
    evm.execute(sv.safe, tx.exec_calldata(pack(tx.safe_tx_hash(), pairs)))
    assert evm.token_balance(DEST) - before == 40 * ETH
    # the next nonce: the coordinator carries no history; the station puts in what it signed itself,
    # so its limits still count nonce 0, and nonce 1 follows the one it signed
    clock.advance(HOUR)
    screen = RecordingScreen()
    after = transfer(sv.binding, 1, "TST", addr(DEST), 450 * ETH)  # 40 + 450 within 500; 800 window
    answer = _eth_sign(stations[1], _wire(after, request_id=bytes(16)), screen)
    assert answer.outcome is Outcome.SIGNED, answer.text
    assert "1 earlier request(s)" in screen.text
    over = transfer(sv.binding, 2, "TST", addr(DEST), 400 * ETH)  # 490 + 400 > the 800 window
    answer = _eth_sign(stations[1], _wire(over, request_id=b"\x01" * 16))
    assert answer.outcome is Outcome.REFUSED and answer.code == Code.WINDOW.value, answer.text


def test_what_an_eth_sign_request_may_not_carry_is_refused_before_any_card(
    softhsm: Path, tmp_path: Path
) -> None:
    clock = Clock()
    (station,), sv = owned_safe(tmp_path, clock, "a", 1, salt=32)
    plain = transfer(sv.binding, 0, "ETH", addr(DEST), ETH)
    bybit = safe_tx(sv.binding, 0, addr(OTHER), 0, bytes(12) + addr(OTHER), operation=1)
    approve_call = keccak(text="approve(address,uint256)")[:4] + bytes(64)
    approve = safe_tx(sv.binding, 0, sv.binding.tokens[0].address, 0, approve_call)
    cases = [
        (_wire(plain, chain_id=1), Code.WRONG_CHAIN, "domain chainId"),  # request and domain disagree
        (_wire(bybit), Code.DELEGATECALL, "DELEGATECALL"),
        (_wire(approve), Code.UNEXPLAINED, "approve"),
        (_wire(plain, data_type=3), None, "personal message"),  # refused as unreadable: not a SafeTx
        (_wire(plain, address=addr(OTHER)), Code.PAYLOAD_MISMATCH, "for signer"),
        (_wire(replace(plain, safe=addr(OTHER))), Code.WRONG_CHAIN, "no vault of this station"),
    ]
    for wire, code, reason in cases:
        screen = RecordingScreen()
        answer = _eth_sign(station, wire, screen)
        assert answer.outcome is Outcome.REFUSED, reason
        if code is not None:
            assert answer.code == code.value, (answer.code, reason)
        assert reason in answer.text or reason in screen.text, (reason, answer.text)
        assert not any(line.startswith("Custodians") for line in screen.lines)
