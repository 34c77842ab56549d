"""Real SoftHSM stations sign a Bitcoin vault's PSBT; a regtest node (Bitcoin's segwit v0 rules) mines it.

The request reaches the stations as animated QR a simulated camera films, in
our own envelope and as ``ur:crypto-psbt`` from another coordinator; the
node's verdict on the finalized transaction is the judge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airgap.camera.frames import ImageFolderSource
from airgap.qr.decode import payloads_in_image
from airgap.ur.ur import UR
from appliance.ceremony import Outcome
from appliance.run_loop import run
from custody.chains.bitcoin.adapter import BitcoinAdapter
from custody.chains.bitcoin.build import Coin, build
from custody.chains.bitcoin.psbt import read, read_final
from custody.chains.bitcoin.script import script_of, witness_script
from custody.chains.bitcoin.signatures import extract, finalize, raw
from custody.chains.bitcoin.ur import decode_psbt_ur, encode_psbt_ur
from custody.policy.engine import Code
from custody.schemas.key_record import Algorithm
from custody.schemas.response import SignatureResponse
from host.chain.bitcoin_rpc import balance_of, mempool_accept, utxos_of
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
from tests.custody.chains.bitcoin.kit import (
    BTC,
    DEST,
    OTHER,
    request_for,
    script_pubkey,
    vault_for,
    withdrawal,
)

pytestmark = [pytest.mark.hsm, requires_softhsm]


def _stations(
    tmp_path: Path, clock: Clock, names: str, m: int, regtest: Any, sats: list[int]
) -> tuple[list[SimStation], Any, list[Coin]]:
    """SoftHSM secp256k1 stations owning an ``m``-of-n vault with coins of ``sats`` mined on the node."""
    stations = [make_station(tmp_path, f"st-{n}", clock, algorithm=Algorithm.SECP256K1) for n in names]
    vault = vault_for(tuple(s.key() for s in stations), m)
    for s in stations:
        install(s, vault)
    clock.advance(2 * HOUR)
    for amount in sats:
        regtest.fund(script_pubkey(vault), amount)
    coins = [Coin(u.txid, u.vout, u.amount, u.prev_tx) for u in utxos_of(regtest.rpc, script_pubkey(vault))]
    return stations, vault, coins


def _filmed(station: SimStation, ur: UR, folder: Path, seed: int) -> tuple[Outcome, UR, str]:
    frames = frames_folder(camera_frames(ur.cbor, ur.type, seed=seed), folder)
    screen = RecordingScreen()
    ceremony = station.ceremony(screen)
    try:
        summary = run(ceremony, ImageFolderSource(frames), decode_image=payloads_in_image, max_requests=1)
    finally:
        ceremony.station.close()
    (answer,) = summary.answers
    return answer.outcome, answer.ur, screen.text


def test_two_softhsm_stations_of_three_sign_a_filmed_withdrawal_the_node_mines(
    softhsm: Path, tmp_path: Path, regtest: Any
) -> None:
    clock = Clock()
    stations, vault, coins = _stations(tmp_path, clock, "abc", 2, regtest, [BTC, 2 * BTC])
    request = withdrawal(vault, coins, int(2.5 * BTC), seed="btc-film")
    request = request_for(
        vault, request.payload, request.action, fee=request.fee, seed="btc-film", now=clock()
    )
    signatures = {}
    for n, s in ((0, stations[2]), (1, stations[0])):
        outcome, answer, text = _filmed(
            s, UR("x-spend-request", request.to_cbor()), tmp_path / f"cam{n}", 20 + n
        )
        assert outcome is Outcome.SIGNED, text
        response = SignatureResponse.from_cbor(answer.cbor)
        assert len(response.chain_signature) == 64 * 2  # one per input
        signatures[response.key_id] = response.chain_signature
        for shown in ("2.5 BTC", "250000000 sats", DEST, "sat/vB", "back to the vault", "SIGHASH_ALL"):
            assert shown in text
    adapter = BitcoinAdapter()
    final = adapter.assemble(vault, request, signatures)
    assert adapter.judge(vault, request, final, clock()) == []
    raw_tx = extract(read_final(final)).serialize()
    assert mempool_accept(regtest.rpc, raw_tx) == (True, "")
    before = balance_of(regtest.rpc, script_of(DEST, "regtest"))
    regtest.mine_tx(raw_tx)
    assert balance_of(regtest.rpc, script_of(DEST, "regtest")) - before == int(2.5 * BTC)
    change = sum(u.amount for u in utxos_of(regtest.rpc, script_pubkey(vault)))
    assert change == 3 * BTC - int(2.5 * BTC) - request.fee


def test_a_crypto_psbt_from_another_coordinator_is_signed_into_the_psbt_and_mined(
    softhsm: Path, tmp_path: Path, regtest: Any
) -> None:
    clock = Clock()
    stations, vault, coins = _stations(tmp_path, clock, "de", 2, regtest, [BTC])
    psbt, _fee = build(vault, coins, DEST, BTC // 2, 5)
    shown = psbt
    for n, s in enumerate(stations):
        outcome, answer, text = _filmed(
            s, UR("crypto-psbt", encode_psbt_ur(shown)), tmp_path / f"cam{n}", 30 + n
        )
        assert outcome is Outcome.SIGNED, text
        assert answer.type == "crypto-psbt" and "0.5 BTC" in text
        shown = decode_psbt_ur(answer.cbor)  # the next signer sees the PSBT with the first's signature
        assert len(read(shown).parsed.inputs[0].partial_sigs) == n + 1
    signed = read(shown)
    by_key = {
        key.sec(): [raw(scope.partial_sigs[key]) for scope in signed.parsed.inputs]
        for key in signed.parsed.inputs[0].partial_sigs
    }
    script = witness_script([k.public_key for k in vault.keys], 2)
    raw_tx = extract(read_final(finalize(signed, by_key, 2, script))).serialize()
    assert mempool_accept(regtest.rpc, raw_tx) == (True, "")
    regtest.mine_tx(raw_tx)
    assert utxos_of(regtest.rpc, script_pubkey(vault))[0].amount == BTC - BTC // 2 - _fee


def test_a_psbt_paying_elsewhere_is_refused_on_screen_before_any_card(
    softhsm: Path, tmp_path: Path, regtest: Any
) -> None:
    clock = Clock()
    (station,), vault, coins = _stations(tmp_path, clock, "f", 1, regtest, [BTC])
    psbt, _fee = build(vault, coins, OTHER, BTC // 4, 5)
    screen = RecordingScreen()
    ceremony = station.ceremony(screen)
    try:
        answer = ceremony.handle(UR("psbt", encode_psbt_ur(psbt)))
    finally:
        ceremony.station.close()
    assert answer.outcome is Outcome.REFUSED and answer.code == Code.DESTINATION.value
    assert OTHER in screen.text
    assert not any(line.startswith("Custodians") for line in screen.lines)
