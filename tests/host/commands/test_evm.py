"""The host with a Safe vault on the embedded EVM: create, fund, build, collect, finalize, submit.

Every ``host`` call is a separate command that replays the embedded EVM's
log, so these also prove the chain persists between commands; the Safe's
own contract executes what the host finalized. The stations are software
secp256k1 keys (tests/host/kit.py); tests/appliance signs with SoftHSM.
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_utils.crypto import keccak

from custody.chains.evm.safe_tx import checksum, parse_payload
from custody.chains.evm.signatures import address_of
from custody.schemas.key_record import Algorithm
from custody.schemas.request import SpendRequest
from host.evm.logged import LoggedEvm, evm_log
from tests.custody.schemas.fixtures import SoftKey
from tests.host.commands.test_chain import approve as chain_approve
from tests.host.commands.test_chain import definition, request
from tests.host.kit import HOUR, FakeStation, Host, answer_frames, enrol_all, response_ur

DEST = checksum(keccak(b"treasury")[-20:])
ETH = 10**18
T0 = 1_790_000_000


def k1_stations(n: int = 6) -> list[FakeStation]:
    return [FakeStation(SoftKey(100 + i, f"k1-{i}", Algorithm.SECP256K1)) for i in range(1, n + 1)]


def make_safe_vault(host: Host, folder: Path, fleet: list[FakeStation], *extra: str) -> dict[str, object]:
    enrol_all(host, folder, fleet)
    token = checksum(LoggedEvm(folder / "probe.cbor").token)  # deterministic: the same in every instance
    args = ["vault", "create", "cold", "--threshold", "3", "--chain", "evm", "--json", "--asset", "ETH:18"]
    for s in fleet[:5]:
        args += ["--station", s.name]
    args += [
        *("--destination", DEST, "--max-per-spend", "5", "--window-max", "8", "--window", "1d"),
        *("--cooldown", "1h", "--announce-delay", "0", "--announce-expiry", "0", "--rekey-delay", "1h"),
        *("--min-per-spend", "0.01", "--max-fee", "0", "--window-count", "10"),
        *("--max-request-lifetime", "1h", "--fund", "10", "--token", f"{token}:TST:18:500:800"),
        *extra,
    ]
    code, out, err = host(*args)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def approve(host: Host, folder: Path, fleet: list[FakeStation], req: SpendRequest, name: str) -> None:
    """Three stations sign; the host collects and finalizes (writing NAME-exec.hex, NAME-safe-tx.json)."""
    chain_approve(host, folder, fleet, req, name, spend_bundle=False)


def safe_balance(host: Host) -> dict[str, object]:
    code, out, err = host("vault", "balance", "cold", "--json", "--address", DEST)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def submit(host: Host, req: SpendRequest) -> None:
    code, _, err = host("submit", req.request_id.hex()[:8])
    assert code == 0, err


def test_eth_and_token_transfers_execute_at_successive_nonces_and_the_files_are_what_a_safe_takes(
    tmp_path: Path,
) -> None:
    host, fleet = Host(tmp_path, T0), k1_stations()
    make_safe_vault(host, tmp_path, fleet)
    vault = definition(host)
    assert host("vault", "fund", "cold", "--amount", "1000", "--token", "TST")[0] == 0
    before = safe_balance(host)
    assert (before["balance"], before["tokens"], before["nonce"]) == (
        str(10 * ETH),
        {"TST": str(1000 * ETH)},
        0,
    )

    host.now += 2 * HOUR
    first = request(host, "withdraw", "cold", "--amount", "1.5", "--to", DEST)
    assert first.sequence == 0 and parse_payload(first.payload).nonce == 0
    approve(host, tmp_path, fleet, first, "first")
    body = json.loads((tmp_path / "first-safe-tx.json").read_text())
    tx = parse_payload(first.payload)
    assert body["safeTxHash"] == "0x" + tx.safe_tx_hash().hex() == body["contractTransactionHash"]
    owners = sorted(address_of(s.key.public) for s in fleet[:3])
    packed = bytes.fromhex(body["signatures"][2:])
    assert [packed[65 * i + 64] for i in range(3)] != [] and len(packed) == 195
    assert body["owners"] == [checksum(o) for o in sorted(address_of(k.public_key) for k in vault.keys)]
    assert (body["threshold"], body["nonce"], body["to"], body["value"]) == (3, 0, DEST, str(15 * ETH // 10))
    assert body["sender"] == checksum(owners[0])
    assert (tmp_path / "first-exec.hex").read_text().startswith("0x6a761202")  # execTransaction
    submit(host, first)
    after = safe_balance(host)
    assert after["balance"] == str(10 * ETH - 15 * ETH // 10) and after["nonce"] == 1
    assert after["addresses"] == {DEST: {"ETH": str(15 * ETH // 10), "TST": "0"}}

    host.now += 2 * HOUR
    second = request(host, "withdraw", "cold", "--amount", "250", "--to", DEST, "--token", "TST")
    assert second.sequence == 1
    assert first.core() in [e.request for e in second.history]  # no gap: the stations see nonce 0
    approve(host, tmp_path, list(reversed(fleet[:5])), second, "second")
    submit(host, second)
    assert safe_balance(host)["tokens"] == {"TST": str(750 * ETH)}

    # the same finalized transaction again: the Safe's nonce has moved on, the contract refuses it
    code, _, err = host("submit", second.request_id.hex()[:8])
    assert code == 7 and "GS026" in err


def test_a_rekey_swaps_an_owner_on_the_safe_and_the_next_generation_starts_at_the_next_nonce(
    tmp_path: Path,
) -> None:
    host, fleet = Host(tmp_path, T0), k1_stations()
    make_safe_vault(host, tmp_path, fleet)
    host.now += 2 * HOUR
    stations = [a for s in [*fleet[:4], fleet[5]] for a in ("--station", s.name)]
    rekey = request(host, "rekey", "cold", "--threshold", "3", *stations)
    assert rekey.sequence == 0
    approve(host, tmp_path, fleet, rekey, "rekey")
    successor = definition(host)
    assert successor.generation == 2 and successor.chain.first_nonce == 1  # type: ignore[union-attr]
    submit(host, rekey)
    state = safe_balance(host)
    assert sorted(state["owners"]) == sorted(checksum(address_of(k.public_key)) for k in successor.keys)  # type: ignore[arg-type]
    host.now += 2 * HOUR
    pay = request(host, "withdraw", "cold", "--amount", "1", "--to", DEST)
    assert pay.sequence == 1
    approve(host, tmp_path, [fleet[5], *fleet[:2]], pay, "pay")  # the new owner counts
    submit(host, pay)
    assert safe_balance(host)["balance"] == str(9 * ETH)


def test_too_few_signatures_are_not_finalized_and_a_foreign_safe_is_not_bound(tmp_path: Path) -> None:
    host, fleet = Host(tmp_path, T0), k1_stations()
    created = make_safe_vault(host, tmp_path, fleet)
    host.now += 2 * HOUR
    req = request(host, "withdraw", "cold", "--amount", "1", "--to", DEST)
    answers = [response_ur(s.sign(req, host.now - 60, definition(host))) for s in fleet[:2]]
    assert host("collect", str(answer_frames(answers, tmp_path / "two")))[0] == 0
    code, _, err = host("finalize", req.request_id.hex()[:8], "--out", str(tmp_path / "x.cbor"))
    assert code == 2 and "2 valid signature(s)" in err
    # a second vault over other stations, pointed at the first vault's Safe: the contract disagrees
    chain = created["chain"]
    assert isinstance(chain, dict)
    args = ["vault", "create", "other", "--threshold", "1", "--chain", "evm", "--safe", chain["safe"]]
    code, _, err = host(
        *args,
        *("--station", "k1-6", "--asset", "ETH:18", "--destination", DEST, "--max-per-spend", "1"),
        *("--window-max", "1", "--window", "1d", "--cooldown", "0s", "--announce-delay", "0"),
        *("--announce-expiry", "0", "--rekey-delay", "1h", "--min-per-spend", "0.01", "--max-fee", "0"),
        *("--window-count", "1", "--max-request-lifetime", "1h"),
    )
    assert code == 2 and "is not this vault" in err and "its threshold is 3, not 1" in err
    assert evm_log(host.registry).exists()
