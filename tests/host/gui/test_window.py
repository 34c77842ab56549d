"""The host's window, screen by screen, driven as an operator drives it: keys and buttons, offscreen."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from airgap.link_defaults import DEFAULT_ANIMATION_PASSES
from airgap.qr.decode import payloads_in_image
from airgap.ur.ur import UR, UREncoder, parts_for_message
from custody.schemas.request import UR_TYPE as REQUEST_UR_TYPE
from host.registry import Registry
from tests.custody.schemas.fixtures import SoftKey
from tests.host.gui.kit import cells, collect, pixels, window, withdraw
from tests.host.kit import FakeStation, Host, answer_frames, refusal_ur, response_ur, stations


def test_the_requests_screen_lists_the_vault_and_each_stations_answer(
    qtbot: QtBot, host: Host, fleet: list[FakeStation], tmp_path: Path
) -> None:
    request = withdraw(host)
    refusal = fleet[0].refuse(request, "cooldown", "Too little time has passed.", host.now)
    urs = [response_ur(fleet[4].sign(request, host.now)), refusal_ur(refusal)]
    code, out, err = host("collect", str(answer_frames(urs, tmp_path / "in")), "--in-process-decoder")
    assert code == 0, out + err
    with window(host) as (win, _):
        view = win.requests_view
        assert cells(view.vaults, 0) == [
            "cold",
            "3 of 5, generation 1",
            "none: a statement vault",
            "no chain backend",
        ]
        rid = request.request_id.hex()
        assert cells(view.requests, 0) == [
            rid[:8],
            "cold",
            "withdraw 10 XCH to xch1dest",
            "1 of 3",
            "2 more needed",
        ]
        assert view.selected() == rid
        answers = dict(cells(view.stations, r) for r in range(view.stations.rowCount()))
        assert answers == {
            "station-1": "refused (cooldown: Too little time has passed.)",
            "station-2": "not yet",
            "station-3": "not yet",
            "station-4": "not yet",
            "station-5": "signed",
        }


def test_show_puts_the_requests_qr_on_screen_and_esc_comes_back(qtbot: QtBot, host: Host) -> None:
    request = withdraw(host)
    with window(host, "--request", request.request_id.hex()[:6], "--density", "200") as (win, _):
        qtbot.keyClick(win.requests_view.requests, Qt.Key.Key_S)
        assert win.stack.currentWidget() is win.show_view
        qr = win.show_view.qr
        ur = UR(REQUEST_UR_TYPE, request.to_cbor())
        parts = {p.upper() for p in parts_for_message(ur, qr.density, passes=DEFAULT_ANIMATION_PASSES)}
        # 200 bytes a frame: the request takes several parts, each shown several times in the loop
        assert qr.parts == UREncoder(ur, qr.density).seq_len > 1
        assert len(qr.frames) == len(parts_for_message(ur, qr.density, passes=DEFAULT_ANIMATION_PASSES))
        found = payloads_in_image(pixels(qr.image))
        assert len(found) == 1 and found[0].upper() in parts
        qtbot.keyClick(qr, Qt.Key.Key_Right)  # a faster rate, from the keyboard
        assert qr.fps > 10
        assert win.show_view.status.text().startswith(f"SHOWING request {request.request_id.hex()[:8]}")
        qtbot.keyClick(qr, Qt.Key.Key_Escape)
        assert win.stack.currentWidget() is win.requests_view
        assert not qr.timer.isActive()


def test_scan_accepts_a_genuine_answer_and_rejects_a_stranger_with_its_reason(
    qtbot: QtBot, host: Host, fleet: list[FakeStation], tmp_path: Path
) -> None:
    request = withdraw(host)
    genuine = response_ur(fleet[2].sign(request, host.now))
    stranger = response_ur(SoftKey(42, "station-x").respond(request))
    folder = answer_frames([genuine, stranger], tmp_path / "answers")
    with window(host, "--source", str(folder), "--in-process-decoder") as (win, _):
        outcome = win.perform("scan")
        view = win.scan_view
        log = view.log.toPlainText()
        assert "ACCEPTED     station-3: valid signature" in log
        assert "REJECTED     station-x: unknown-key" in log and "not in the vault" in log
        assert view.status.text().startswith(
            "DONE, WITH REJECTED ANSWERS: 2 answer(s): 1 accepted, 1 rejected"
        )
        assert view.status.property("state") == "bad"
        assert view.preview.frames > 0 and view.preview.outlined > 0  # the preview followed the camera
        assert not outcome.ok and outcome.report[-1] == "2 answer(s): 1 accepted, 1 rejected"
        qtbot.keyClick(win, Qt.Key.Key_Escape)
        assert win.stack.currentWidget() is win.requests_view
        assert cells(win.requests_view.requests, 0)[3] == "1 of 3"
    with Registry(host.registry) as reg:
        assert [r.response.station for r in reg.responses(request.request_id)] == ["station-3"]


def test_scan_through_the_isolated_decoder(
    qtbot: QtBot, host: Host, fleet: list[FakeStation], tmp_path: Path
) -> None:
    request = withdraw(host)
    folder = answer_frames([response_ur(fleet[1].sign(request, host.now))], tmp_path / "answers")
    with window(host, "--source", str(folder)) as (win, _):
        qtbot.keyClick(win.requests_view.requests, Qt.Key.Key_C)
        assert "ACCEPTED     station-2: valid signature" in win.scan_view.log.toPlainText()
        assert win.scan_view.preview.outlined > 0  # the child's outlines reached the preview


def test_finalize_and_verify_show_their_results(
    qtbot: QtBot, host: Host, fleet: list[FakeStation], tmp_path: Path
) -> None:
    request = withdraw(host)
    rid = request.request_id.hex()
    collect(host, tmp_path / "one", fleet, request, (4,))
    with window(host, "--out-dir", str(tmp_path / "out")) as (win, _):
        view = win.requests_view
        qtbot.keyClick(view.requests, Qt.Key.Key_V)
        assert (
            view.status.text()
            == f"FAILED: request {rid[:8]} is not finalized: nothing to verify yet (finalize it first)"
        )
        qtbot.keyClick(view.requests, Qt.Key.Key_F)
        assert (
            view.status.text().startswith("FAILED: ")
            and "1 valid signature(s) of 3 needed" in view.status.text()
        )
        assert view.status.property("state") == "bad"
        collect(host, tmp_path / "two", fleet, request, (0, 2))
        view.buttons["finalize"].click()
        bundle = tmp_path / "out" / f"bundle-{rid[:8]}.cbor"
        assert view.status.text().startswith(f"bundle for request {rid[:8]} written to {bundle}")
        assert view.status.property("state") == "good" and bundle.exists()
        assert "signed by station-1, station-3, station-5 (3 of 3 needed)" in view.result.toPlainText()
        assert cells(view.requests, 0)[4] == "finalized"
        view.buttons["verify"].click()
        assert view.status.text() == "VALID: withdraw 10 XCH to xch1dest"
        assert view.status.property("state") == "good"
        host.now = request.expires_at + 1  # verified again after the request expired
        view.buttons["verify"].click()
        assert view.status.text().startswith("INVALID: 1 reason(s); expired: ")
        assert view.status.property("state") == "bad"


def test_a_chain_vaults_balance_and_a_broken_chain_in_words(qtbot: QtBot, tmp_path: Path) -> None:
    from tests.host.commands.test_chain import T0, make_vault

    host = Host(tmp_path, now=T0)
    make_vault(host, tmp_path, stations())  # on the Simulator, funded with 60 and 40
    with window(host) as (win, _):
        assert cells(win.requests_view.vaults, 0)[2:] == ["chia simulator", "100 TXCH"]
    (tmp_path / "registry-chia-simulator.cbor").write_bytes(b"\x00not a log")
    with window(host) as (win, _):
        balance = cells(win.requests_view.vaults, 0)[3]
        assert balance.startswith("FAILED: ") and "Traceback" not in balance
