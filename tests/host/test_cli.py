"""The host workflow through its command line: enrol, vault, requests, collect, finalize, verify, audit."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from custody.schemas.bundle import SignedBundle
from custody.schemas.policy_toml import compile_policy
from custody.schemas.request import SpendRequest
from custody.schemas.response import SignatureResponse
from custody.schemas.vault import StationPolicy, VaultDefinition
from host.registry import Registry
from tests.custody.schemas.fixtures import T0, SoftKey
from tests.host.kit import (
    DAY,
    HOUR,
    FakeStation,
    Host,
    answer_frames,
    create_vault,
    enrol_all,
    refusal_ur,
    response_ur,
    stations,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fleet() -> list[FakeStation]:
    return stations()


@pytest.fixture
def host(tmp_path: Path, fleet: list[FakeStation]) -> Host:
    h = Host(tmp_path, now=T0)
    enrol_all(h, tmp_path, fleet)
    create_vault(h, fleet)
    h.now = T0 + 2 * HOUR  # past the cooldown that runs from the vault's creation
    return h


def build(host: Host, *argv: str) -> SpendRequest:
    code, out, err = host("request", *argv, "--json")
    assert code == 0, err
    with Registry(host.registry) as reg:
        return reg.find_request(json.loads(out)["request_id"]).request


def collect(host: Host, folder: Path, *extra: str) -> tuple[int, str, str]:
    return host("collect", str(folder), "--in-process-decoder", *extra)


def sign_and_collect(
    host: Host, fleet: list[FakeStation], request: SpendRequest, who: tuple[int, ...], folder: Path
) -> None:
    urs = [response_ur(fleet[i].sign(request, host.now)) for i in who]
    code, out, err = collect(host, answer_frames(urs, folder))
    assert code == 0, out + err


def held(host: Host, request: SpendRequest) -> list[SignatureResponse]:
    with Registry(host.registry) as reg:
        return [r.response for r in reg.responses(request.request_id)]


# enrolment


def test_enrol_shows_the_key_id_in_groups_and_refuses_a_clash(
    tmp_path: Path, fleet: list[FakeStation]
) -> None:
    host = Host(tmp_path)
    record = fleet[0].record()
    path = tmp_path / "k.cbor"
    path.write_bytes(record.to_cbor())
    code, out, _ = host("enrol", "--file", str(path))
    assert code == 0 and "enrolled: station-1" in out
    assert " ".join(record.key_id.hex()[i : i + 8] for i in range(0, 64, 8)) in out
    assert "already enrolled" in host("enrol", "--file", str(path))[1]
    other = replace(fleet[1].record(), station="station-1")
    path.write_bytes(other.to_cbor())
    code, _, err = host("enrol", "--file", str(path))
    assert code == 2 and "already has a key labelled 'cold'" in err
    path.write_bytes(replace(fleet[1].record(), station="station-9").to_cbor())
    assert host("enrol", "--file", str(path))[0] == 0
    path.write_bytes(replace(fleet[1].record(), station="station-1", label="hot").to_cbor())
    code, _, err = host("enrol", "--file", str(path))
    assert code == 2 and "already enrolled as station 'station-9'" in err
    path.write_bytes(record.to_cbor()[:-3])
    code, _, err = host("enrol", "--file", str(path))
    assert code == 1 and "key record" in err and "Traceback" not in err
    with Registry(host.registry) as reg:
        assert [s.record.station for s in reg.stations()] == ["station-1", "station-9"]


def test_attack_9_a_station_holds_one_key_per_vault(tmp_path: Path, fleet: list[FakeStation]) -> None:
    """Issue 12, defect 9: a second key from the same station was refused ('already enrolled with
    another key'), so a station guarding two vaults could not be used."""
    host = Host(tmp_path, now=T0)
    enrol_all(host, tmp_path, fleet)
    create_vault(host, fleet)  # 'cold', over each station's key labelled 'cold'
    hot_keys = [FakeStation(SoftKey(100 + i, s.name), label="hot") for i, s in enumerate(fleet[:3])]
    for s in hot_keys:
        path = tmp_path / f"{s.name}-hot.cbor"
        path.write_bytes(s.record().to_cbor())
        code, out, err = host("enrol", "--file", str(path))
        assert code == 0 and "enrolled: " in out, err
    template = ["--template", str(REPO / "firmware-config/policies/hot-vault.toml")]
    code, _, err = host("vault", "create", "ops", "--station", "station-1", "--threshold", "1", *template)
    assert code == 2 and "holds keys 'cold', 'hot': name one as station-1:LABEL" in err
    code, _, err = host(
        "vault", "create", "ops", "--station", "station-1:cold", "--threshold", "1", *template
    )
    assert code == 2 and "already guards vault 'cold'" in err
    stations_ = [a for s in hot_keys for a in ("--station", f"{s.name}:hot")]
    code, _, err = host("vault", "create", "ops", *stations_, "--threshold", "2", *template)
    assert code == 0, err
    code, out, _ = host("vault", "show", "ops", "--json")
    assert [k["key_id"] for k in json.loads(out)["keys"]] == [s.key.vault_key.key_id.hex() for s in hot_keys]
    code, _, err = host("vault", "export-policy", "ops", "--out-dir", str(tmp_path / "ops"))
    assert code == 0, err
    assert 'key_label = "hot"' in (tmp_path / "ops" / "ops-station-2.toml").read_text()


def test_enrol_by_scanning_the_station_key_qr(tmp_path: Path, fleet: list[FakeStation]) -> None:
    from airgap.ur.ur import UR
    from custody.schemas.key_record import UR_TYPE

    host = Host(tmp_path)
    folder = answer_frames([UR(UR_TYPE, fleet[2].record().to_cbor())], tmp_path / "frames")
    code, out, err = host("enrol", "--scan", str(folder), "--in-process-decoder", "--json")
    assert code == 0, err
    assert json.loads(out)["key_id"] == fleet[2].record().key_id.hex()


# vaults


def test_vault_create_show_and_export_policy_for_every_station(host: Host, tmp_path: Path) -> None:
    code, out, _ = host("vault", "show", "cold", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["threshold"] == 3 and len(shown["keys"]) == 5
    assert shown["rules"]["max_per_spend"] == str(50 * 10**12)
    code, out, err = host("vault", "export-policy", "cold", "--out-dir", str(tmp_path / "policies"))
    assert code == 0, err
    with Registry(host.registry) as reg:
        vault_row = reg.vault("cold")
        assert vault_row is not None
        for station in reg.stations():
            text = (tmp_path / "policies" / f"cold-{station.record.station}.toml").read_text()
            policy = compile_policy(text)
            assert policy == StationPolicy(
                vault=vault_row.definition, key_label="cold", key_id=station.record.key_id
            )
    host("vault", "export", "cold", "--out", str(tmp_path / "vault.cbor"))
    assert VaultDefinition.from_cbor((tmp_path / "vault.cbor").read_bytes()) == vault_row.definition


def test_vault_create_refuses_unknown_stations_bad_thresholds_and_a_second_definition(
    host: Host, fleet: list[FakeStation]
) -> None:
    code, _, err = host(
        "vault", "create", "x", "--station", "nobody", "--threshold", "1", "--asset", "XCH:12"
    )
    assert code == 2 and "these rules are not set" in err
    args = ["--template", str(REPO / "firmware-config/policies/hot-vault.toml")]
    code, _, err = host("vault", "create", "x", "--station", "nobody", "--threshold", "1", *args)
    assert code == 2 and "'nobody' is not enrolled" in err
    code, _, err = host("vault", "create", "x", "--station", "station-1", "--threshold", "1", *args)
    assert code == 2 and "already guards vault 'cold'" in err  # one key per vault
    code, _, err = host("vault", "create", "cold", "--station", "station-1", "--threshold", "1", *args)
    assert code == 2 and "already exists" in err
    spare = [FakeStation(SoftKey(60 + i, f"station-{6 + i}"), label="hot") for i in range(2)]
    for s in spare:
        path = Path(host.registry).parent / f"{s.name}.cbor"
        path.write_bytes(s.record().to_cbor())
        assert host("enrol", "--file", str(path))[0] == 0
    code, _, err = host("vault", "create", "x", "--station", "station-6", "--threshold", "2", *args)
    assert code == 1 and "threshold 2 must be between 1 and 1" in err
    code, _out, err = host(
        "vault",
        "create",
        "hot",
        "--station",
        "station-6",
        "--station",
        "station-7",
        "--threshold",
        "2",
        *args,
    )
    assert code == 0, err


# requests


def test_withdraw_is_built_and_shown(host: Host, tmp_path: Path) -> None:
    request = build(host, "withdraw", "cold", "--amount", "12.5", "--to", "xch1dest")
    assert request.action.amount == 12_500_000_000_000
    assert request.expires_at - request.created_at == HOUR
    code, _, err = host("show", request.request_id.hex()[:8], "--out", str(tmp_path / "req.gif"))
    assert code == 0 and (tmp_path / "req.gif").stat().st_size > 0, err
    code, _out, _ = host("show", request.request_id.hex()[:8], "--out", str(tmp_path / "frames"))
    from airgap.camera.frames import ImageFolderSource
    from airgap.scan import scan
    from airgap.ur.ur import URDecoder

    result = scan(ImageFolderSource(tmp_path / "frames").frames(), URDecoder())
    assert result.ur is not None and result.ur.cbor == request.to_cbor()


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (("withdraw", "cold", "--amount", "60", "--to", "xch1dest"), "per-spend maximum"),
        (("withdraw", "cold", "--amount", "1", "--to", "xch1elsewhere"), "allowlist"),
        (("announce", "cold", "--amount", "1", "--to", "xch1dest"), "no announce delay"),
        (("raise-lock", "cold", "--threshold", "2"), "lock level only goes up"),
        (("rekey", "cold", "--station", "station-1", "--threshold", "1"), "rekey delay"),
    ],
)
def test_requests_the_policy_would_refuse_are_refused_locally(
    host: Host, argv: tuple[str, ...], reason: str
) -> None:
    code, _out, err = host("request", *argv)
    assert code == 22 and reason in err and "station-1" in err
    with Registry(host.registry) as reg:
        assert reg.requests() == []


