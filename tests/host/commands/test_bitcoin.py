"""The host with a Bitcoin vault on a regtest node: create, export the descriptor, build a PSBT from the
node's UTXOs (or take another coordinator's), collect, finalize, verify, broadcast.

The stations are software secp256k1 keys (tests/host/kit.py); tests/appliance
signs with SoftHSM. The node (tests/conftest.py) mines what the host broadcast.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from embit.descriptor.checksum import checksum

from custody.chains.bitcoin.build import Coin, build
from custody.chains.bitcoin.script import script_of
from custody.chains.bitcoin.script import vault_script_pubkey as vault_script
from custody.schemas.key_record import Algorithm
from host.chain.bitcoin_rpc import ENV_COOKIE, ENV_URL, balance_of, utxos_of
from tests.custody.chains.bitcoin.kit import BTC, DEST, OTHER
from tests.custody.schemas.fixtures import SoftKey
from tests.host.commands.test_chain import approve, definition, request
from tests.host.kit import HOUR, FakeStation, Host, enrol_all

T0 = 1_790_000_000


@pytest.fixture
def node(regtest: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(ENV_URL, regtest.url)
    monkeypatch.setenv(ENV_COOKIE, str(regtest.cookie_path))
    return regtest


def btc_vault(host: Host, folder: Path, seed: int) -> list[FakeStation]:
    fleet = [FakeStation(SoftKey(seed + i, f"btc-{i}", Algorithm.SECP256K1)) for i in range(3)]
    enrol_all(host, folder, fleet)
    args = ["vault", "create", "cold", "--threshold", "2", "--chain", "bitcoin", "--network", "regtest"]
    for s in fleet:
        args += ["--station", s.name]
    args += [
        *("--asset", "BTC:8", "--destination", DEST, "--max-per-spend", "2", "--window-max", "3"),
        *("--window", "1d", "--cooldown", "1h", "--announce-delay", "0", "--announce-expiry", "0"),
        *("--rekey-delay", "1h", "--min-per-spend", "0.001", "--max-fee", "0.001", "--window-count", "10"),
        *("--max-request-lifetime", "1h", "--max-fee-rate", "20"),
    ]
    code, _, err = host(*args)
    assert code == 0, err
    return fleet


def test_a_withdrawal_from_the_nodes_coins_is_finalized_verified_broadcast_and_mined(
    node: Any, tmp_path: Path
) -> None:
    host = Host(tmp_path, T0)
    fleet = btc_vault(host, tmp_path, 700)
    vault = definition(host)
    node.fund(vault_script(vault), BTC)
    node.fund(vault_script(vault), BTC // 2)
    code, out, err = host("vault", "balance", "cold", "--json")
    assert code == 0, err
    assert json.loads(out)["balance"] == BTC + BTC // 2

    host.now += 2 * HOUR
    req = request(host, "withdraw", "cold", "--amount", "1.2", "--to", DEST, "--fee-rate", "3")
    assert req.fee > 0
    approve(host, tmp_path, list(reversed(fleet)), req, "first", signers=2, spend_bundle=False)
    final = base64.b64decode((tmp_path / "first-final.psbt").read_text())
    assert final.startswith(b"psbt\xff")
    raw_tx = (tmp_path / "first-tx.hex").read_text().strip()
    code, out, err = host("vault", "export", "cold", "--out", str(tmp_path / "v.cbor"))
    assert code == 0, err
    code, out, _ = host(
        "verify", "--vault", str(tmp_path / "v.cbor"), "--bundle", str(tmp_path / "first.cbor")
    )
    assert code == 0 and out.startswith("VALID"), out

    code, out, err = host("submit", req.request_id.hex()[:8], "--json")
    assert code == 0, err
    assert json.loads(out)["txid"] and raw_tx
    node.mine(1)
    assert balance_of(node.rpc, script_of(DEST, "regtest")) >= int(1.2 * BTC)
    left = sum(u.amount for u in utxos_of(node.rpc, vault_script(vault)))
    assert left == BTC + BTC // 2 - int(1.2 * BTC) - req.fee


def test_the_descriptor_export_is_bip380_with_its_checksum(node: Any, tmp_path: Path) -> None:
    host = Host(tmp_path, T0)
    fleet = btc_vault(host, tmp_path, 710)
    out = tmp_path / "descriptor.txt"
    code, text, err = host("vault", "export", "cold", "--format", "descriptor", "--out", str(out))
    assert code == 0, err
    body, _, check = out.read_text().strip().partition("#")
    assert body.startswith("wsh(sortedmulti(2,") and body.endswith("))")
    listed = body.removeprefix("wsh(sortedmulti(2,").removesuffix("))").split(",")
    assert sorted(listed) == sorted(s.key.public.hex() for s in fleet)
    assert check == checksum(body)
    assert "change returns to it" in text


def test_a_psbt_from_another_coordinator_becomes_the_request(node: Any, tmp_path: Path) -> None:
    host = Host(tmp_path, T0)
    btc_vault(host, tmp_path, 720)
    vault = definition(host)
    node.fund(vault_script(vault), BTC)
    coins = [Coin(u.txid, u.vout, u.amount, u.prev_tx) for u in utxos_of(node.rpc, vault_script(vault))]
    psbt, fee = build(vault, coins, DEST, BTC // 4, 2)
    (tmp_path / "sparrow.psbt").write_text(base64.b64encode(psbt).decode() + "\n")
    host.now += 2 * HOUR
    args = ("withdraw", "cold", "--amount", "0.25", "--to", DEST, "--psbt", str(tmp_path / "sparrow.psbt"))
    req = request(host, *args)
    assert (req.payload, req.fee) == (psbt, fee)
    # the same PSBT named as another payment is not built: the stations would refuse it
    code, _, err = host(
        "request",
        "withdraw",
        "cold",
        "--amount",
        "0.3",
        "--to",
        DEST,
        "--psbt",
        str(tmp_path / "sparrow.psbt"),
    )
    assert code == 22 and "spend matches" in err, err


def test_what_a_bitcoin_vault_cannot_do_is_said_plainly(
    node: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = Host(tmp_path, T0)
    fleet = btc_vault(host, tmp_path, 730)
    code, _, err = host(
        "request", "rekey", "cold", *[a for s in fleet for a in ("--station", s.name)], "--threshold", "3"
    )
    assert code == 2 and "new address" in err
    host.now += 2 * HOUR
    node.fund(vault_script(definition(host)), BTC)
    code, _, err = host("request", "withdraw", "cold", "--amount", "0.5", "--to", OTHER)
    assert code == 22 and "NOT on the allowlist" in err, err
    code, _, err = host("vault", "fund", "cold", "--amount", "1")
    assert code == 2 and "bcrt1" in err
    monkeypatch.delenv(ENV_URL)
    code, _, err = host("request", "withdraw", "cold", "--amount", "0.5", "--to", DEST)
    assert code == 2 and ENV_URL in err
