"""The host on the embedded Chia Simulator: mint, fund, build, collect, finalize, submit, release.

Every ``host`` call is a separate command that replays the Simulator's log,
so these also prove the chain persists between commands. The stations are
software keys (tests/host/kit.py); tests/appliance signs with SoftHSM.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from custody.chains.chia.custody import address, decode_address
from custody.schemas.bundle import SignedBundle
from custody.schemas.chain import CHIA_NETWORKS
from custody.schemas.request import SpendRequest
from custody.schemas.vault import VaultDefinition
from host.chain.simulator import SimulatorBackend
from host.registry import Registry
from tests.host.kit import DAY, HOUR, FakeStation, Host, answer_frames, enrol_all, response_ur, stations

NET = CHIA_NETWORKS["simulator"]
DEST = address(hashlib.sha256(b"treasury").digest(), NET)
XCH = 10**12
T0 = 1_790_000_000


def make_vault(host: Host, folder: Path, fleet: list[FakeStation], *extra: str) -> dict[str, object]:
    enrol_all(host, folder, fleet)
    args = ["vault", "create", "cold", "--threshold", "3", "--chain", "simulator", "--json"]
    for s in fleet:
        args += ["--station", s.name]
    args += [
        *("--destination", DEST, "--max-per-spend", "50", "--window-max", "100", "--window", "1d"),
        *("--cooldown", "1h", "--announce-delay", "1d", "--announce-expiry", "1d", "--rekey-delay", "1d"),
        *("--min-per-spend", "1", "--max-fee", "0.001", "--window-count", "10"),
        *("--max-request-lifetime", "1h", "--fund", "60", "--fund", "40"),
        *extra,
    ]
    code, out, err = host(*args)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def definition(host: Host) -> VaultDefinition:
    with Registry(host.registry) as registry:
        row = registry.vault("cold")
    assert row is not None
    return row.definition


def request(host: Host, *argv: str) -> SpendRequest:
    code, out, err = host("request", *argv, "--json")
    assert code == 0, err
    with Registry(host.registry) as registry:
        return registry.find_request(json.loads(out)["request_id"]).request


def approve(
    host: Host,
    folder: Path,
    fleet: list[FakeStation],
    req: SpendRequest,
    name: str,
    signers: int = 3,
    *,
    spend_bundle: bool = True,
) -> Path:
    """``signers`` stations sign; the host collects and finalizes (a Chia vault's spend bundle JSON
    too, unless not asked); the spend bundle JSON's path is returned."""
    vault = definition(host)
    answers = [response_ur(s.sign(req, host.now - 60, vault)) for s in fleet[:signers]]
    code, _, err = host("collect", str(answer_frames(answers, folder / f"{name}-answers")))
    assert code == 0, err
    spend = folder / f"{name}-spend.json"
    extra = ["--spend-bundle", str(spend)] if spend_bundle else []
    code, _out, err = host("finalize", req.request_id.hex(), "--out", str(folder / f"{name}.cbor"), *extra)
    assert code == 0, err
    return spend


def balance(host: Host, puzzle_hash: bytes | None = None) -> int:
    if puzzle_hash is None:
        code, out, err = host("vault", "balance", "cold", "--json")
        assert code == 0, err
        return int(json.loads(out)["balance"])
    chain = SimulatorBackend.open(host.registry, host.now)
    return sum(c.amount for c in chain.coins(puzzle_hash))