def test_attack_2_window_and_cooldown_hold_vault_wide_at_the_host(
    host: Host, fleet: list[FakeStation], tmp_path: Path
) -> None:
    """Issue 12, defect 2: rotating quorums each stayed within what they saw. The host now builds
    every request with the vault's history, and checks it as each station will."""

    def withdraw(amount: str) -> tuple[int, str, str]:
        return host("request", "withdraw", "cold", "--amount", amount, "--to", "xch1dest")

    sign_and_collect(
        host,
        fleet,
        build(host, "withdraw", "cold", "--amount", "40", "--to", "xch1dest"),
        (0, 1, 2),
        tmp_path / "a",
    )
    code, _, err = withdraw("1")  # every station sees the vault's last action, not only its own
    assert code == 22 and "station-1, station-2, station-3, station-4, station-5: Too little time" in err
    host.now += HOUR + 120
    second = build(host, "withdraw", "cold", "--amount", "45", "--to", "xch1dest")
    assert len(second.history) == 1 and len(second.history[0].signatures) == 3
    sign_and_collect(host, fleet, second, (2, 3, 4), tmp_path / "b")
    host.now += HOUR + 120
    code, _, err = withdraw("20")  # 40 + 45 + 20 is over 100 a day, whichever three would sign
    assert code == 22 and "leaving 0 of the 3 needed" in err and "vault-wide 85 XCH used" in err
    code, _out, err = withdraw("15")
    assert code == 0, err
    assert json.loads(host("status", "--json")[1])["vaults"][0]["last_action_at"] is not None
    host.now += DAY
    assert withdraw("45")[0] == 0


