"""A Bitcoin-Core-compatible node's JSON-RPC, over plain HTTP with the standard library.

Only what the host needs: the coins paying one scriptPubKey (with each one's
full previous transaction, so a signer can check the amount against the
txid), a balance, a mempool dry run and a broadcast. Answers are capped in
size and amounts parsed as Decimal, so satoshis are exact; every failure is
one RpcError line that never names the password or the cookie. Proxies from
the environment are ignored and credentials do not follow a redirect: the
password goes to the configured node or nowhere.

Configured by environment, so no secret sits on a command line:

=======================  =====================================================
AIRGAP_BITCOIN_RPC       the RPC URL, e.g. http://127.0.0.1:18443 (it may carry
                         ``user:pass@``)
AIRGAP_BITCOIN_COOKIE    the node's ``.cookie`` file (``user:password``), which
                         takes precedence over credentials in the URL
=======================  =====================================================
"""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from host.errors import HostError

ENV_URL = "AIRGAP_BITCOIN_RPC"
ENV_COOKIE = "AIRGAP_BITCOIN_COOKIE"
MAX_ANSWER = 32 * 1024 * 1024
SATS_PER_BTC = 100_000_000
RPC_DESERIALIZATION_ERROR = -22
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_STATUS = {401: "(the credentials were refused)", 403: "(this address may not use the RPC)"}


class RpcError(HostError):
    """The node could not be reached, or refused or garbled an answer; ``code`` is the RPC error code."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class BitcoinRpc:
    def __init__(self, url: str, *, user: str, password: str, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:  # a bad port fails at the call
            raise RpcError(f"not an http(s) RPC URL: {_redact(url)}")
        self.url = _redact(url)  # credentials travel only in the header, never in the URL or a message
        self.timeout = timeout
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._auth = f"Basic {token}"
        self._ids = itertools.count(1)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> BitcoinRpc | None:
        """The configured node, or None when no node is configured (the caller decides if it needs one)."""
        url = env.get(ENV_URL, "")
        if not url:
            return None
        parts = urllib.parse.urlsplit(url)
        user = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
        cookie = env.get(ENV_COOKIE, "")
        if cookie:
            try:
                user, sep, password = Path(cookie).read_text().strip().partition(":")
            except (OSError, UnicodeDecodeError) as exc:
                raise RpcError(f"{ENV_COOKIE}: cannot read the cookie ({type(exc).__name__})") from None
            if not sep:
                raise RpcError(f"{ENV_COOKIE}: the cookie file is not user:password")
        return cls(url, user=user, password=password)

    def call(self, method: str, *params: object) -> Any:
        """One request; its ``result``, with every JSON number that has a fraction as an exact Decimal."""
        body = json.dumps({"jsonrpc": "1.0", "id": next(self._ids), "method": method, "params": params})
        request = urllib.request.Request(self._endpoint, body.encode(), method="POST")
        request.add_header("Content-Type", "application/json")
        request.add_unredirected_header("Authorization", self._auth)
        where = f"{method} at {self.url}"
        try:
            try:
                with _OPENER.open(request, timeout=self.timeout) as response:
                    data = _capped(response)
            except urllib.error.HTTPError as exc:  # Core answers RPC errors as HTTP 500/404 with a JSON body
                with exc:
                    data = b"" if exc.code == 401 else _capped(exc)
                if not data:
                    raise RpcError(f"{where}: HTTP {exc.code} {_STATUS.get(exc.code, '')}".rstrip()) from None
        except urllib.error.URLError as exc:
            raise RpcError(f"{where}: cannot reach the node ({exc.reason})") from None
        except (OSError, http.client.HTTPException) as exc:  # TimeoutError is an OSError
            raise RpcError(f"{where}: the connection failed ({exc or type(exc).__name__})") from None
        try:
            answer = json.loads(data, parse_float=Decimal)
        except (ValueError, RecursionError):
            raise RpcError(f"{where}: the answer is not JSON") from None
        if not isinstance(answer, dict) or ("result" not in answer and not answer.get("error")):
            raise RpcError(f"{where}: the answer is not a JSON-RPC response")
        if error := answer.get("error"):
            code = error.get("code") if isinstance(error, dict) else None
            message = error.get("message") if isinstance(error, dict) else error
            raise RpcError(f"{method}: {message} (RPC error {code})", code if isinstance(code, int) else None)
        return answer["result"]

    @property
    def _endpoint(self) -> str:
        return self.url if urllib.parse.urlsplit(self.url).path else self.url + "/"


@dataclass(frozen=True)
class Utxo:
    txid: bytes  # display order, as the RPC prints it
    vout: int
    amount: int  # satoshis
    prev_tx: bytes  # the whole previous transaction, so the amount can be checked against the txid
    height: int


def utxos_of(rpc: BitcoinRpc, script_pubkey: bytes) -> list[Utxo]:
    """The confirmed coins paying exactly this script (the UTXO set holds no mempool coins)."""
    found = []
    try:
        for unspent in _scan(rpc, script_pubkey)["unspents"]:
            txid = _hex(unspent["txid"], "txid")
            if len(txid) != 32:
                raise RpcError(f"scantxoutset: a txid is not 32 bytes: {txid.hex()}")
            prev_tx = _hex(rpc.call("getrawtransaction", txid.hex(), False), "raw transaction")
            vout, height = _count(unspent["vout"]), _count(unspent["height"])
            found.append(Utxo(txid, vout, to_sats(unspent["amount"]), prev_tx, height))
    except (KeyError, TypeError) as exc:
        raise RpcError(f"scantxoutset: an unspent output lacks a field ({exc})") from None
    return sorted(found, key=lambda u: (u.height, u.txid, u.vout))


def balance_of(rpc: BitcoinRpc, script_pubkey: bytes) -> int:
    """The confirmed satoshis paying exactly this script."""
    return to_sats(_scan(rpc, script_pubkey).get("total_amount"))


def broadcast(rpc: BitcoinRpc, raw_tx: bytes) -> str:
    """Send a signed transaction to the node's mempool (and its peers); its txid as hex."""
    return _text(rpc.call("sendrawtransaction", raw_tx.hex()), "txid")


