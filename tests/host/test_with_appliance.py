"""The host against real stations on SoftHSM: every hand-over is a file or QR frames, as in the vault room.

Enrolment by the station's key QR, policies written by ``host vault
export-policy`` and installed by the appliance, the request shown by ``host
show`` and read through the camera simulator, the answers scanned back,
finalized, verified, and each station's audit export checked.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from airgap.camera.frames import ImageFolderSource
from airgap.camera.simulator import PROFILES, CameraSimulator
from airgap.qr.decode import payloads_in_image
from airgap.qr.sinks import write_png_folder
from appliance.cli import main as appliance_main
from appliance.commands.keys import export_qr
from appliance.policy_install import install_policy
from appliance.run_loop import run
from custody.schemas.policy_toml import load_policy_file
from host.registry import Registry
from tests.appliance.conftest import requires_softhsm, softhsm  # noqa: F401 - the fixture
from tests.appliance.kit import HOUR, Clock, RecordingScreen, make_station
from tests.host.kit import Host, answer_frames

pytestmark = [pytest.mark.hsm, requires_softhsm]


def test_a_two_of_three_vault_from_enrolment_to_audit(softhsm: Path, tmp_path: Path) -> None:  # noqa: F811
    clock = Clock()
    fleet = [make_station(tmp_path, name, clock, label="hot") for name in ("st-a", "st-b", "st-c")]
    host = Host(tmp_path, now=clock())
    for s in fleet:
        export_qr(s.record, tmp_path / f"{s.name}-key")
        code, out, err = host("enrol", "--scan", str(tmp_path / f"{s.name}-key"), "--in-process-decoder")
        assert code == 0 and " ".join(s.record.key_id.hex()[i : i + 8] for i in range(0, 64, 8)) in out, err
    args = ["vault", "create", "hot-ops", "--threshold", "2", "--asset", "XCH:12", "--destination", "xch1ops"]
    for s in fleet:
        args += ["--station", s.name]
    for flag, value in (
        ("--max-per-spend", "50"),
        ("--window-max", "120"),
        ("--window", "1d"),
        ("--cooldown", "1h"),
        ("--announce-delay", "0"),
        ("--announce-expiry", "0"),
        ("--rekey-delay", "1d"),
        ("--min-per-spend", "1"),
        ("--max-fee", "0"),
        ("--window-count", "8"),
        ("--max-request-lifetime", "1h"),
    ):
        args += [flag, value]
    assert host(*args)[0] == 0
    assert host("vault", "export-policy", "hot-ops", "--out-dir", str(tmp_path / "policies"))[0] == 0
    for s in fleet:
        policy = load_policy_file(tmp_path / "policies" / f"hot-ops-{s.name}.toml")
        with s.open() as station:
            install_policy(station, policy, s.cards(), screen=RecordingScreen())

    clock.advance(2 * HOUR)
    host.now = clock()
    code, out, err = host("request", "withdraw", "hot-ops", "--amount", "12.5", "--to", "xch1ops")
    assert code == 0, err
    request_id = out.split()[1]
    assert host("show", request_id[:8], "--out", str(tmp_path / "shown"))[0] == 0
    shown = [f.image for f in ImageFolderSource(tmp_path / "shown").frames() if f.image is not None]
    camera = CameraSimulator(shown, PROFILES["480p-appliance"], seed=5)
    write_png_folder([img for _, img in camera.capture(6.0)], tmp_path / "seen")

    answers = []
    for s in (fleet[2], fleet[0]):  # not in vault order
        screen = RecordingScreen()
        ceremony = s.ceremony(screen)
        summary = run(ceremony, ImageFolderSource(tmp_path / "seen"), decode_image=payloads_in_image)
        ceremony.station.close()
        assert len(summary.answers) == 1 and "12.5 XCH" in screen.text
        answers += screen.answers
    code, out, err = host(
        "collect", str(answer_frames(answers, tmp_path / "answers")), "--in-process-decoder"
    )
    assert code == 0 and out.count("ACCEPTED") == 2 and "quorum reached" in out, out + err

    bundle, vault = tmp_path / "bundle.cbor", tmp_path / "vault.cbor"
    assert host("finalize", request_id[:8], "--out", str(bundle))[0] == 0
    assert host("vault", "export", "hot-ops", "--out", str(vault))[0] == 0
    code, out, _ = host("verify", "--vault", str(vault), "--bundle", str(bundle))
    assert code == 0 and out.startswith("VALID: withdraw 12.5 XCH to xch1ops")

    for s in fleet:
        export = tmp_path / f"{s.name}.audit"
        cards = [a for c in s.card_paths() for a in ("--card", str(c))]
        argv = ["audit", "export", "--state", str(s.state), *cards, "--out", str(export)]
        assert appliance_main(argv, out=io.StringIO(), clock=clock) == 0
        code, out, err = host("audit", str(export))
        assert code == 0 and "audit clean" in out, out + err
    with Registry(host.registry) as reg:
        row = reg.find_request(request_id)
        assert {r.response.approved_at for r in reg.responses(row.request.request_id)} == {clock()}