def test_two_phase_announce_execute_and_cancel(tmp_path: Path, fleet: list[FakeStation]) -> None:
    host = Host(tmp_path, now=T0)
    enrol_all(host, tmp_path, fleet)
    create_vault(host, fleet, 3, "--announce-delay", "1d", "--announce-expiry", "2d")
    host.now = T0 + 2 * HOUR
    code, _, err = host("request", "withdraw", "cold", "--amount", "1", "--to", "xch1dest")
    assert code == 22 and "two phases" in err
    announce = build(host, "announce", "cold", "--amount", "5", "--to", "xch1dest")
    prefix = announce.request_id.hex()[:8]
    code, _, err = host("request", "execute", prefix)
    assert code == 2 and "never finalized" in err
    sign_and_collect(host, fleet, announce, (1, 3, 4), tmp_path / "a")
    assert host("finalize", prefix, "--out", str(tmp_path / "ann.cbor"))[0] == 0
    code, _, err = host("request", "execute", prefix)
    assert code == 22 and "delay has not passed" in err
    code, out, _ = host("status", "--json")
    [ann] = json.loads(out)["vaults"][0]["announcements"]
    assert ann["status"] == "open" and ann["opens_at"] == host.now + DAY
    host.now += DAY + 60
    execute = build(host, "execute", prefix)
    assert execute.action.amount == 5 * 10**12 and execute.action.announce_id == announce.request_id
    cancel = build(host, "cancel", prefix)
    assert cancel.action.announce_id == announce.request_id
    host.now += 3 * DAY
    code, _, err = host("request", "execute", prefix)
    assert code == 22 and "expired before it was executed" in err


