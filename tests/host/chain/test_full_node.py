"""The full node backend, tested at the HTTP boundary: a fake node on 127.0.0.1 that answers the RPC
from a Simulator's state, and nodes that answer badly."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from chia_wallet_sdk import Coin, CoinSpend, CoinState, Signature, Simulator, SpendBundle

from custody.chains.chia.custody import custody_hash, p2_puzzle_hash
from custody.schemas.chain import CHIA_NETWORKS
from host.chain.backend import balance, current_vault
from host.chain.full_node import MAX_ANSWER, FullNodeBackend, NodeConfig, http_post
from host.errors import ChainRejected, ChainUnavailable
from tests.custody.chains.chia.kit import T0, XCH, keys, mint

NET = CHIA_NETWORKS["testnet11"]
Handler = Callable[[str, dict[str, Any]], tuple[int, bytes]]


def _record(state: CoinState) -> dict[str, Any]:
    c = state.coin
    return {
        "coin": {
            "parent_coin_info": "0x" + c.parent_coin_info.hex(),
            "puzzle_hash": "0x" + c.puzzle_hash.hex(),
            "amount": c.amount,
        },
        "confirmed_block_index": state.created_height or 0,
        "spent_block_index": state.spent_height or 0,
        "spent": state.spent_height is not None,
        "coinbase": False,
        "timestamp": T0,
    }


def _bundle(body: dict[str, Any]) -> SpendBundle:
    spends = [
        CoinSpend(
            Coin(
                bytes.fromhex(s["coin"]["parent_coin_info"][2:]),
                bytes.fromhex(s["coin"]["puzzle_hash"][2:]),
                s["coin"]["amount"],
            ),
            bytes.fromhex(s["puzzle_reveal"][2:]),
            bytes.fromhex(s["solution"][2:]),
        )
        for s in body["spend_bundle"]["coin_spends"]
    ]
    return SpendBundle(
        spends, Signature.from_bytes(bytes.fromhex(body["spend_bundle"]["aggregated_signature"][2:]))
    )


def simulator_node(sim: Simulator) -> Handler:
    """What a synced testnet11 node answers, from the Simulator's chain."""

    def answer(endpoint: str, body: dict[str, Any]) -> tuple[int, bytes]:
        result: dict[str, Any]
        if endpoint == "get_network_info":
            result = {"network_name": "testnet11", "network_prefix": "txch", "success": True}
        elif endpoint == "get_coin_records_by_puzzle_hash":
            states = sim.lookup_puzzle_hashes([bytes.fromhex(body["puzzle_hash"][2:])], False)
            shown = [s for s in states if body.get("include_spent_coins") or s.spent_height is None]
            result = {"coin_records": [_record(s) for s in shown], "success": True}
        elif endpoint == "get_coin_record_by_name":
            state = sim.coin_state(bytes.fromhex(body["name"][2:]))
            if state is None:
                result = {"error": f"Coin record {body['name']} not found", "success": False}
            else:
                result = {"coin_record": _record(state), "success": True}
        elif endpoint == "get_coin_records_by_parent_ids":
            states = sim.children(bytes.fromhex(body["parent_ids"][0][2:]))
            result = {"coin_records": [_record(s) for s in states], "success": True}
        elif endpoint == "push_tx":
            try:
                sim.new_transaction(_bundle(body))
                result = {"status": "SUCCESS", "success": True}
            except ValueError as exc:
                result = {"error": str(exc), "success": False}
        else:
            return 404, b"{}"
        return 200, json.dumps(result).encode()

    return answer


