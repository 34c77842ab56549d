"""``host gui`` as a command: unattended scripts, their transcript and exit codes, screenshots, and the
errors an operator can make (no display, a bad flag) said plainly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from airgap.qr.decode import payloads_in_image
from airgap.ur.ur import UR, parts_for_message
from custody.schemas.request import UR_TYPE as REQUEST_UR_TYPE
from tests.custody.schemas.fixtures import SoftKey
from tests.host.gui.kit import withdraw
from tests.host.kit import FakeStation, Host, answer_frames, response_ur


def test_a_script_runs_every_screen_prints_each_result_and_takes_the_screenshots(
    qtbot: QtBot, host: Host, fleet: list[FakeStation], tmp_path: Path
) -> None:
    request = withdraw(host)
    rid = request.request_id.hex()[:8]
    answers = answer_frames(
        [response_ur(fleet[i].sign(request, host.now)) for i in (1, 2, 3)], tmp_path / "in"
    )
    shots, out_dir = tmp_path / "shots", tmp_path / "out"
    code, out, err = host(
        "gui",
        *("--script", "show,scan,finalize,verify,quit", "--request", rid[:5]),
        *("--source", str(answers), "--in-process-decoder"),
        *("--screenshots", str(shots), "--out-dir", str(out_dir)),
    )
    assert code == 0, out + err
    size = (out_dir / f"bundle-{rid}.cbor").stat().st_size
    assert out.replace(f"({size} bytes)", "(BYTES)").splitlines() == [
        f"show: SHOWING request {rid} to the station's camera: 1 part(s), 1000 bytes per frame, 10 frames/s",
        "scan: ACCEPTED     station-2: valid signature",
        "scan: ACCEPTED     station-3: valid signature",
        "scan: ACCEPTED     station-4: valid signature",
        "scan: 3 answer(s): 3 accepted",
        f"finalize: bundle for request {rid} written to {out_dir / f'bundle-{rid}.cbor'} (BYTES)",
        "verify: VALID: withdraw 10 XCH to xch1dest",
        "quit: closed",
    ]
    assert sorted(p.name for p in shots.iterdir()) == ["requests.png", "scan.png", "show.png"]
    shown = payloads_in_image(np.asarray(Image.open(shots / "show.png").convert("L")))
    assert [p.upper() for p in shown] == [
        parts_for_message(UR(REQUEST_UR_TYPE, request.to_cbor()), 1000)[0].upper()
    ]
    code, out, _ = host("status", "--json")
    assert code == 0 and '"finalized": [' in out and request.request_id.hex() in out


def test_a_script_exits_1_when_an_action_fails_and_still_runs_the_rest(
    qtbot: QtBot, host: Host, fleet: list[FakeStation], tmp_path: Path
) -> None:
    request = withdraw(host)
    stranger = answer_frames([response_ur(SoftKey(42, "station-x").respond(request))], tmp_path / "in")
    code, out, err = host(
        "gui",
        *("--script", "scan,finalize,verify", "--source", str(stranger), "--in-process-decoder"),
        *("--out-dir", str(tmp_path / "out")),
    )
    assert code == 1 and "Traceback" not in err
    lines = out.splitlines()
    assert lines[0].startswith("scan: REJECTED     station-x: unknown-key")
    assert lines[1] == "scan: 1 answer(s): 1 rejected"
    assert lines[2].startswith("finalize: FAILED: ") and "0 valid signature(s) of 3 needed" in lines[2]
    assert lines[3].startswith("verify: FAILED: request ") and "is not finalized" in lines[3]
    assert not (tmp_path / "out").exists()
    code, out, err = host("gui", "--script", "scan", "--source", str(tmp_path / "no-such-folder"))
    assert code == 1 and "Traceback" not in err
    assert out.startswith(f"scan: FAILED: {str(tmp_path / 'no-such-folder')!r} is not a camera index")


def test_without_a_script_the_window_stays_until_esc(qtbot: QtBot, host: Host) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    withdraw(host)
    pressed: list[str] = []

    def operator() -> None:
        window = QApplication.activeWindow()
        assert window is not None
        pressed.append(window.windowTitle())
        qtbot.keyClick(window, Qt.Key.Key_Escape)

    QTimer.singleShot(300, operator)
    QTimer.singleShot(15_000, QApplication.quit)  # never a hung suite, whatever goes wrong
    code, out, err = host("gui")
    assert code == 0 and out == "" and "Traceback" not in err
    assert pressed == ["host: vaults and requests"]


def test_no_display_is_a_clear_error_exit_4(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = host("gui", "--script", "quit")
    assert code == 4 and out == ""
    assert err.startswith("host: no display: set DISPLAY") and "Traceback" not in err


def test_bad_flags_are_usage_errors_before_any_window(qtbot: QtBot, host: Host) -> None:
    withdraw(host)
    code, _, err = host("gui", "--script", "scan")
    assert code == 2 and "--script scan needs --source" in err
    code, _, err = host("gui", "--display", "7", "--script", "quit")
    assert code == 2 and "--display 7: there are 1 display(s), from 0" in err
    code, _, err = host("gui", "--request", "ffff", "--script", "quit")
    assert code == 2 and "no request ffff" in err
    with pytest.raises(SystemExit) as exit_:
        host("gui", "--script", "show,dance")
    assert exit_.value.code == 2