def test_rekey_and_raise_lock_make_the_next_generation(
    host: Host, fleet: list[FakeStation], tmp_path: Path
) -> None:
    code, _, err = host(
        "request", "rekey", "cold", "--station", "station-1", "--station", "station-2", "--threshold", "2"
    )
    assert code == 22 and "rekey delay" in err
    host.now = T0 + DAY + 60
    rekey = build(
        host,
        "rekey",
        "cold",
        "--station",
        "station-1",
        "--station",
        "station-2",
        "--station",
        "station-3",
        "--threshold",
        "2",
    )
    sign_and_collect(host, fleet, rekey, (0, 1, 2), tmp_path / "a")
    code, out, err = host("finalize", rekey.request_id.hex()[:8], "--out", str(tmp_path / "rekey.cbor"))
    assert code == 0 and "now generation 2 (2 of 3)" in out, err
    code, out, _ = host("vault", "export-policy", "cold", "--out-dir", str(tmp_path / "p"))
    assert "--authorization" in out and len(list((tmp_path / "p").iterdir())) == 3
    host.now += 2 * HOUR
    lock = build(host, "raise-lock", "cold", "--threshold", "3")
    assert lock.action.threshold == 3
    with Registry(host.registry) as reg:
        assert lock.policy_digest == reg.vault("cold").definition.digest()  # type: ignore[union-attr]
    code, _, err = host("request", "raise-lock", "cold", "--threshold", "4")
    assert code == 22 and "lock level only goes up" in err


# collect


def test_collect_three_of_five_in_shuffled_order_with_a_duplicate_and_foreign_answers(
    host: Host, fleet: list[FakeStation], tmp_path: Path
) -> None:
    request = build(host, "withdraw", "cold", "--amount", "10", "--to", "xch1dest")
    host.now += 5 * 60
    good = {i: fleet[i].sign(request, host.now) for i in (1, 3, 4)}
    twice = fleet[3].key.respond(request, audit_seq=good[3].audit_seq + 5)  # signed again: a new signature
    other_vault = build(host, "withdraw", "cold", "--amount", "1", "--to", "xch1dest")
    stranger = SoftKey(42, "station-x").respond(request)
    never_built = fleet[0].key.respond(replace(request, request_id=b"\x01" * 16))
    for_other = fleet[0].key.respond(other_vault, vault_id="hot")
    refusal = fleet[0].refuse(request, "cooldown", "Too little time has passed.", host.now)
    urs = [response_ur(r) for r in (*good.values(), good[1], twice, stranger, never_built, for_other)]
    folder = answer_frames([*urs, refusal_ur(refusal)], tmp_path / "sitting", shuffle_seed=11)
    code, out, _err = collect(host, folder)
    assert code == 1  # something was rejected
    lines = out.splitlines()
    assert sum(line.startswith("ACCEPTED") for line in lines) == 3
    assert sum(line.startswith("ALREADY-HELD") for line in lines) == 1
    assert any("REJECTED" in line and "station signed twice" in line for line in lines)
    assert any("REJECTED" in line and "not in the vault" in line for line in lines)
    assert any("REJECTED" in line and "never built (foreign)" in line for line in lines)
    assert any("REJECTED" in line and "names vault 'hot'" in line for line in lines)
    assert any("REFUSAL" in line and "station-1" in line and "cooldown" in line for line in lines)
    assert "signed by   station-2, station-4, station-5  (3 of 3 needed)" in out
    assert "quorum reached" in out
    assert {r.station for r in held(host, request)} == {"station-2", "station-4", "station-5"}
    assert held(host, other_vault) == []