def test_mint_announce_cancel_announce_release(tmp_path: Path) -> None:
    host, fleet = Host(tmp_path, T0), stations()
    created = make_vault(host, tmp_path, fleet)
    chain = created["chain"]
    assert isinstance(chain, dict) and chain["address"].startswith("txch1")
    assert balance(host) == 100 * XCH
    dest = decode_address(DEST, NET)

    host.now += 2 * HOUR
    first = request(host, "announce", "cold", "--amount", "20", "--to", DEST, "--fee", "0.0001")
    spend = approve(host, tmp_path, fleet, first, "first")
    assert json.loads(spend.read_text())["spend_bundle"]["coin_spends"]
    code, out, err = host("submit", first.request_id.hex()[:8])
    assert code == 0, err
    assert balance(host) == 80 * XCH - XCH // 10_000
    code, out, _ = host("vault", "balance", "cold")
    assert "in its clawback" in out

    host.now += 2 * HOUR
    cancel = request(host, "cancel", first.request_id.hex()[:8])
    approve(host, tmp_path, list(reversed(fleet)), cancel, "cancel")  # another quorum cancels
    code, _, err = host("submit", cancel.request_id.hex()[:8])
    assert code == 0, err
    assert balance(host) == 100 * XCH - XCH // 10_000
    code, out, _ = host("vault", "balance", "cold")
    assert "cancelled: clawed back" in out

    host.now += 2 * HOUR
    second = request(host, "announce", "cold", "--amount", "30", "--to", DEST)
    approve(host, tmp_path, fleet, second, "second")
    assert host("submit", second.request_id.hex()[:8])[0] == 0
    code, _, err = host("release", second.request_id.hex()[:8])
    assert code == 2 and "cannot be pushed through yet" in err
    host.now += DAY + 2 * HOUR
    code, _, err = host("release", second.request_id.hex()[:8], "--out", str(tmp_path / "release.json"))
    assert code == 0, err
    assert balance(host, dest) == 30 * XCH
    assert balance(host) == 70 * XCH - XCH // 10_000
    code, out, _ = host("vault", "balance", "cold", "--address", DEST)
    assert "paid out" in out and f"{DEST}: 30 TXCH" in out
    # a second push of the same payout: the chain refuses it, nothing changes
    code, _, err = host("release", second.request_id.hex()[:8])
    assert code == 2 and "already spent" in err


def test_verify_judges_the_assembled_spend_and_refuses_a_tampered_one(tmp_path: Path) -> None:
    host, fleet = Host(tmp_path, T0), stations()
    make_vault(host, tmp_path, fleet)
    host.now += 2 * HOUR
    req = request(host, "announce", "cold", "--amount", "20", "--to", DEST)
    approve(host, tmp_path, fleet, req, "a")
    assert host("vault", "export", "cold", "--out", str(tmp_path / "vault.cbor"))[0] == 0
    code, out, err = host(
        "verify", "--vault", str(tmp_path / "vault.cbor"), "--bundle", str(tmp_path / "a.cbor")
    )
    assert code == 0, out + err
    bundle = SignedBundle.from_cbor((tmp_path / "a.cbor").read_bytes())
    # one station's chain signature replaced by its signature over another message: the statement
    # still verifies, the chain signature does not, so only 2 of 3 count
    station = fleet[0]
    forged = station.key.respond(
        bundle.request,
        audit_seq=bundle.responses[0].audit_seq,
        log_head=bundle.responses[0].log_head,
        approved_at=bundle.responses[0].approved_at,
        chain_signature=station.key.sign(bytes(32)),
    )
    tampered = SignedBundle(request=bundle.request, responses=(forged, *bundle.responses[1:]))
    (tmp_path / "t.cbor").write_bytes(tampered.to_cbor())
    code, out, _ = host(
        "verify", "--vault", str(tmp_path / "vault.cbor"), "--bundle", str(tmp_path / "t.cbor")
    )
    assert code == 1 and "bad-signature" in out and "too-few" in out


def test_attack_chain_signature_over_another_spend_is_not_collected(tmp_path: Path) -> None:
    """A station (or someone between it and the host) answers with a genuine statement whose chain
    signature is over another message: the host does not count it, so it cannot make up a quorum."""
    host, fleet = Host(tmp_path, T0), stations()
    make_vault(host, tmp_path, fleet)
    host.now += 2 * HOUR
    req = request(host, "announce", "cold", "--amount", "20", "--to", DEST)
    station = fleet[0]
    bad = station.key.respond(req, approved_at=host.now - 60, chain_signature=station.key.sign(bytes(32)))
    code, out, _ = host("collect", str(answer_frames([response_ur(bad)], tmp_path / "bad")))
    assert code == 1 and "chain signature" in out
    code, _, err = host("finalize", req.request_id.hex()[:8], "--out", str(tmp_path / "x.cbor"))
    assert code == 2 and "0 valid signature(s)" in err