@pytest.fixture
def node() -> Iterator[Callable[[Handler], str]]:
    """Serves a handler on 127.0.0.1 and stops the server when the test ends."""
    servers: list[ThreadingHTTPServer] = []

    def serve(handler: Handler) -> str:
        class Node(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                status, data = handler(self.path.strip("/"), json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Node)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def backend(url: str) -> FullNodeBackend:
    return FullNodeBackend(NET, http_post(NodeConfig(url)), lambda: T0)


def test_the_vault_is_found_read_and_spent_through_the_rpc(node: Callable[[Handler], str]) -> None:
    cv = mint(keys(3), 2, fund=(30 * XCH, 25 * XCH))
    chain = backend(node(simulator_node(cv.sim)))
    found = current_vault(chain, cv.launcher_id, [custody_hash(cv.definition.keys, 2)])
    assert found.coin.coin_id() == cv.current.coin.coin_id() and found.proof == cv.current.proof
    total, coins = balance(chain, p2_puzzle_hash(cv.launcher_id))
    assert total == 55 * XCH and len(coins) == 2
    assert chain.coin_state(bytes(32)) is None
    stray = Coin(bytes(32), bytes(32), 1)  # a coin that does not exist: the node refuses the spend
    with pytest.raises(ChainRejected, match="refused"):
        chain.push(SpendBundle([CoinSpend(stray, b"\x80", b"\x80")], Signature.infinity()))


def test_a_node_on_another_network_is_refused(node: Callable[[Handler], str]) -> None:
    def mainnet(endpoint: str, body: dict[str, Any]) -> tuple[int, bytes]:
        return 200, json.dumps({"network_name": "mainnet", "success": True}).encode()

    with pytest.raises(ChainUnavailable, match="on network 'mainnet'"):
        backend(node(mainnet))


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"<html>not json</html>", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"success": true}', "no coin records"),
        (b'{"success": true, "coin_records": [{"coin": {"amount": -1}}]}', "amount out of range"),
        (
            b'{"success": true, "coin_records": [{"confirmed_block_index": 1, '
            b'"coin": {"amount": 1, "parent_coin_info": "0x00"}}]}',
            "bytes",
        ),
        (b'{"success": false, "error": "node is syncing"}', "node is syncing"),
        (b" " * (MAX_ANSWER + 2), "larger than"),
    ],
    ids=["html", "array", "no-records", "negative", "short-id", "refused", "huge"],
)
def test_attack_a_hostile_or_broken_node_is_a_clear_error(
    node: Callable[[Handler], str], answer: bytes, reason: str
) -> None:
    def hostile(endpoint: str, body: dict[str, Any]) -> tuple[int, bytes]:
        if endpoint == "get_network_info":
            return 200, json.dumps({"network_name": "testnet11", "success": True}).encode()
        return 200, answer

    chain = backend(node(hostile))
    with pytest.raises(ChainUnavailable, match=reason):
        chain.coins(hashlib.sha256(b"x").digest())


def test_attack_a_node_answering_with_coins_at_another_puzzle_hash_is_caught(
    node: Callable[[Handler], str],
) -> None:
    """A node that passes off someone else's coins as the vault's funds is not believed."""
    cv = mint(keys(3), 2)
    honest = simulator_node(cv.sim)
    stranger = cv.sim.bls(7 * XCH).coin

    def liar(endpoint: str, body: dict[str, Any]) -> tuple[int, bytes]:
        if endpoint == "get_coin_records_by_puzzle_hash":
            state = cv.sim.coin_state(stranger.coin_id())
            assert state is not None
            return 200, json.dumps({"coin_records": [_record(state)], "success": True}).encode()
        return honest(endpoint, body)

    with pytest.raises(ChainUnavailable, match="another puzzle hash"):
        backend(node(liar)).coins(p2_puzzle_hash(cv.launcher_id))


def test_attack_a_node_answering_with_another_coin_is_caught(node: Callable[[Handler], str]) -> None:
    cv = mint(keys(3), 2)
    honest = simulator_node(cv.sim)

    def liar(endpoint: str, body: dict[str, Any]) -> tuple[int, bytes]:
        if endpoint == "get_coin_record_by_name":  # always the vault's first fund coin
            state = cv.sim.coin_state(cv.coins()[0].coin_id())
            assert state is not None
            return 200, json.dumps({"coin_record": _record(state), "success": True}).encode()
        return honest(endpoint, body)

    with pytest.raises(ChainUnavailable, match="another coin"):
        backend(node(liar)).coin_state(cv.launcher_id)


def test_an_unreachable_node_and_a_missing_configuration_are_clear_errors() -> None:
    with pytest.raises(ChainUnavailable, match="cannot be reached"):
        backend("http://127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(ChainUnavailable, match="AIRGAP_CHIA_NODE"):
        NodeConfig.from_env({})
    with pytest.raises(ChainUnavailable, match="TLS files"):
        NodeConfig("https://127.0.0.1:8555", cert="/nonexistent.crt", key="/nonexistent.key").context()