def test_collect_over_several_sittings_shows_what_is_still_needed(
    host: Host, fleet: list[FakeStation], tmp_path: Path
) -> None:
    request = build(host, "withdraw", "cold", "--amount", "10", "--to", "xch1dest")
    urs = [response_ur(fleet[4].sign(request, host.now))]
    code, out, _ = collect(host, answer_frames(urs, tmp_path / "one"))
    assert code == 0 and "still needed: 2 more" in out
    code, out, _ = host("status", "--json")
    [pending] = json.loads(out)["vaults"][0]["pending"]
    assert pending["signed_by"] == ["station-5"] and pending["still_needed"] == 2
    code, _, err = host("finalize", request.request_id.hex()[:8], "--out", str(tmp_path / "b.cbor"))
    assert code == 2 and "1 valid signature(s) of 3 needed" in err and "station-1" in err
    assert not (tmp_path / "b.cbor").exists()
    sign_and_collect(host, fleet, request, (0, 2), tmp_path / "two")
    code, _, err = host("finalize", request.request_id.hex()[:8], "--out", str(tmp_path / "b.cbor"))
    assert code == 0, err


def test_corrupt_frames_are_rejected_and_change_nothing(host: Host, tmp_path: Path) -> None:
    from airgap.ur.ur import UR

    request = build(host, "withdraw", "cold", "--amount", "10", "--to", "xch1dest")
    junk = [UR("x-signature-response", b"\xa1\x01\x02"), UR("x-refusal", b"\x01")]
    code, out, _ = collect(host, answer_frames(junk, tmp_path / "junk"))
    assert code == 1 and out.count("REJECTED") == 2 and "malformed" in out
    assert held(host, request) == []


# finalize and verify


@pytest.fixture
def finalized(host: Host, fleet: list[FakeStation], tmp_path: Path) -> tuple[Path, Path, SpendRequest]:
    request = build(host, "withdraw", "cold", "--amount", "10", "--to", "xch1dest")
    sign_and_collect(host, fleet, request, (1, 3, 4), tmp_path / "answers")
    bundle, vault = tmp_path / "bundle.cbor", tmp_path / "vault.cbor"
    code, _out, err = host("finalize", request.request_id.hex()[:8], "--out", str(bundle))
    assert code == 0, err
    host("vault", "export", "cold", "--out", str(vault))
    return vault, bundle, request


def verify(host: Host, vault: Path, bundle: Path, *extra: str) -> tuple[int, str, str]:
    return host("verify", "--vault", str(vault), "--bundle", str(bundle), "--at", str(host.now), *extra)


def test_finalize_writes_a_bundle_that_verifies_with_its_readable_copy(
    host: Host, finalized: tuple[Path, Path, SpendRequest]
) -> None:
    vault, bundle, request = finalized
    code, out, _ = verify(host, vault, bundle)
    assert code == 0 and out.startswith("VALID: withdraw 10 XCH to xch1dest")
    readable = json.loads(bundle.with_suffix(".json").read_text())
    assert readable["request"]["request_id"] == request.request_id.hex()
    assert [s["station"] for s in readable["signatures"]] == ["station-2", "station-4", "station-5"]
    first = bundle.read_bytes()
    code, out, _ = host("finalize", request.request_id.hex()[:8], "--out", str(bundle))
    assert code == 0 and "already finalized" in out and bundle.read_bytes() == first


def _rewrite(bundle: Path, out: Path, **changes: object) -> Path:
    b = SignedBundle.from_cbor(bundle.read_bytes())
    out.write_bytes(replace(b, **changes).to_cbor())  # type: ignore[arg-type]
    return out