def mempool_accept(rpc: BitcoinRpc, raw_tx: bytes) -> tuple[bool, str]:
    """Whether the mempool would take the transaction, and why not; undecodable bytes are a refusal too."""
    try:
        [verdict] = rpc.call("testmempoolaccept", [raw_tx.hex()])
    except RpcError as exc:
        if exc.code == RPC_DESERIALIZATION_ERROR:
            return False, str(exc)
        raise
    except (TypeError, ValueError):
        raise RpcError("testmempoolaccept: the node did not answer one verdict") from None
    if not isinstance(verdict, dict):
        raise RpcError("testmempoolaccept: the verdict is not an object")
    allowed = verdict.get("allowed") is True
    return allowed, "" if allowed else str(verdict.get("reject-reason", "rejected"))


def to_sats(amount: object) -> int:
    """A node's BTC amount (a Decimal from the JSON) as exact satoshis; a fraction of one is an error."""
    if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
        raise RpcError(f"the node answered an amount that is not a number: {amount!r}")
    sats = Decimal(amount) * SATS_PER_BTC
    if sats != sats.to_integral_value() or sats < 0:
        raise RpcError(f"the node answered an amount that is not whole satoshis: {amount}")
    return int(sats)


def _scan(rpc: BitcoinRpc, script_pubkey: bytes) -> dict[str, Any]:
    answer = rpc.call("scantxoutset", "start", [{"desc": f"raw({script_pubkey.hex()})"}])
    if not isinstance(answer, dict) or answer.get("success") is not True:
        raise RpcError("scantxoutset: the scan did not complete")
    return answer


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise RpcError(f"the node answered a {what} that is not a string")
    return value


def _hex(value: object, what: str) -> bytes:
    try:
        return bytes.fromhex(_text(value, what))
    except ValueError:
        raise RpcError(f"the node answered a {what} that is not hex") from None


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RpcError(f"the node answered {value!r} where a whole number belongs")
    return value


def _capped(response: Any) -> bytes:
    data: bytes = response.read(MAX_ANSWER + 1)
    if len(data) > MAX_ANSWER:
        raise RpcError(f"the node's answer exceeds {MAX_ANSWER} bytes")
    return data


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    return f"{scheme}{sep}{netloc.rpartition('@')[2]}{slash}{path}" if sep else "(unparsable URL)"
