"""What the host needs from an EVM chain, whichever serves it: a Safe's owners, threshold and nonce,
balances, and a way to send ``execTransaction``.

Two backends implement it over web3: the embedded EVM, persisted as a
replayed log (``host.evm.logged``), and a JSON-RPC endpoint
(``host.evm.rpc``). Both read the Safe through the same few calls here, so
what the host believes about a Safe is what the contract itself answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from custody.chains.evm.safe_tx import checksum
from host.errors import ChainRejected, ChainUnavailable

#: A Safe with more owners than this is not one this host reads (Safe{Wallet} itself stops far lower).
MAX_OWNERS = 256

SAFE_READ_ABI = [
    {
        "name": name,
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": kind}],
    }
    for name, kind in (
        ("getOwners", "address[]"),
        ("getThreshold", "uint256"),
        ("nonce", "uint256"),
        ("VERSION", "string"),
    )
]
SAFE_READ_ABI.append(
    {
        "name": "getModulesPaginated",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "start", "type": "address"}, {"name": "pageSize", "type": "uint256"}],
        "outputs": [{"name": "array", "type": "address[]"}, {"name": "next", "type": "address"}],
    }
)
#: keccak256("guard_manager.guard.address"): where a Safe keeps its transaction guard.
GUARD_SLOT = 0x4A204F620C8C5CCDCA3FD54D003BADD85BA500436A431F0CBDA4F558C93C34C8
SENTINEL = "0x0000000000000000000000000000000000000001"
ERC20_READ_ABI = [
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    }
]
EXECUTION_FAILURE_TOPIC = bytes.fromhex("23428b18acfb3ea64b08dc0c1d296ea9c09702c09083ca5272e64d115b687d23")


@dataclass(frozen=True, slots=True)
class SafeState:
    """A Safe as its contract answers: owners in the contract's own (linked-list) order."""

    owners: tuple[bytes, ...]
    threshold: int
    nonce: int
    version: str
    modules: tuple[bytes, ...] = ()  # each may move the Safe's funds without the owners
    guard: bytes = bytes(20)  # a guard may block (or, buggy, brick) executions


class EvmBackend(Protocol):
    chain_id: int

    def safe_state(self, safe: bytes) -> SafeState: ...

    def balance(self, address: bytes) -> int: ...

    def token_balance(self, token: bytes, address: bytes) -> int: ...

    def push(self, safe: bytes, calldata: bytes) -> str:
        """Send ``execTransaction`` calldata to ``safe``; its transaction hash, or ChainRejected."""
        ...


def read_safe(w3: Any, safe: bytes) -> SafeState:
    """The Safe at ``safe``; ChainUnavailable when nothing there answers like a Safe."""
    contract = w3.eth.contract(address=checksum(safe), abi=SAFE_READ_ABI)
    try:
        owners = contract.functions.getOwners().call()
        threshold = contract.functions.getThreshold().call()
        nonce = contract.functions.nonce().call()
        version = contract.functions.VERSION().call()
        modules, _next = contract.functions.getModulesPaginated(SENTINEL, 16).call()
        guard = bytes(w3.eth.get_storage_at(checksum(safe), GUARD_SLOT))[-20:]
    except Exception as exc:  # web3 raises a dozen kinds for "not a contract" / "node down"
        raise ChainUnavailable(f"{checksum(safe)} does not answer as a Safe: {exc}") from None
    if not (
        isinstance(owners, list | tuple)
        and 0 < len(owners) <= MAX_OWNERS
        and isinstance(threshold, int)
        and 1 <= threshold <= len(owners)
        and isinstance(nonce, int)
        and isinstance(version, str)
        and len(version) <= 16
    ):
        raise ChainUnavailable(f"{checksum(safe)} answered with a state no Safe has")
    return SafeState(
        owners=tuple(bytes.fromhex(str(o)[2:]) for o in owners),
        threshold=threshold,
        nonce=nonce,
        version=version,
        modules=tuple(bytes.fromhex(str(m)[2:]) for m in modules),
        guard=guard.rjust(20, b"\0"),
    )


def read_token_balance(w3: Any, token: bytes, address: bytes) -> int:
    contract = w3.eth.contract(address=checksum(token), abi=ERC20_READ_ABI)
    try:
        return int(contract.functions.balanceOf(checksum(address)).call())
    except Exception as exc:
        raise ChainUnavailable(f"token {checksum(token)} did not answer balanceOf: {exc}") from None


def dry_run(w3: Any, tx: dict[str, Any]) -> None:
    """``eth_call`` first, so a revert's reason (GS020, GS026...) comes back before anything is sent."""
    try:
        w3.eth.call(tx)
    except Exception as exc:
        raise ChainRejected(f"the Safe rejected it: {exc}") from None


def settle(w3: Any, tx_hash: Any, safe: bytes) -> str:
    """Wait for the receipt; ChainRejected on a revert or a Safe ``ExecutionFailure``."""
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
    if receipt["status"] != 1:
        raise ChainRejected("the Safe's transaction reverted")
    for log in receipt["logs"]:
        topics = [bytes(t) for t in log["topics"]]
        if str(log["address"]).lower() == checksum(safe).lower() and topics[:1] == [EXECUTION_FAILURE_TOPIC]:
            raise ChainRejected("the Safe executed it but the inner call failed (ExecutionFailure)")
    return "0x" + bytes(tx_hash).hex()


def mismatches(state: SafeState, owners: frozenset[bytes], threshold: int, version: str) -> list[str]:
    """How the Safe on chain differs from the vault the host would define; empty when it agrees."""
    found = []
    if frozenset(state.owners) != owners or len(state.owners) != len(owners):
        found.append(
            f"its owners are {', '.join(checksum(o) for o in state.owners)}, not the stations' "
            f"{', '.join(checksum(o) for o in sorted(owners))}"
        )
    if state.threshold != threshold:
        found.append(f"its threshold is {state.threshold}, not {threshold}")
    if state.version != version:
        found.append(f"it is Safe {state.version}, not {version}")
    if state.modules:
        found.append(
            f"it has module(s) {', '.join(checksum(m) for m in state.modules)} enabled, which move funds "
            "without the owners' signatures: disable them first"
        )
    if state.guard != bytes(20):
        found.append(f"it has the guard {checksum(state.guard)} set, which no station reviews: remove it")
    return found