def test_verify_refuses_each_tampering_and_shortfall_with_its_reason(
    host: Host, fleet: list[FakeStation], finalized: tuple[Path, Path, SpendRequest], tmp_path: Path
) -> None:
    vault_path, bundle_path, request = finalized
    b = SignedBundle.from_cbor(bundle_path.read_bytes())
    vault = VaultDefinition.from_cbor(vault_path.read_bytes())
    r = b.responses
    stranger = SoftKey(77, "station-2").respond(request)
    forged = replace(r[0], signature=r[1].signature)
    other = replace(vault, vault_id="other")
    (tmp_path / "other.cbor").write_bytes(other.to_cbor())
    cases = {
        "too-few": _rewrite(bundle_path, tmp_path / "few.cbor", responses=r[:2]),
        "duplicate-signer": _rewrite(bundle_path, tmp_path / "dup.cbor", responses=(r[0], r[0], r[1])),
        "unknown-key": _rewrite(bundle_path, tmp_path / "unknown.cbor", responses=(stranger, r[1], r[2])),
        "bad-signature": _rewrite(bundle_path, tmp_path / "forged.cbor", responses=(forged, r[1], r[2])),
        "tampered": _rewrite(
            bundle_path,
            tmp_path / "amount.cbor",
            request=replace(request, action=replace(request.action, amount=11 * 10**12)),  # type: ignore[type-var]
        ),
    }
    for problem, path in cases.items():
        code, out, _ = verify(host, vault_path, path)
        assert code == 1 and f"  {problem}:" in out, (problem, out)
    code, out, _ = host(
        "verify", "--vault", str(tmp_path / "other.cbor"), "--bundle", str(bundle_path), "--at", str(host.now)
    )
    assert code == 1 and "wrong-vault" in out
    code, out, _ = verify(host, vault_path, bundle_path, "--at", str(request.expires_at + 1))
    assert code == 1 and "expired" in out
    data = bundle_path.read_bytes()
    for index in (5, len(data) // 2, len(data) - 3):
        flipped = tmp_path / f"flip{index}.cbor"
        flipped.write_bytes(data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :])
        code, out, err = verify(host, vault_path, flipped)
        assert code == 1 and "INVALID" in out and "Traceback" not in err
    code, out, err = verify(host, vault_path, tmp_path / "missing.cbor")
    assert code == 2 and "cannot read" in err
    assert vault == VaultDefinition.from_cbor(vault_path.read_bytes())
    assert fleet  # the stations' keys are the vault's


def test_verify_json_lists_every_reason(
    host: Host, finalized: tuple[Path, Path, SpendRequest], tmp_path: Path
) -> None:
    vault_path, bundle_path, request = finalized
    b = SignedBundle.from_cbor(bundle_path.read_bytes())
    few = _rewrite(bundle_path, tmp_path / "few.cbor", responses=b.responses[:1])
    code, out, _ = verify(host, vault_path, few, "--json", "--at", str(request.expires_at + 1))
    result = json.loads(out)
    assert code == 1 and not result["valid"]
    assert {r["problem"] for r in result["reasons"]} == {"too-few", "expired"}


# audit


def test_audit_of_honest_stations_is_clean(
    host: Host, fleet: list[FakeStation], finalized: tuple[Path, Path, SpendRequest], tmp_path: Path
) -> None:
    for s in fleet:
        path = tmp_path / f"{s.name}.audit"
        path.write_bytes(s.export(host.now))
        code, out, err = host("audit", str(path), "--json")
        report = json.loads(out)
        assert code == 0 and report["ok"] and report["anomalies"] == [], out + err


def test_audit_flags_a_signature_the_host_never_requested(
    host: Host, fleet: list[FakeStation], finalized: tuple[Path, Path, SpendRequest], tmp_path: Path
) -> None:
    _, _, request = finalized
    vault = VaultDefinition.from_cbor(finalized[0].read_bytes())
    secret = replace(
        request, request_id=b"\x66" * 16, action=replace(request.action, destination="xch1thief")
    )  # type: ignore[type-var]
    fleet[3].sign(secret, host.now + 60)
    path = tmp_path / "s4.audit"
    path.write_bytes(fleet[3].export(host.now))
    code, out, _ = host("audit", str(path), "--json")
    report = json.loads(out)
    assert code == 31 and not report["ok"]
    flags = [f["flag"] for f in report["findings"]]
    assert "unrequested" in flags
    assert any("SIGNATURE on request 66666666" in f["text"] for f in report["findings"])
    assert vault.vault_id == "cold"


