"""The host against real stations on SoftHSM: every hand-over is a file or QR frames, as in the vault room.

The hot vault (firmware-config/policies/hot-vault.toml: 2 of 3, a 24-hour
clawback) on the Chia Simulator: enrolment by the station's key QR, the vault
minted and funded, policies written by ``host vault export-policy`` and
installed by the appliance, requests shown by ``host show`` and read through
the camera simulator, the answers scanned back, finalized, submitted; one
announcement clawed back, another paid out once its clawback expired; each
station's audit export checked.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from airgap.camera.frames import ImageFolderSource
from airgap.camera.simulator import PROFILES, CameraSimulator
from airgap.qr.decode import payloads_in_image
from airgap.qr.sinks import write_png_folder
from airgap.ur.ur import UR
from appliance.cli import main as appliance_main
from appliance.commands.keys import export_qr
from appliance.policy_install import install_policy
from appliance.run_loop import run
from custody.chains.chia.custody import address
from custody.schemas.chain import CHIA_NETWORKS
from custody.schemas.key_record import Algorithm
from custody.schemas.policy_toml import load_policy_file
from tests.appliance.conftest import requires_softhsm, softhsm  # noqa: F401 - the fixture
from tests.appliance.kit import HOUR, Clock, RecordingScreen, SimStation, make_station
from tests.host.kit import Host, answer_frames

pytestmark = [pytest.mark.hsm, requires_softhsm]


ROOT = Path(__file__).resolve().parents[2]
NET = CHIA_NETWORKS["simulator"]
EXCHANGE = address(hashlib.sha256(b"exchange deposit").digest(), NET)


def sign_at(stations: list[SimStation], host: Host, folder: Path, request_id: str, name: str) -> list[UR]:
    """Each station reads the request off the host's screen through its camera and signs it."""
    assert host("show", request_id[:8], "--out", str(folder / f"{name}-shown"))[0] == 0
    shown = [f.image for f in ImageFolderSource(folder / f"{name}-shown").frames() if f.image is not None]
    camera = CameraSimulator(shown, PROFILES["480p-appliance"], seed=5)
    write_png_folder([img for _, img in camera.capture(6.0)], folder / f"{name}-seen")
    answers = []
    for s in stations:
        screen = RecordingScreen()
        ceremony = s.ceremony(screen)
        summary = run(ceremony, ImageFolderSource(folder / f"{name}-seen"), decode_image=payloads_in_image)
        ceremony.station.close()
        assert len(summary.answers) == 1 and "signed" in screen.text, screen.text
        answers += screen.answers
    return answers


def approve(host: Host, folder: Path, stations: list[SimStation], argv: list[str], name: str) -> str:
    code, out, err = host("request", *argv)
    assert code == 0, err
    request_id = out.split()[1]
    answers = sign_at(stations, host, folder, request_id, name)
    code, out, err = host(
        "collect", str(answer_frames(answers, folder / f"{name}-answers")), "--in-process-decoder"
    )
    assert code == 0 and out.count("ACCEPTED") == 2 and "quorum reached" in out, out + err
    assert host("finalize", request_id[:8], "--out", str(folder / f"{name}.cbor"))[0] == 0
    code, out, err = host("submit", request_id[:8])
    assert code == 0, out + err
    return request_id


def balances(host: Host) -> str:
    code, out, err = host("vault", "balance", "hot-ops", "--address", EXCHANGE)
    assert code == 0, err
    return out


@pytest.mark.parametrize("algorithm", [Algorithm.P256, Algorithm.SECP256K1], ids=["r1", "k1"])
def test_the_hot_vault_on_chia_from_enrolment_to_audit(
    softhsm: Path,  # noqa: F811
    tmp_path: Path,
    algorithm: Algorithm,
) -> None:
    clock = Clock()
    fleet = [
        make_station(tmp_path, n, clock, label="hot", algorithm=algorithm) for n in ("st-a", "st-b", "st-c")
    ]
    host = Host(tmp_path, now=clock())
    for s in fleet:
        export_qr(s.record, tmp_path / f"{s.name}-key")
        code, out, err = host("enrol", "--scan", str(tmp_path / f"{s.name}-key"), "--in-process-decoder")
        assert code == 0 and " ".join(s.record.key_id.hex()[i : i + 8] for i in range(0, 64, 8)) in out, err
    args = [
        "vault",
        "create",
        "hot-ops",
        "--threshold",
        "2",
        "--template",
        str(ROOT / "firmware-config" / "policies" / "hot-vault.toml"),
    ]
    for s in fleet:
        args += ["--station", s.name]
    args += [
        "--destination",
        EXCHANGE,
        "--chain",
        "simulator",
        "--fund",
        "60",
        "--fund",
        "40",
        "--fund",
        "25",
    ]
    code, out, err = host(*args)
    assert code == 0, err
    assert host("vault", "export-policy", "hot-ops", "--out-dir", str(tmp_path / "policies"))[0] == 0
    for s in fleet:
        policy = load_policy_file(tmp_path / "policies" / f"hot-ops-{s.name}.toml")
        with s.open() as station:
            install_policy(station, policy, s.cards(), screen=RecordingScreen())
    assert "125 TXCH" in balances(host)

    clock.advance(2 * HOUR)
    host.now = clock()
    announce = ["announce", "hot-ops", "--amount", "12.5", "--to", EXCHANGE, "--fee", "0.0001"]
    first = approve(host, tmp_path, [fleet[2], fleet[0]], announce, "first")
    assert "in its clawback" in balances(host)

    clock.advance(HOUR)  # within the 24-hour clawback: another pair takes it back
    host.now = clock()
    approve(host, tmp_path, [fleet[1], fleet[2]], ["cancel", first[:8]], "cancel")
    text = balances(host)
    assert "cancelled: clawed back" in text and f"{EXCHANGE}: 0 TXCH" in text

    clock.advance(2 * HOUR)
    host.now = clock()
    second = approve(host, tmp_path, [fleet[0], fleet[1]], announce, "second")
    code, _, err = host("release", second[:8])
    assert code == 2 and "cannot be pushed through yet" in err
    clock.advance(26 * HOUR)  # past the clawback: 24 hours after the request's last minute
    host.now = clock()
    code, out, err = host("release", second[:8])
    assert code == 0, err
    text = balances(host)
    assert f"{EXCHANGE}: 12.5 TXCH" in text and "paid out" in text
    assert "112.4998 TXCH" in text  # 125 - 12.5 - two fees

    vault = tmp_path / "vault.cbor"
    assert host("vault", "export", "hot-ops", "--out", str(vault))[0] == 0
    code, out, _ = host(
        "verify",
        "--vault",
        str(vault),
        "--bundle",
        str(tmp_path / "second.cbor"),
        "--at",
        str(clock() - 27 * HOUR),
    )
    assert code == 0 and out.startswith("VALID: announce 12.5 TXCH"), out
    for s in fleet:
        export = tmp_path / f"{s.name}.audit"
        cards = [a for c in s.card_paths() for a in ("--card", str(c))]
        argv = ["audit", "export", "--state", str(s.state), *cards, "--out", str(export)]
        assert appliance_main(argv, out=io.StringIO(), clock=clock) == 0
        code, out, err = host("audit", str(export))
        assert code == 0 and "audit clean" in out, out + err
