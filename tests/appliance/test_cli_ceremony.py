"""The ceremony commands as an operator runs them: policy install, run, audit export and verify."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from appliance.cli import main
from custody.schemas.audit_log import read_export
from custody.schemas.policy_toml import render_policy
from custody.schemas.request import Withdraw
from custody.schemas.response import SignatureResponse
from tests.appliance.conftest import requires_softhsm
from tests.appliance.kit import (
    ALLOWED,
    XCH,
    Clock,
    camera_frames,
    frames_folder,
    make_request,
    make_station,
    policy_for,
    vault_of,
)

pytestmark = [pytest.mark.hsm, requires_softhsm]


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err, ask=lambda _: "", ask_secret=lambda _: "")
    return code, out.getvalue(), err.getvalue()


def test_install_run_export_verify(softhsm: Path, tmp_path: Path) -> None:
    import time

    clock = Clock(int(time.time()) - 3 * 3600)  # the CLI uses the real clock; the station was set up earlier
    station = make_station(tmp_path, "st-a", clock)
    vault = vault_of([station.key()], threshold=1, cooldown_seconds=0)
    toml = tmp_path / "hot.toml"
    toml.write_text(render_policy(policy_for(vault, station)))
    cards = [str(station.cards_dir / f"card-{n}.txt") for n in (1, 2)]
    state = ["--state", str(station.state)]

    code, out, err = run(["policy", "compile", str(toml)])
    assert code == 0 and vault.digest().hex() in out, err
    code, out, err = run(["policy", "install", str(toml), *state, "--approve-with-cards", *cards])
    assert code == 0, err
    assert "POLICY INSTALLATION" in out and "installed and sealed" in out
    code, out, err = run(["policy", "show", *state])
    assert "hot-ops: generation 1, 1 of 1" in out

    request = make_request(
        vault, Withdraw(asset="XCH", amount=5 * XCH, destination=ALLOWED), int(time.time())
    )
    folder = frames_folder(camera_frames(request.to_cbor()), tmp_path / "camera")
    answers = tmp_path / "answers"
    code, out, err = run(
        [
            "run",
            "--source",
            str(folder),
            *state,
            "--approve-with-cards",
            *cards,
            "--answers",
            str(answers),
            "--show",
            "none",
            "--in-process-decoder",
        ]
    )
    assert code == 0, err
    assert "1 signed" in out, out
    assert "5 XCH" in out and "approved by --approve-with-cards" in out and "1 signed" in out
    response = SignatureResponse.from_cbor(next(answers.glob("*.cbor")).read_bytes())
    response.verify(station.record.public_key)
    assert any((answers / next(answers.glob("*.cbor")).stem).glob("*.png"))

    export = tmp_path / "log.cbor"
    card_args = [a for c in cards for a in ("--card", c)]
    code, out, err = run(["audit", "export", *state, *card_args, "--out", str(export)])
    assert code == 0, err
    assert "signed in the HSM by 1 key(s)" in out
    header, entries = read_export(export.open("rb"))
    assert header.station == "st-a" and len(list(entries)) == header.count
    keys = {station.record.key_id: (station.record.algorithm, station.record.public_key)}
    assert header.valid_signers(keys) == [station.record.key_id]
    code, out, err = run(["audit", "verify", "--file", str(export), *state])
    assert code == 0 and "chain intact" in out, err
    data = bytearray(export.read_bytes())
    data[len(data) // 2] ^= 0x01
    export.write_bytes(bytes(data))
    code, out, err = run(["audit", "verify", "--file", str(export)])
    assert code in (1, 31) and ("BROKEN" in out or "audit export" in err)


def test_policy_errors_name_the_line_and_exit_1(tmp_path: Path) -> None:
    toml = tmp_path / "bad.toml"
    toml.write_text("[vault]\nid = 'x'\nthreshold = 'three'\n")
    code, _, err = run(["policy", "compile", str(toml)])
    assert code == 1 and f"{toml}:" in err and "Traceback" not in err


def test_run_without_a_way_to_present_cards_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run(["run", "--source", str(tmp_path), "--state", str(tmp_path)])
    assert code == 2 and "cards" in err


def _stdin_run(argv: list[str], stdin: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err, ask=lambda _: "", ask_secret=lambda _: "", stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


def test_attack_8_a_keyboard_wedge_scanner_on_standard_input(softhsm: Path, tmp_path: Path) -> None:
    """Issue 12, defect 8: 'appliance run --source -' failed: 'no standard input to read UR lines from'."""
    import time

    from airgap.ur.ur import UR, parts_for_message
    from custody.schemas.request import UR_TYPE
    from tests.appliance.kit import install

    clock = Clock(int(time.time()) - 3 * 3600)
    station = make_station(tmp_path, "st-a", clock)
    vault = vault_of([station.key()], threshold=1, cooldown_seconds=0)
    install(station, vault)
    request = make_request(
        vault, Withdraw(asset="XCH", amount=5 * XCH, destination=ALLOWED), int(time.time())
    )
    lines = "\n".join(parts_for_message(UR(UR_TYPE, request.to_cbor()), 200, passes=2)) + "\n"
    cards = [str(station.cards_dir / f"card-{n}.txt") for n in (1, 2)]
    argv = [
        "run",
        "--source",
        "-",
        "--state",
        str(station.state),
        "--approve-with-cards",
        *cards,
        "--show",
        "none",
    ]
    code, out, err = _stdin_run(argv, lines)
    assert code == 0, err
    assert "done: 1 signed, 0 refused" in out


def test_attack_3_an_export_of_a_restored_database_is_refused(softhsm: Path, tmp_path: Path) -> None:
    """Issue 12, defect 3: a log exported after audit.db was restored from an earlier copy came back
    clean. The export is now checked against the HSM seal first, and refused."""
    import shutil
    import sqlite3
    import time

    from tests.appliance.kit import install

    clock = Clock(int(time.time()) - 3 * 3600)
    station = make_station(tmp_path, "st-a", clock)
    vault = vault_of([station.key()], threshold=1, cooldown_seconds=0)
    install(station, vault)
    db, snapshot = station.state / "audit.db", tmp_path / "snapshot.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(FULL)")
    shutil.copy(db, snapshot)
    request = make_request(vault, Withdraw(asset="XCH", amount=5 * XCH, destination=ALLOWED), clock())
    assert station.handle(request).outcome.value == "signed"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(snapshot, db)
    cards = [a for n in (1, 2) for a in ("--card", str(station.cards_dir / f"card-{n}.txt"))]
    export = tmp_path / "log.cbor"
    code, _out, err = run(["audit", "export", "--state", str(station.state), *cards, "--out", str(export)])
    assert code == 31 and "older copy" in err and not export.exists()