def test_audit_flags_a_log_rewritten_after_the_host_saw_its_head(
    host: Host, fleet: list[FakeStation], finalized: tuple[Path, Path, SpendRequest], tmp_path: Path
) -> None:
    station = fleet[1]  # signed the finalized request: the host saw its approve entry's head
    path = tmp_path / "s2.audit"
    path.write_bytes(station.export(host.now))
    assert host("audit", str(path))[0] == 0
    station.rewrite_from(2)  # the approval and signature vanish, a new entry takes seq 2
    path.write_bytes(station.export(host.now))
    code, out, _ = host("audit", str(path))
    assert code == 31 and "FLAG rewritten: entry 2" in out
    assert "FLAG rolled-back" in out  # and entry 3, seen at the first import, is gone


def test_audit_flags_a_broken_chain_and_an_unreadable_export(
    host: Host, fleet: list[FakeStation], tmp_path: Path
) -> None:
    station = fleet[0]
    station.log("scan", {"error": "x"}, host.now)
    station.entries[1] = replace(station.entries[1], at=station.entries[1].at + 1)
    path = tmp_path / "s1.audit"
    path.write_bytes(station.export(host.now))
    code, out, _ = host("audit", str(path))
    assert code == 31 and "FLAG chain: entry 2: hash does not match" in out
    data = station.export(host.now)
    path.write_bytes(data[: len(data) - 10])
    code, out, err = host("audit", str(path))
    assert code == 31 and "FLAG unreadable" in out and "Traceback" not in err
    path.write_bytes(b"\xff\x00")
    code, out, err = host("audit", str(path))
    assert code == 1 and "audit export" in err


def test_a_response_whose_log_head_contradicts_an_earlier_one_is_flagged_at_collection(
    host: Host, fleet: list[FakeStation], tmp_path: Path
) -> None:
    first = build(host, "withdraw", "cold", "--amount", "10", "--to", "xch1dest")
    sign_and_collect(host, fleet, first, (0,), tmp_path / "a")
    fleet[0].rewrite_from(2)  # entry 2 (the approval) replaced; the next approval lands at entry 3
    fleet[0].entries.pop()
    host.now += 3 * HOUR  # the first, one signature short, counts until it expires, then a cooldown
    second = build(host, "withdraw", "cold", "--amount", "10", "--to", "xch1dest")
    urs = [response_ur(fleet[0].sign(second, host.now))]
    code, out, _ = collect(host, answer_frames(urs, tmp_path / "b"))
    assert code == 0 and "its log was rewritten" in out


# the registry


