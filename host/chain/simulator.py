"""The embedded chain: the SDK's Simulator, persisted as the log of what was done to it.

The Simulator lives in memory, but the demo's ``host`` commands are separate
processes that must act on one chain. So every operation that changes the
chain (a mint, a faucet payment, a pushed spend bundle) is appended to a log
beside the registry, with the time it happened; each command replays the log
into a Simulator seeded the same way, and gets the very same chain. Only
operations the Simulator accepted are logged. Replaying costs milliseconds
per operation; a vault's lifetime of operations replays in well under a
second.

The faucet is the Simulator's own: a fresh BLS-key coin per operation,
deterministic under the seed. It stands for the operator's wallet; on a real
network the operator funds the vault's address from theirs.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import cbor2
from chia_wallet_sdk import Clvm, Coin, CoinState, Simulator, SpendBundle

from airgap.files import atomic_write
from custody.chains.chia.build import VAULT_AMOUNT
from host.errors import ChainRejected, ChainUnavailable

SEED = 2026
MAX_LOG = 64 * 1024 * 1024
#: Each logged operation: its kind and time, then its arguments.
_ARITY = {"push": 3, "mint": 4, "fund": 5}


class SimulatorBackend:
    network = "simulator"

    def __init__(self, log: Path, clock_now: int) -> None:
        self.log = log
        self.sim = Simulator.with_seed(SEED)
        self.ops: list[list[Any]] = []
        self._replay()
        self._at(clock_now)

    @classmethod
    def open(cls, registry: Path, now: int) -> SimulatorBackend:
        """The chain of the host whose registry is at ``registry``."""
        from host.chain import simulator_log

        return cls(simulator_log(registry), now)

    def _replay(self) -> None:
        if not self.log.exists():
            return
        data = self.log.read_bytes()
        if len(data) > MAX_LOG:
            raise ChainUnavailable(f"{self.log}: the simulator's log is larger than {MAX_LOG} bytes")
        stream = io.BytesIO(data)
        while stream.tell() < len(data):
            try:
                op = cbor2.load(stream)
                if not (
                    isinstance(op, list)
                    and len(op) == _ARITY.get(op[0] if op and isinstance(op[0], str) else "", -1)
                    and isinstance(op[1], int)
                ):
                    raise ValueError("not an operation")
                self._apply(op)
            except (ValueError, TypeError, EOFError, cbor2.CBORDecodeError) as exc:
                raise ChainUnavailable(
                    f"{self.log}: the simulator's log is damaged at op {len(self.ops) + 1} ({exc})"
                ) from None
            self.ops.append(op)

    def _at(self, now: int) -> None:
        if now > self.sim.next_timestamp():
            self.sim.set_next_timestamp(now)

    def _apply(self, op: list[Any]) -> Any:
        kind, at = op[0], op[1]
        self._at(at)
        if kind == "push":
            self.sim.new_transaction(SpendBundle.from_bytes(op[2]))
            return None
        if kind == "mint":
            return self._mint(op[2], op[3])
        if kind == "fund":
            return self._fund(op[2], op[3], op[4])
        raise ValueError(f"unknown operation {kind!r}")

    def _record(self, op: list[Any]) -> Any:
        try:
            result = self._apply(op)
        except ValueError as exc:
            raise ChainRejected(f"the chain refused it: {exc}") from None
        self.ops.append(op)
        atomic_write(self.log, b"".join(cbor2.dumps(o) for o in self.ops))
        return result

    def _mint(self, custody: bytes, fund: list[int]) -> bytes:
        from custody.chains.chia.custody import p2_puzzle_hash

        clvm = Clvm()
        faucet = self.sim.bls(sum(fund) + VAULT_AMOUNT)
        minted = clvm.mint_vault(faucet.coin.coin_id(), custody, clvm.nil())
        launcher = minted.vault.info.launcher_id
        outputs = [clvm.create_coin(p2_puzzle_hash(launcher), a, clvm.alloc([launcher])) for a in fund]
        clvm.spend_standard_coin(
            faucet.coin, faucet.pk, clvm.delegated_spend([*minted.parent_conditions, *outputs])
        )
        self.sim.spend_coins(clvm.coin_spends(), [faucet.sk])
        return bytes(launcher)

    def _fund(self, puzzle_hash: bytes, amount: int, hint: bytes) -> None:
        clvm = Clvm()
        faucet = self.sim.bls(amount)
        memos = clvm.alloc([hint]) if hint else None
        clvm.spend_standard_coin(
            faucet.coin, faucet.pk, clvm.delegated_spend([clvm.create_coin(puzzle_hash, amount, memos)])
        )
        self.sim.spend_coins(clvm.coin_spends(), [faucet.sk])

    # the backend interface

    def now(self) -> int:
        return int(self.sim.next_timestamp())

    def coins(self, puzzle_hash: bytes) -> list[Coin]:
        return list(self.sim.unspent_coins(puzzle_hash, False))

    def coin_state(self, coin_id: bytes) -> CoinState | None:
        return self.sim.coin_state(coin_id)

    def children(self, coin_id: bytes) -> list[CoinState]:
        return list(self.sim.children(coin_id))

    def push(self, bundle: SpendBundle) -> None:
        self._record(["push", self.now(), bytes(bundle.to_bytes())])

    # the faucet, standing for the operator's wallet

    def mint(self, custody: bytes, fund: list[int]) -> bytes:
        """A new vault under ``custody``, its receive address funded with ``fund``; its launcher id."""
        launcher: bytes = self._record(["mint", self.now(), custody, list(fund)])
        return launcher

    def fund(self, puzzle_hash: bytes, amount: int, hint: bytes = b"") -> None:
        self._record(["fund", self.now(), puzzle_hash, amount, hint])
