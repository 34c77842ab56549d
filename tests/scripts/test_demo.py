"""The demo as the README runs it: a 3-of-5 Chia cold vault on SoftHSM and the Chia Simulator, every
hand-over by camera.

One run serves the module; the tests then hold its artefacts to what the
issues promise: coins moved on chain, the bundle verifies against the vault,
any byte flipped makes ``host verify`` refuse it, and the spend bundle JSON
is what the chain accepts.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from chia_wallet_sdk import Coin, CoinSpend, Signature, SpendBundle

from custody.chains.chia.assemble import judge_bundle
from custody.schemas.audit_log import read_export, verify_chain
from custody.schemas.bundle import SignedBundle
from host.cli import main as host_main
from tests.appliance.conftest import SOFTHSM_MODULE, requires_softhsm
from tests.appliance.kit import T0

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import demo_ceremony  # scripts, found through the path above
import demo_steps

pytestmark = [pytest.mark.hsm, pytest.mark.slow, requires_softhsm]


def _run(out: Path, **changes: object) -> tuple[int, str]:
    """The demo into ``out``, with its module-level choices changed as given; (exit code, transcript)."""
    from appliance.hsm.pkcs11_signer import load_module

    screen = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in changes.items():
            mp.setattr(demo_steps, name, value)
        mp.setenv("SOFTHSM2_CONF", "")  # the demo points it at its own tokens; the old value comes back after
        demo_ceremony.prepare(out)
        code = demo_ceremony.run_demo(out, [screen], start=T0, seed=7)
    load_module(SOFTHSM_MODULE).reinitialize()
    return code, screen.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    out = tmp_path_factory.mktemp("demo")
    code, transcript = _run(out)
    assert code == 0, transcript
    yield out, transcript


def verify(vault: Path, bundle: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = host_main(
        ["verify", "--vault", str(vault), "--bundle", str(bundle)], out=out, err=out, clock=lambda: T0
    )
    return code, out.getvalue()


def test_every_phase_holds_and_is_timed(demo: tuple[Path, str]) -> None:
    _, transcript = demo
    for phase in (
        "key ceremonies",
        "mints and funds",
        "installed and sealed",
        "announce",
        "cancel",
        "release",
    ):
        assert phase in transcript
    assert transcript.count("audit clean") == 5
    assert transcript.count("SIGNED:") == 9  # 3 stations x (announce, cancel, announce)
    assert "REFUSED (destination-not-allowed)" in transcript
    assert "REFUSAL      station-1" in transcript  # the refusal came back to the host with its reason
    assert transcript.count("the chain accepted them") == 3
    assert f"{demo_steps.TREASURY}: 1,250 TXCH" in transcript
    assert "OK: every step held" in transcript
    lines = transcript.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("phase "))
    end = next(i for i, line in enumerate(lines) if line.startswith("total "))
    rows = lines[start + 1 : end]
    assert [row[:2] for row in rows[:8]] == ["1.", "2.", "3.", "4.", "5.", "6.", "7.", "8."]
    shares = [int(row.split()[-1].rstrip("%")) for row in rows]
    assert abs(sum(shares) - 100) <= len(shares)  # each share is rounded


def test_it_leaves_the_vault_the_bundle_and_the_audit_exports(demo: tuple[Path, str]) -> None:
    out, _ = demo
    bundle = SignedBundle.from_cbor((out / "bundle.cbor").read_bytes())
    assert bundle.request.action.kind.value == "announce"
    assert sorted(r.station for r in bundle.responses) == ["station-2", "station-4", "station-5"]
    cancel = SignedBundle.from_cbor((out / "cancel-bundle.cbor").read_bytes())
    # another quorum than the announcement's: stations 1 and 3 checked it from the history it carried
    assert sorted(r.station for r in cancel.responses) == ["station-1", "station-3", "station-4"]
    [announced] = cancel.request.history
    assert len(announced.signatures) == 3
    for n in range(1, 6):
        with (out / "audit" / f"station-{n}.cbor").open("rb") as stream:
            header, entries = read_export(stream)
            report = verify_chain(entries)
        assert report.ok and header.station == f"station-{n}" and report.last_seq == header.count
        assert len(header.signatures) == 1  # signed in the station's HSM


def test_the_spend_bundle_json_is_what_the_chain_accepts(demo: tuple[Path, str]) -> None:
    """The approval's spend, read back from its push_tx JSON, passes the chain's rules on its own."""
    out, _ = demo
    body = json.loads((out / "spend-bundle.json").read_text())["spend_bundle"]
    bundle = SpendBundle(
        [
            CoinSpend(
                Coin(
                    bytes.fromhex(s["coin"]["parent_coin_info"][2:]),
                    bytes.fromhex(s["coin"]["puzzle_hash"][2:]),
                    s["coin"]["amount"],
                ),
                bytes.fromhex(s["puzzle_reveal"][2:]),
                bytes.fromhex(s["solution"][2:]),
            )
            for s in body["coin_spends"]
        ],
        Signature.from_bytes(bytes.fromhex(body["aggregated_signature"][2:])),
    )
    assert judge_bundle(bundle, T0) == []
    release = json.loads((out / "release-spend-bundle.json").read_text())["spend_bundle"]
    assert len(release["coin_spends"]) == 1


def test_host_verify_accepts_the_bundle_and_refuses_it_with_any_byte_flipped(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    out, _ = demo
    vault, data = out / "vault.cbor", (out / "bundle.cbor").read_bytes()
    code, text = verify(vault, out / "bundle.cbor")
    assert code == 0 and text.startswith("VALID: announce"), text
    flipped = tmp_path / "bundle.cbor"
    accepted = []
    for i in range(len(data)):
        copy = bytearray(data)
        copy[i] ^= 1 << (i % 8)  # every byte, each bit position in turn
        flipped.write_bytes(copy)
        if verify(vault, flipped)[0] != 1:
            accepted.append(i)
    assert accepted == []


def test_a_step_that_does_not_hold_stops_the_demo_with_exit_1(tmp_path: Path) -> None:
    code, transcript = _run(tmp_path / "short", KEYGEN_CARDS=(1, 2))  # one card short of the 3 needed
    assert code == 1
    assert "FAILED: appliance keygen exited" in transcript and "OK:" not in transcript


def test_a_folder_that_is_not_a_demo_is_left_alone(tmp_path: Path) -> None:
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    with pytest.raises(FileExistsError):
        demo_ceremony.prepare(tmp_path)
    assert keep.read_text() == "mine"
    again = tmp_path / "demo"
    demo_ceremony.prepare(again)
    (again / "old.txt").write_text("from a previous demo")
    demo_ceremony.prepare(again)
    assert [p.name for p in again.iterdir()] == [demo_ceremony.MARKER]


def test_the_demos_own_failure_is_reported_without_a_traceback(tmp_path: Path) -> None:
    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    code, transcript = _run(tmp_path / "full", write_png_folder=full_disk)
    assert code == 1
    assert "FAILED: OSError" in transcript and "Traceback" not in transcript
    assert "Traceback" in (tmp_path / "full" / "error.txt").read_text()
