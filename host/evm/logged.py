"""The embedded EVM as the host's chain: every change replayed from a log beside the registry.

The EVM lives in memory, but the host's commands are separate processes that
must act on one chain. Deployments are deterministic, so each command
replays the log of what changed the chain (a Safe created, a faucet payment,
an ``execTransaction`` the Safe accepted) into a fresh instance and gets the
very same chain. Only operations the chain accepted are logged. Opening
costs about four seconds on this machine, nearly all of it importing
eth-tester and deploying the Safe singletons.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import cbor2

from airgap.files import atomic_write
from custody.chains.evm.safe_tx import checksum
from host.errors import ChainRejected, ChainUnavailable
from host.evm.backend import SafeState, read_safe, read_token_balance
from host.evm.embedded import EmbeddedEvm

#: The embedded chain's id (eth-tester's): a vault bound to it lives in the host's own log.
EMBEDDED_CHAIN_ID = 131277322940537
MAX_LOG = 64 * 1024 * 1024
_SHAPES: dict[str, tuple[type, ...]] = {
    "safe": (list, int, int, str),
    "fund": (bytes, int),
    "token": (bytes, int),
    "exec": (bytes, bytes),
}


def evm_log(registry: Path) -> Path:
    return registry.with_name(registry.stem + "-evm.cbor")


class LoggedEvm:
    chain_id = EMBEDDED_CHAIN_ID

    def __init__(self, log: Path) -> None:
        self.log = log
        self.evm = EmbeddedEvm()
        self.ops: list[list[Any]] = []
        self._replay()

    @classmethod
    def open(cls, registry: Path) -> LoggedEvm:
        return cls(evm_log(registry))

    def _replay(self) -> None:
        if not self.log.exists():
            return
        data = self.log.read_bytes()
        if len(data) > MAX_LOG:
            raise ChainUnavailable(f"{self.log}: the embedded EVM's log is larger than {MAX_LOG} bytes")
        stream = io.BytesIO(data)
        while stream.tell() < len(data):
            try:
                op = cbor2.load(stream)
                shape = _SHAPES.get(op[0], ()) if isinstance(op, list) and op else ()
                if not shape or len(op) != len(shape) + 1:
                    raise ValueError("not an operation")
                if not all(isinstance(v, t) for v, t in zip(op[1:], shape, strict=True)):
                    raise ValueError("an operation of the wrong shape")
                self._apply(op)
            except (ValueError, TypeError, EOFError, cbor2.CBORDecodeError, ChainRejected) as exc:
                raise ChainUnavailable(
                    f"{self.log}: the embedded EVM's log is damaged at op {len(self.ops) + 1} ({exc})"
                ) from None
            self.ops.append(op)

    def _apply(self, op: list[Any]) -> Any:
        kind, args = op[0], op[1:]
        if kind == "safe":
            owners, threshold, salt, version = args
            return self.evm.create_safe([checksum(o) for o in owners], threshold, salt, version)
        if kind == "fund":
            return self.evm.fund(checksum(args[0]), args[1])
        if kind == "token":
            return self.evm.send_token(checksum(args[0]), args[1])
        return self.evm.execute(checksum(args[0]), args[1])

    def _record(self, op: list[Any]) -> Any:
        result = self._apply(op)
        self.ops.append(op)
        atomic_write(self.log, b"".join(cbor2.dumps(o) for o in self.ops))
        return result

    # the backend interface

    def safe_state(self, safe: bytes) -> SafeState:
        return read_safe(self.evm.w3, safe)

    def balance(self, address: bytes) -> int:
        return self.evm.balance(checksum(address))

    def token_balance(self, token: bytes, address: bytes) -> int:
        return read_token_balance(self.evm.w3, token, address)

    def push(self, safe: bytes, calldata: bytes) -> str:
        return str(self._record(["exec", safe, calldata]))

    # the faucet, standing for the operator's wallet and the Safe{Wallet} that deploys a Safe

    def create_safe(self, owners: list[bytes], threshold: int, salt: int, version: str) -> bytes:
        if not 0 <= salt < 2**64:
            raise ValueError("salt out of range")
        address = self._record(["safe", list(owners), threshold, salt, version])
        return bytes.fromhex(str(address)[2:])

    def fund(self, to: bytes, wei: int) -> None:
        self._record(["fund", to, wei])

    def send_token(self, to: bytes, amount: int) -> None:
        self._record(["token", to, amount])

    @property
    def token(self) -> bytes:
        """The embedded chain's test token (TST, 18 decimals), which the faucet pays."""
        return bytes.fromhex(self.evm.infra.token[2:])

    @property
    def multisend(self) -> bytes:
        return bytes.fromhex(self.evm.infra.multisend[2:])