def test_a_request_is_not_built_when_the_vault_holds_too_little(tmp_path: Path) -> None:
    host, fleet = Host(tmp_path, T0), stations()
    make_vault(host, tmp_path, fleet, "--max-per-spend", "500", "--window-max", "1000")
    host.now += 2 * HOUR
    code, _, err = host("request", "announce", "cold", "--amount", "200", "--to", DEST)
    assert code == 2 and "the vault holds 100000000000000 mojos" in err


def test_slow_rekey_scheduled_cancelled_then_released_after_its_delay(tmp_path: Path) -> None:
    """Two of five schedule a rekey; the chain holds it (a day, and a day for the missing signer); the
    main quorum cancels it; scheduled again, it is pushed through once the delay has passed and the
    vault's next generation signs for it."""
    host, fleet = Host(tmp_path, T0), stations()
    make_vault(host, tmp_path, fleet, "--recovery-signers", "2", "--recovery-penalty", "1d")
    code, out, _ = host("vault", "show", "cold")
    assert "slow rekey   2 of 5 may schedule one; the chain holds it 2d" in out
    host.now += 2 * HOUR
    rekey = ["slow-rekey", "cold", "--threshold", "3", "--initiators", "2"]
    rekey += [a for s in fleet[:4] for a in ("--station", s.name)]
    first = request(host, *rekey)
    approve(host, tmp_path, fleet[3:], first, "slow-1", signers=2)
    assert host("submit", first.request_id.hex()[:8])[0] == 0
    code, out, _ = host("vault", "balance", "cold")
    assert "HOLDING slow rekey" in out
    code, _, err = host("request", "announce", "cold", "--amount", "5", "--to", DEST)
    assert code == 2 and "holding the slow rekey" in err
    code, _, err = host("release", first.request_id.hex()[:8])
    assert code == 7 and "AssertSecondsRelativeFailed" in err  # the chain still holds it

    host.now += HOUR
    cancel = request(host, "cancel", first.request_id.hex()[:8])
    approve(host, tmp_path, fleet[:3], cancel, "cancel-rekey")
    assert host("submit", cancel.request_id.hex()[:8])[0] == 0
    code, out, _ = host("vault", "balance", "cold")
    assert "HOLDING" not in out
    code, _, err = host("release", first.request_id.hex()[:8])
    assert code == 2 and "not holding that slow rekey" in err

    host.now += 2 * HOUR
    second = request(host, *rekey)
    approve(host, tmp_path, fleet[3:], second, "slow-2", signers=2)
    assert host("submit", second.request_id.hex()[:8])[0] == 0
    host.now += 2 * DAY + HOUR
    code, out, err = host("release", second.request_id.hex()[:8])
    assert code == 0 and "now generation 2 (3 of 4)" in out, err
    # the new generation: 2 of stations 1-3 pay out (single-phase? no: the vault announces)
    host.now += 2 * HOUR
    ann = request(host, "announce", "cold", "--amount", "5", "--to", DEST)
    approve(host, tmp_path, fleet[1:4], ann, "after")
    assert host("submit", ann.request_id.hex()[:8])[0] == 0


def test_attack_a_rekey_to_a_lock_level_the_recovery_path_could_reach_is_not_built(tmp_path: Path) -> None:
    host, fleet = Host(tmp_path, T0), stations()
    make_vault(host, tmp_path, fleet, "--recovery-signers", "2", "--recovery-penalty", "1d")
    host.now += 2 * DAY
    args = ["request", "slow-rekey", "cold", "--threshold", "2", "--initiators", "2"]
    code, _, err = host(*args, *[a for s in fleet[:3] for a in ("--station", s.name)])
    assert code == 2 and "recovery_signers must be 1 to 1" in err
