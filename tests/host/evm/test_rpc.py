"""The JSON-RPC backend over real HTTP: a server on 127.0.0.1 relays to an embedded EVM (stopped by
the test), so web3's HTTP provider, the Safe reads and the signed broadcast all cross a socket."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from custody.chains.evm.adapter import EvmAdapter
from custody.chains.evm.build import safe_tx, transfer
from custody.chains.evm.safe_tx import checksum
from custody.chains.evm.signatures import address_of, pack
from custody.schemas.request import Withdraw
from host.errors import ChainRejected, ChainUnavailable, UsageError
from host.evm.backend import mismatches, read_safe
from host.evm.embedded import EmbeddedEvm
from host.evm.rpc import RpcEvm
from tests.custody.chains.evm.kit import DEST, ETH, addr, make_vault, request_for, signatures


@pytest.fixture(scope="module")
def node() -> Iterator[tuple[str, EmbeddedEvm]]:
    evm = EmbeddedEvm()
    provider = evm.w3.provider

    class Relay(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            method, params = body["method"], body.get("params", [])
            if method in ("eth_call", "eth_estimateGas") and "from" not in params[0]:
                params[0]["from"] = evm.deployer  # a node takes calls with no sender; eth-tester needs one
            answer: dict[str, Any]
            try:
                answer = provider.make_request(method, params)
            except Exception as exc:  # a revert, as a node answers it: an error object
                answer = {"error": {"code": 3, "message": f"execution reverted: {exc}"}}
            data = json.dumps({"jsonrpc": "2.0", "id": body["id"], **answer}, default=_hex).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", evm
    finally:
        server.shutdown()
        server.server_close()


def _hex(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    raise TypeError(type(value).__name__)


def test_the_rpc_backend_reads_a_safe_and_broadcasts_execution(
    node: tuple[str, EmbeddedEvm], tmp_path: Path
) -> None:
    url, evm = node
    sv = make_vault(evm, 3, 2, salt=41)
    rpc = RpcEvm(url, evm.chain_id, str(tmp_path / "executor.key"))
    state = rpc.safe_state(sv.binding.safe)
    assert (state.threshold, state.nonce, state.version, len(state.owners)) == (2, 0, "1.4.1", 3)
    assert rpc.balance(sv.binding.safe) == 10 * ETH
    tx = transfer(sv.binding, 0, "ETH", addr(DEST), ETH)
    request = request_for(sv, tx, Withdraw(asset="ETH", amount=ETH, destination=DEST), seed="rpc")
    calldata = EvmAdapter().assemble(sv.definition, request, signatures(sv, tx, (0, 2)))
    with pytest.raises(UsageError, match="executor key cannot be read"):
        rpc.push(sv.binding.safe, calldata)
    executor = Account.from_key(bytes(31) + b"\x07")
    (tmp_path / "executor.key").write_text("0x" + (bytes(31) + b"\x07").hex() + "\n")
    evm.fund(executor.address, ETH)
    before = rpc.balance(addr(DEST))
    assert rpc.push(sv.binding.safe, calldata).startswith("0x")
    assert rpc.balance(addr(DEST)) - before == ETH and rpc.safe_state(sv.binding.safe).nonce == 1
    with pytest.raises(ChainRejected, match="GS026"):  # the same execution again: nonce has moved
        rpc.push(sv.binding.safe, calldata)


def test_the_rpc_backend_refuses_another_chain_and_what_is_not_a_safe(node: tuple[str, EmbeddedEvm]) -> None:
    url, evm = node
    with pytest.raises(ChainUnavailable, match="not the vault's 1"):
        RpcEvm(url, 1)
    rpc = RpcEvm(url, evm.chain_id)
    with pytest.raises(ChainUnavailable, match="does not answer as a Safe"):
        rpc.safe_state(addr(DEST))
    with pytest.raises(ChainUnavailable, match="cannot be read"):
        RpcEvm("http://127.0.0.1:9", evm.chain_id)


def test_a_safe_with_a_module_is_not_one_the_host_binds(node: tuple[str, EmbeddedEvm]) -> None:
    """A module moves funds without the owners: the owners enable one, and the host sees it."""
    _url, evm = node
    sv = make_vault(evm, 2, 2, salt=42)
    module = addr(DEST)
    enable = safe_tx(
        sv.binding, 0, sv.binding.safe, 0, keccak(text="enableModule(address)")[:4] + bytes(12) + module
    )
    sigs = signatures(sv, enable, (0, 1))
    owners = [(address_of(k.public), sigs[k.vault_key.key_id]) for k in sv.keys]
    evm.execute(sv.safe, enable.exec_calldata(pack(enable.safe_tx_hash(), owners)))
    state = read_safe(evm.w3, sv.binding.safe)
    assert state.modules == (module,)
    wrong = mismatches(state, frozenset(state.owners), 2, "1.4.1")
    assert len(wrong) == 1 and "module(s)" in wrong[0] and checksum(module) in wrong[0]
