"""The embedded EVM: the real Safe bytecode (safe-eth-py's artefacts) run in py-evm through eth-tester.

It is the host's default EVM and the tests' judge: a SafeTx is final only
when this contract executes it. Deployments are deterministic (eth-tester's
funded accounts, CREATE addresses from their nonces, CREATE2 proxies), so a
logged sequence of operations replayed into a fresh instance gives the same
chain, which is how separate host commands share one (``host.evm.log``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from host.errors import ChainRejected

ZERO = "0x" + "00" * 20
#: The Safe singleton and proxy factory of each supported version (safe-eth-py's names).
SAFE_ARTEFACTS = {
    "1.4.1": ("Safe_V1_4_1.json", "ProxyFactory_V1_4_1.json"),
    "1.3.0": ("GnosisSafe_V1_3_0.json", "ProxyFactory_V1_3_0.json"),
}


@cache
def artefact(name: str) -> dict[str, Any]:
    folder = resources.files("safe_eth.eth.contracts") / "abis"
    return dict(json.loads((folder / name).read_text()))


@dataclass(frozen=True, slots=True)
class Infrastructure:
    singletons: dict[str, str]
    factories: dict[str, str]
    multisend: str  # MultiSendCallOnly 1.4.1
    token: str  # an ERC-20 test token (symbol TST, 18 decimals) minted to the deployer


class EmbeddedEvm:
    """One in-process chain with the Safe contracts deployed."""

    def __init__(self) -> None:
        from eth_tester import EthereumTester, PyEVMBackend
        from web3 import Web3
        from web3.providers.eth_tester import EthereumTesterProvider

        self.tester = EthereumTester(PyEVMBackend())
        w3: Any = Web3(EthereumTesterProvider(self.tester))  # Any: addresses are str here, not NewTypes
        accounts: list[str] = list(w3.eth.accounts)
        self.w3 = w3
        self.deployer = accounts[0]
        self.executor = accounts[1]  # pays gas for execTransaction: anyone may
        singletons, factories = {}, {}
        for version, (singleton, factory) in SAFE_ARTEFACTS.items():
            singletons[version] = self._deploy(singleton)
            factories[version] = self._deploy(factory)
        self.infra = Infrastructure(
            singletons=singletons,
            factories=factories,
            multisend=self._deploy("MultiSendCallOnly_V1_4_1.json"),
            token=self._deploy("ERC20TestToken.json", "Test token", "TST", 18, self.deployer, 10**30),
        )

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    def _deploy(self, name: str, *args: Any) -> str:
        a = artefact(name)
        contract = self.w3.eth.contract(abi=a["abi"], bytecode=a["bytecode"])
        receipt = self._send(contract.constructor(*args).transact({"from": self.deployer}))
        return str(receipt["contractAddress"])

    def _send(self, tx_hash: Any) -> Any:
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise ChainRejected("the embedded EVM reverted the transaction")
        return receipt

    def safe(self, address: str, version: str = "1.4.1") -> Any:
        return self.w3.eth.contract(address=address, abi=artefact(SAFE_ARTEFACTS[version][0])["abi"])

    def create_safe(self, owners: list[str], threshold: int, salt: int, version: str = "1.4.1") -> str:
        """A Safe proxy with ``owners`` and ``threshold``, at a CREATE2 address fixed by ``salt``."""
        singleton = self.safe(self.infra.singletons[version], version)
        setup = singleton.encode_abi("setup", [owners, threshold, ZERO, b"", ZERO, ZERO, 0, ZERO])
        factory = self.w3.eth.contract(
            address=self.infra.factories[version], abi=artefact(SAFE_ARTEFACTS[version][1])["abi"]
        )
        call = factory.functions.createProxyWithNonce(self.infra.singletons[version], setup, salt)
        address = call.call({"from": self.deployer})
        self._send(call.transact({"from": self.deployer}))
        return str(address)

    def fund(self, to: str, wei: int) -> None:
        self._send(self.w3.eth.send_transaction({"from": self.deployer, "to": to, "value": wei}))

    def token_contract(self, address: str | None = None) -> Any:
        return self.w3.eth.contract(
            address=address or self.infra.token, abi=artefact("ERC20TestToken.json")["abi"]
        )

    def send_token(self, to: str, amount: int) -> None:
        self._send(self.token_contract().functions.transfer(to, amount).transact({"from": self.deployer}))

    def balance(self, address: str) -> int:
        return int(self.w3.eth.get_balance(address))

    def token_balance(self, address: str, token: str | None = None) -> int:
        return int(self.token_contract(token).functions.balanceOf(address).call())

    def execute(self, safe: str, calldata: bytes) -> str:
        """Send ``execTransaction`` calldata to ``safe``; ChainRejected with the contract's reason."""
        from eth_tester.exceptions import TransactionFailed
        from web3.exceptions import ContractLogicError

        tx = {"from": self.executor, "to": safe, "data": calldata, "gas": 2_000_000}
        try:
            self.w3.eth.call(tx)  # a dry run first: a revert's reason (GS020, GS026...) comes back
            tx_hash = self.w3.eth.send_transaction(tx)
        except (TransactionFailed, ContractLogicError) as exc:
            raise ChainRejected(f"the Safe rejected it: {exc}") from None
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise ChainRejected("the Safe's transaction reverted")
        failure = self.safe(safe).events.ExecutionFailure().process_receipt(receipt, errors=_discard())
        if failure:
            raise ChainRejected("the Safe executed it but the inner call failed (ExecutionFailure)")
        return str(tx_hash.hex())


def _discard() -> Any:
    from web3.logs import DISCARD

    return DISCARD
