"""A production EVM: any JSON-RPC endpoint, through web3's HTTP provider.

It reads what the host must believe from the contract itself (the Safe's
owners, threshold, nonce and version; balances) and broadcasts
``execTransaction`` from an executor account: anyone may send it, since the
owners' signatures are what the Safe checks, so the executor key only pays
gas and guards nothing. The endpoint's chain id is checked against the
vault's before anything else, so a mainnet Safe is never read from a testnet.

Configured by environment, so no secret sits on a command line:

============================  ===============================================
AIRGAP_EVM_RPC                the JSON-RPC URL, e.g. http://127.0.0.1:8545
AIRGAP_EVM_EXECUTOR_KEY_FILE  a file holding the gas payer's key (hex), for
                              ``host submit`` only
============================  ===============================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from custody.chains.evm.safe_tx import checksum
from host.errors import ChainUnavailable, UsageError
from host.evm.backend import SafeState, dry_run, read_safe, read_token_balance, settle

ENV_URL = "AIRGAP_EVM_RPC"
ENV_KEY = "AIRGAP_EVM_EXECUTOR_KEY_FILE"
TIMEOUT_SECONDS = 30
GAS_MARGIN = 1.25


class RpcEvm:
    def __init__(self, url: str, chain_id: int, key_file: str | None = None) -> None:
        from web3 import HTTPProvider, Web3

        self.w3: Any = Web3(HTTPProvider(url, request_kwargs={"timeout": TIMEOUT_SECONDS}))
        self.key_file = key_file
        try:
            answered = int(self.w3.eth.chain_id)
        except Exception as exc:
            raise ChainUnavailable(f"the JSON-RPC endpoint {url} cannot be read: {exc}") from None
        if answered != chain_id:
            raise ChainUnavailable(f"the endpoint serves chain {answered}, not the vault's {chain_id}")
        self.chain_id = chain_id

    @classmethod
    def from_env(cls, chain_id: int, env: Mapping[str, str] = os.environ) -> RpcEvm:
        url = env.get(ENV_URL, "")
        if not url:
            raise ChainUnavailable(f"no JSON-RPC endpoint is configured for chain {chain_id}: set {ENV_URL}")
        return cls(url, chain_id, env.get(ENV_KEY) or None)

    def safe_state(self, safe: bytes) -> SafeState:
        return read_safe(self.w3, safe)

    def balance(self, address: bytes) -> int:
        try:
            return int(self.w3.eth.get_balance(checksum(address)))
        except Exception as exc:
            raise ChainUnavailable(f"the endpoint did not answer a balance: {exc}") from None

    def token_balance(self, token: bytes, address: bytes) -> int:
        return read_token_balance(self.w3, token, address)

    def push(self, safe: bytes, calldata: bytes) -> str:
        from eth_account import Account

        if not self.key_file:
            raise UsageError(f"broadcasting needs a gas payer: set {ENV_KEY} to a file holding its key")
        try:
            key = bytes.fromhex(Path(self.key_file).read_text().strip().removeprefix("0x"))
            account = Account.from_key(key)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{ENV_KEY}: the executor key cannot be read ({type(exc).__name__})") from None
        tx: dict[str, Any] = {"from": account.address, "to": checksum(safe), "data": calldata}
        dry_run(self.w3, tx)
        try:
            tx["gas"] = int(self.w3.eth.estimate_gas(tx) * GAS_MARGIN)
            tx["nonce"] = self.w3.eth.get_transaction_count(account.address, "pending")
            tx["chainId"] = self.chain_id
            tx["gasPrice"] = self.w3.eth.gas_price
            signed = account.sign_transaction(tx)
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception as exc:
            raise ChainUnavailable(f"the transaction could not be sent: {exc}") from None
        return settle(self.w3, tx_hash, safe)
