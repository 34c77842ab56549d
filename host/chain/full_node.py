"""The production chain: a Chia full node's RPC, over HTTPS with the node's client certificate.

Only what the host needs: coin records by puzzle hash, by name and by
parent, ``push_tx``, and the network's name (checked against the vault's, so
a mainnet vault is never read from a testnet node). The node's RPC uses
mutual TLS: its ``private_ca.crt`` signs both ends, so the host presents
``private_full_node.crt``/``.key`` and trusts only that CA. Every answer is
capped in size and parsed strictly; anything else is ChainUnavailable.

Configured by environment, so no secret sits on a command line:

=========================  ======================================================
AIRGAP_CHIA_NODE           the RPC URL, e.g. https://127.0.0.1:8555
AIRGAP_CHIA_NODE_CERT      the client certificate (private_full_node.crt)
AIRGAP_CHIA_NODE_KEY       its key (private_full_node.key)
AIRGAP_CHIA_NODE_CA        the node's CA (private_ca.crt)
=========================  ======================================================
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chia_wallet_sdk import Coin, CoinState, SpendBundle

from custody.chains.chia.assemble import push_tx_json
from custody.schemas.chain import ChiaNetwork
from host.errors import ChainRejected, ChainUnavailable

MAX_ANSWER = 16 * 1024 * 1024
TIMEOUT_SECONDS = 30
ENV = ("AIRGAP_CHIA_NODE", "AIRGAP_CHIA_NODE_CERT", "AIRGAP_CHIA_NODE_KEY", "AIRGAP_CHIA_NODE_CA")


@dataclass(frozen=True, slots=True)
class NodeConfig:
    url: str
    cert: str | None = None
    key: str | None = None
    ca: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> NodeConfig:
        url = env.get(ENV[0], "")
        if not url:
            raise ChainUnavailable(
                f"no full node is configured: set {ENV[0]} (and {', '.join(ENV[1:])} for its TLS)"
            )
        return cls(url.rstrip("/"), env.get(ENV[1]), env.get(ENV[2]), env.get(ENV[3]))

    def context(self) -> ssl.SSLContext | None:
        if not self.url.startswith("https://"):
            return None
        try:
            context = ssl.create_default_context(cafile=self.ca)
            if self.ca:  # the node's own CA signs a certificate for "chia.net", not its address
                context.check_hostname = False
            if self.cert:
                context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise ChainUnavailable(f"the node's TLS files cannot be loaded: {exc}") from None
        return context


Post = Callable[[str, dict[str, Any]], dict[str, Any]]


def http_post(config: NodeConfig) -> Post:
    context = config.context()

    def post(endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{config.url}/{endpoint}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS, context=context) as answer:
                data = answer.read(MAX_ANSWER + 1)
        except urllib.error.HTTPError as exc:
            data = exc.read(MAX_ANSWER + 1)  # the node reports refusals as JSON with an error status
        except (urllib.error.URLError, OSError) as exc:
            raise ChainUnavailable(f"the full node at {config.url} cannot be reached: {exc}") from None
        if len(data) > MAX_ANSWER:
            raise ChainUnavailable(f"the node's answer to {endpoint} is larger than {MAX_ANSWER} bytes")
        try:
            value = json.loads(data)
        except ValueError:
            raise ChainUnavailable(f"the node's answer to {endpoint} is not JSON") from None
        if not isinstance(value, dict):
            raise ChainUnavailable(f"the node's answer to {endpoint} is not a JSON object")
        return value

    return post


def _bytes32(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise ChainUnavailable(f"the node sent a {what} that is not text")
    text = value[2:] if value.startswith("0x") else value
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ChainUnavailable(f"the node sent a {what} that is not hex") from None
    if len(raw) != 32:
        raise ChainUnavailable(f"the node sent a {what} of {len(raw)} bytes")
    return raw


def _height(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ChainUnavailable("the node sent a block height that is not a natural number")
    return value


def coin_state(record: Any) -> CoinState:
    """A node's coin record as the SDK's CoinState; ChainUnavailable if it is malformed."""
    if not isinstance(record, dict) or not isinstance(record.get("coin"), dict):
        raise ChainUnavailable("the node sent a coin record without a coin")
    coin = record["coin"]
    amount = coin.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount < 2**64:
        raise ChainUnavailable("the node sent a coin amount out of range")
    spent = record.get("spent_block_index", 0)
    created = _height(record.get("confirmed_block_index"))
    return CoinState(
        Coin(
            _bytes32(coin.get("parent_coin_info"), "parent id"),
            _bytes32(coin.get("puzzle_hash"), "puzzle hash"),
            amount,
        ),
        _height(spent) if spent else None,
        created,
    )


class FullNodeBackend:
    """The ChiaBackend over a node's RPC; ``post`` is the HTTP boundary (tests replace the server)."""

    def __init__(self, network: ChiaNetwork, post: Post, clock: Callable[[], int]) -> None:
        self.network = network.name
        self._post = post
        self._clock = clock
        info = self._call("get_network_info", {})
        name = info.get("network_name")
        if name != network.name:
            raise ChainUnavailable(f"the node is on network {name!r}, the vault on {network.name!r}")

    def _call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self._post(endpoint, body)
        if answer.get("success") is not True:
            error = answer.get("error")
            raise ChainUnavailable(
                f"the node refused {endpoint}: {error if isinstance(error, str) else answer}"
            )
        return answer

    def _records(self, answer: dict[str, Any]) -> list[CoinState]:
        records = answer.get("coin_records")
        if not isinstance(records, list):
            raise ChainUnavailable("the node's answer has no coin records")
        return [coin_state(r) for r in records]

    def now(self) -> int:
        return self._clock()

    def coins(self, puzzle_hash: bytes) -> list[Coin]:
        body = {"puzzle_hash": "0x" + puzzle_hash.hex(), "include_spent_coins": False}
        states = self._records(self._call("get_coin_records_by_puzzle_hash", body))
        if any(s.coin.puzzle_hash != puzzle_hash for s in states):
            raise ChainUnavailable("the node answered with coins of another puzzle hash")
        return [s.coin for s in states if s.spent_height is None]

    def coin_state(self, coin_id: bytes) -> CoinState | None:
        answer = self._post("get_coin_record_by_name", {"name": "0x" + coin_id.hex()})
        if answer.get("success") is not True:
            error = answer.get("error")
            if isinstance(error, str) and "not found" in error:
                return None
            raise ChainUnavailable(f"the node refused get_coin_record_by_name: {error}")
        state = coin_state(answer.get("coin_record"))
        if state.coin.coin_id() != coin_id:
            raise ChainUnavailable("the node answered with another coin than the one asked for")
        return state

    def children(self, coin_id: bytes) -> list[CoinState]:
        body = {"parent_ids": ["0x" + coin_id.hex()], "include_spent_coins": True}
        states = self._records(self._call("get_coin_records_by_parent_ids", body))
        if any(s.coin.parent_coin_info != coin_id for s in states):
            raise ChainUnavailable("the node answered with coins of another parent")
        return states

    def push(self, bundle: SpendBundle) -> None:
        answer = self._post("push_tx", push_tx_json(bundle))
        if answer.get("success") is not True:
            raise ChainRejected(f"the node refused the spend bundle: {answer.get('error', answer)}")
        status = answer.get("status")
        if status not in ("SUCCESS", "PENDING"):
            raise ChainRejected(f"the node did not take the spend bundle: status {status!r}")
