"""The Bitcoin RPC client against a real node: a local litecoind regtest (one for the module), whose
segwit v0 rules are Bitcoin's, so the coins, amounts and previous transactions it serves are real."""

from __future__ import annotations

import hashlib
import random
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from embit.script import Script, Witness
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from host.chain.bitcoin_regtest import RegtestNode, litecoin_address
from host.chain.bitcoin_rpc import (
    BitcoinRpc,
    RpcError,
    Utxo,
    balance_of,
    broadcast,
    mempool_accept,
    utxos_of,
)

pytestmark = pytest.mark.skipif(shutil.which("litecoind") is None, reason="litecoind is not installed")

SCRIPT = b"\x00\x20" + random.Random(20240611).randbytes(32)  # P2WSH-shaped; never spent
AMOUNTS = (150_000_000, 25_000_000)
SECRET = "s3cret-Passw0rd"
SINK = b"\x00\x14" + bytes(20)  # where test spends go, apart from SCRIPT


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegtestNode]:
    regtest = RegtestNode(tmp_path_factory.mktemp("litecoind"))
    regtest.start()
    process = regtest.process
    assert process is not None
    try:
        yield regtest
    finally:
        regtest.stop()
        assert process.poll() is not None, "the node outlived its fixture"


@pytest.fixture(scope="module")
def funded(node: RegtestNode) -> list[tuple[bytes, int]]:
    return [node.fund(SCRIPT, sats) for sats in AMOUNTS]


def test_utxos_are_exact_and_carry_their_previous_transaction(
    node: RegtestNode, funded: list[tuple[bytes, int]]
) -> None:
    utxos = utxos_of(node.rpc, SCRIPT)
    assert [(u.txid, u.vout, u.amount) for u in utxos] == [
        (*out, sats) for out, sats in zip(funded, AMOUNTS, strict=True)
    ]
    assert utxos[0].height < utxos[1].height  # each funding was mined in its own block
    for utxo in utxos:
        prev = Transaction.parse(utxo.prev_tx)
        assert prev.txid() == utxo.txid
        assert prev.vout[utxo.vout].script_pubkey.data == SCRIPT
        assert prev.vout[utxo.vout].value == utxo.amount


def test_balance_is_the_sum(node: RegtestNode, funded: list[tuple[bytes, int]]) -> None:
    assert balance_of(node.rpc, SCRIPT) == sum(AMOUNTS)
    assert balance_of(node.rpc, b"\x00\x20" + bytes(32)) == 0
    assert utxos_of(node.rpc, b"\x00\x20" + bytes(32)) == []


def test_garbage_is_refused_cleanly(node: RegtestNode) -> None:
    allowed, reason = mempool_accept(node.rpc, b"\xde\xad\xbe\xef")
    assert not allowed
    assert "decode" in reason
    with pytest.raises(RpcError, match="decode") as raised:
        broadcast(node.rpc, b"\xde\xad\xbe\xef")
    assert raised.value.code == -22


def test_the_node_judges_a_witness_spend(node: RegtestNode) -> None:
    """The regtest node is the tests' judge: a wrong witness fails to mine, the right one mines."""
    witness_script = b"\x51"  # OP_TRUE
    script = b"\x00\x20" + hashlib.sha256(witness_script).digest()
    assert litecoin_address(script).startswith("rltc1q")
    txid, vout = node.fund(script, 10_000_000)
    [coin] = utxos_of(node.rpc, script)
    assert coin == Utxo(txid, vout, 10_000_000, coin.prev_tx, coin.height)

    def spend(item: bytes) -> bytes:
        tx_in = TransactionInput(txid, vout, witness=Witness([item]))
        out: bytes = Transaction(vin=[tx_in], vout=[TransactionOutput(9_990_000, Script(SINK))]).serialize()
        return out

    with pytest.raises(RpcError, match=r"block-validation-failed.*Witness program hash mismatch"):
        node.mine_tx(spend(b"\x52"))
    assert mempool_accept(node.rpc, spend(witness_script)) == (True, "")
    block = node.mine_tx(spend(witness_script))
    assert node.rpc.call("getbestblockhash") == block
    assert utxos_of(node.rpc, script) == []


def test_connection_refused_names_no_secret() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: refused
        for rpc in (
            BitcoinRpc(f"http://127.0.0.1:{port}", user="alice", password=SECRET, timeout=5),
            BitcoinRpc(f"http://alice:{SECRET}@127.0.0.1:{port}", user="alice", password=SECRET),
        ):
            with pytest.raises(RpcError, match="cannot reach the node") as raised:
                rpc.call("getblockcount")
            assert SECRET not in str(raised.value)
            assert raised.value.__cause__ is None


def test_wrong_password_names_no_secret(node: RegtestNode) -> None:
    with pytest.raises(RpcError, match="401") as raised:
        BitcoinRpc(node.url, user="__cookie__", password=SECRET).call("getblockcount")
    assert SECRET not in str(raised.value)


def test_from_env(node: RegtestNode, tmp_path: Path) -> None:
    assert BitcoinRpc.from_env({}) is None
    assert BitcoinRpc.from_env({"AIRGAP_BITCOIN_COOKIE": str(node.cookie_path)}) is None

    rpc = BitcoinRpc.from_env(
        {"AIRGAP_BITCOIN_RPC": node.url, "AIRGAP_BITCOIN_COOKIE": str(node.cookie_path)}
    )
    assert rpc is not None
    assert rpc.call("getblockcount") >= 101

    user, password = node.cookie_path.read_text().strip().split(":", 1)
    rpc = BitcoinRpc.from_env({"AIRGAP_BITCOIN_RPC": node.url.replace("//", f"//{user}:{password}@")})
    assert rpc is not None
    assert password not in rpc.url
    assert rpc.call("getblockcount") >= 101

    missing = {"AIRGAP_BITCOIN_RPC": node.url, "AIRGAP_BITCOIN_COOKIE": str(tmp_path / "no.cookie")}
    with pytest.raises(RpcError, match="AIRGAP_BITCOIN_COOKIE"):
        BitcoinRpc.from_env(missing)
