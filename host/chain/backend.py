"""What the host needs from a Chia chain, whichever serves it, and what it derives from that.

Two backends implement it: the SDK's Simulator, persisted as a replayed log
(``host.chain.simulator``), and a full node's RPC (``host.chain.full_node``).
The vault's current coin is found by walking its singleton from the launcher,
child by child, recomputing each puzzle hash from the custody each vault
generation names: the host believes no coin the chain's own history does
not lead to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chia_wallet_sdk import Coin, CoinState, SpendBundle

from custody.chains.chia.build import VAULT_AMOUNT, VaultCoin
from custody.chains.chia.custody import vault_puzzle_hash
from host.errors import ChainUnavailable

#: A vault spent more often than this since its launch is walked in pages by a future version.
MAX_WALK = 100_000


class ChiaBackend(Protocol):
    network: str

    def now(self) -> int:
        """The time the next block will carry."""
        ...

    def coins(self, puzzle_hash: bytes) -> list[Coin]:
        """Unspent coins at ``puzzle_hash``."""
        ...

    def coin_state(self, coin_id: bytes) -> CoinState | None: ...

    def children(self, coin_id: bytes) -> list[CoinState]: ...

    def push(self, bundle: SpendBundle) -> None:
        """Submit; ChainRejected with the chain's reason when it refuses."""
        ...


def current_vault(backend: ChiaBackend, launcher_id: bytes, custodies: Sequence[bytes]) -> VaultCoin:
    """The vault's unspent singleton coin and its lineage proof, walked from the launcher."""
    launcher = backend.coin_state(launcher_id)
    if launcher is None:
        raise ChainUnavailable(
            f"the chain has no launcher {launcher_id.hex()[:16]}: not minted, or another network"
        )
    puzzle_hashes = {vault_puzzle_hash(launcher_id, c): c for c in custodies}
    parent, parent_custody = launcher, b""
    for _ in range(MAX_WALK):
        found = [
            s
            for s in backend.children(parent.coin.coin_id())
            if s.coin.amount == VAULT_AMOUNT and s.coin.puzzle_hash in puzzle_hashes
        ]
        if len(found) != 1:
            raise ChainUnavailable(
                f"the vault's singleton cannot be followed past coin {parent.coin.coin_id().hex()[:16]}: "
                "its custody is not one of the vault's generations"
            )
        state = found[0]
        custody = puzzle_hashes[state.coin.puzzle_hash]
        if state.spent_height is None:
            proof = (parent.coin.parent_coin_info, parent_custody, parent.coin.amount)
            return VaultCoin(state.coin, proof, custody)
        parent, parent_custody = state, custody
    raise ChainUnavailable("the vault's singleton is longer than this tool walks")


def balance(backend: ChiaBackend, puzzle_hash: bytes) -> tuple[int, list[Coin]]:
    coins = sorted(backend.coins(puzzle_hash), key=lambda c: (c.amount, c.coin_id()))
    return sum(c.amount for c in coins), coins