def test_a_registry_from_a_newer_tool_or_not_a_database_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "registry.db"
    Registry(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    host = Host(tmp_path)
    code, _, err = host("status")
    assert code == 5 and "newer than this host tool" in err
    path.unlink()
    path.write_bytes(b"this is not sqlite" * 100)
    code, _, err = host("status")
    assert code == 5 and "not a usable registry" in err


# the attacks of issue 12, through the host's commands


def test_attack_11_verify_names_the_vault_and_can_pin_it(
    host: Host, finalized: tuple[Path, Path, SpendRequest], tmp_path: Path
) -> None:
    """Issue 12, defect 11: verify showed neither the vault digest nor the key ids, and nothing
    pinned the vault file it was given."""
    vault_path, bundle_path, _ = finalized
    vault = VaultDefinition.from_cbor(vault_path.read_bytes())
    code, out, _ = verify(host, vault_path, bundle_path)
    assert code == 0 and vault.digest().hex() in out
    assert all(k.key_id.hex() in out for k in vault.keys) and "not pinned" in out
    assert verify(host, vault_path, bundle_path, "--expect-digest", vault.digest().hex())[0] == 0
    # a look-alike vault (the same keys, one more destination) signs nothing; pinned, it is named
    lookalike = replace(vault, rules=replace(vault.rules, destinations=("xch1dest", "xch1thief")))
    (tmp_path / "lookalike.cbor").write_bytes(lookalike.to_cbor())
    code, out, _ = verify(
        host, tmp_path / "lookalike.cbor", bundle_path, "--expect-digest", vault.digest().hex()
    )
    assert code == 1 and "not the expected" in out and lookalike.digest().hex() in out
    code, _, err = verify(host, vault_path, bundle_path, "--expect-digest", "abcd")
    assert code == 2 and "32 bytes" in err


def test_attack_11_a_salted_commitment_published_early_is_checked_later(
    host: Host, finalized: tuple[Path, Path, SpendRequest], tmp_path: Path
) -> None:
    vault_path, bundle_path, _ = finalized
    code, out, err = host("vault", "commit", "cold", "--json")
    assert code == 0, err
    commitment = json.loads(out)["commitment"]
    assert (
        json.loads(host("vault", "commit", "cold", "--json")[1])["commitment"] == commitment
    )  # one per generation
    opening = tmp_path / "opening.json"
    assert host("vault", "export", "cold", "--out", str(vault_path), "--opening", str(opening))[0] == 0
    salt = json.loads(opening.read_text())["salt"]
    assert VaultDefinition.from_cbor(vault_path.read_bytes()).digest().hex() not in commitment  # it hides it
    pins = ["--commitment", commitment, "--salt", salt]
    code, out, _ = host("check-vault", "--vault", str(vault_path), *pins)
    assert code == 0 and "MATCHES" in out
    assert verify(host, vault_path, bundle_path, *pins)[0] == 0
    wrong_salt = ["--commitment", commitment, "--salt", "00" * 32]
    code, out, _ = host("check-vault", "--vault", str(vault_path), *wrong_salt)
    assert code == 1 and "does not open" in out
    code, _, err = host("check-vault", "--vault", str(vault_path))
    assert code == 2 and "--expect-digest" in err


def test_attack_6_a_malleated_twin_is_rejected_and_the_genuine_answer_accepted(
    host: Host, fleet: list[FakeStation], tmp_path: Path
) -> None:
    """Issue 12, defect 6: the twin (r, n - s) of a genuine P-256 answer, collected first, was
    ACCEPTED, and the genuine one then REJECTED as 'the station signed twice'."""
    from custody.schemas.signatures import P256_ORDER

    request = build(host, "withdraw", "cold", "--amount", "10", "--to", "xch1dest")
    genuine = fleet[1].sign(request, host.now)
    s = int.from_bytes(genuine.signature[32:], "big")
    twin = replace(genuine, signature=genuine.signature[:32] + (P256_ORDER - s).to_bytes(32, "big"))
    code, out, _ = collect(host, answer_frames([response_ur(twin)], tmp_path / "twin"))
    assert code == 1 and "REJECTED" in out and "low-S" in out
    code, out, _ = collect(host, answer_frames([response_ur(genuine)], tmp_path / "genuine"))
    assert code == 0 and "ACCEPTED" in out
    assert held(host, request) == [genuine]


def test_attack_4_an_answer_approved_after_the_hosts_clock_is_not_counted(
    host: Host, fleet: list[FakeStation], tmp_path: Path
) -> None:
    """Issue 12, defect 4: a station clock 90 days fast signed an early execution; nothing noticed."""
    request = build(host, "withdraw", "cold", "--amount", "10", "--to", "xch1dest")
    fast = fleet[2].sign(request, host.now + 90 * DAY)
    code, out, _ = collect(host, answer_frames([response_ur(fast)], tmp_path / "fast"))
    assert code == 1 and "clock-ahead" in out and held(host, request) == []
    path = tmp_path / "s3.audit"
    path.write_bytes(fleet[2].export(host.now + 90 * DAY))
    code, out, _ = host("audit", str(path))
    assert code == 31 and "FLAG clock-ahead" in out


def test_attack_3_host_audit_needs_the_signed_head(
    host: Host, fleet: list[FakeStation], finalized: tuple[Path, Path, SpendRequest], tmp_path: Path
) -> None:
    from custody.schemas.audit_log import export_bytes

    station = fleet[3]  # signed the finalized request
    station.export(host.now)
    path = tmp_path / "unsigned.audit"
    path.write_bytes(export_bytes(station.head(signed=False), station.entries))
    code, out, _ = host("audit", str(path))
    assert code == 31 and "FLAG unsigned-head" in out
