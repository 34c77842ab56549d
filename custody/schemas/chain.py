"""Which chain a vault lives on, and its identity there: what binds a signature to that vault alone.

A vault with no binding is a *statement vault*: the stations sign our own
statement and no chain honours it. Its user is a party that takes a signed
bundle as an instruction and checks it with ``host verify`` (a bank or an
exchange acting on a treasury's signed approval); it is also how the policy
engine is tested without a chain. Every other vault names its chain here, and
the chain's adapter (``custody.chains``) parses what the stations sign.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from custody.errors import SchemaError
from custody.schemas import strict
from custody.schemas.chain_bitcoin import BitcoinBinding
from custody.schemas.chain_evm import EvmBinding


@dataclass(frozen=True, slots=True)
class ChiaNetwork:
    name: str
    genesis_challenge: bytes
    address_prefix: str
    asset_code: str


#: Chia's networks; the SDK's Simulator runs testnet11's consensus constants.
CHIA_NETWORKS: dict[str, ChiaNetwork] = {
    n.name: n
    for n in (
        ChiaNetwork(
            "mainnet",
            bytes.fromhex("ccd5bb71183532bff220ba46c268991a3ff07eb358e8255a65c30a2dce0e5fbb"),
            "xch",
            "XCH",
        ),
        ChiaNetwork(
            "testnet11",
            bytes.fromhex("37a90eb5185a9c4439a91ddc98bbadce7b4feba060d50116a067de66bf236615"),
            "txch",
            "TXCH",
        ),
        ChiaNetwork(
            "simulator",
            bytes.fromhex("37a90eb5185a9c4439a91ddc98bbadce7b4feba060d50116a067de66bf236615"),
            "txch",
            "TXCH",
        ),
    )
}


#: The longest a slow rekey's delay may grow per missing signer.
MAX_PENALTY_SECONDS = 365 * 86400


@dataclass(frozen=True, slots=True, kw_only=True)
class ChiaBinding:
    """A Chia vault: the singleton its launcher id names, on one network.

    ``recovery_signers`` > 0 gives the vault's custody recovery paths: that
    many stations (fewer than the threshold) may schedule a rekey, which the
    chain holds for the vault's rekey delay plus ``recovery_penalty_seconds``
    per missing signer, and which the full quorum can cancel meanwhile
    (docs/chia.md). 0: every rekey needs the full quorum.
    """

    network: str
    launcher_id: bytes
    recovery_signers: int = 0
    recovery_penalty_seconds: int = 0
    chain = "chia"

    def __post_init__(self) -> None:
        what = "chia vault"
        if self.network not in CHIA_NETWORKS:
            raise SchemaError(f"{what}: unknown network {self.network!r} ({', '.join(CHIA_NETWORKS)})")
        strict.sized(self.launcher_id, what=what, name="launcher_id", length=32)
        strict.natural(self.recovery_signers, what=what, name="recovery_signers", limit=32)
        strict.natural(
            self.recovery_penalty_seconds, what=what, name="recovery_penalty", limit=MAX_PENALTY_SECONDS
        )

    @property
    def net(self) -> ChiaNetwork:
        return CHIA_NETWORKS[self.network]

    def to_map(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "network": self.network,
            "launcher_id": self.launcher_id,
            "recovery_signers": self.recovery_signers,
            "recovery_penalty": self.recovery_penalty_seconds,
        }

    @classmethod
    def from_map(cls, value: Any, *, what: str) -> ChiaBinding:
        v = strict.fields(
            value,
            {
                "chain": str,
                "network": str,
                "launcher_id": bytes,
                "recovery_signers": int,
                "recovery_penalty": int,
            },
            what=f"{what} chain",
        )
        if v["chain"] != cls.chain:
            raise SchemaError(f"{what}: unknown chain {v['chain']!r}")
        return cls(
            network=v["network"],
            launcher_id=v["launcher_id"],
            recovery_signers=v["recovery_signers"],
            recovery_penalty_seconds=v["recovery_penalty"],
        )


ChainBinding = ChiaBinding | EvmBinding | BitcoinBinding


def binding_from_map(value: Any, *, what: str) -> ChainBinding | None:
    """``None`` (CBOR null) for a statement vault."""
    if value is None:
        return None
    if isinstance(value, dict) and value.get("chain") == EvmBinding.chain:
        return EvmBinding.from_map(value, what=what)
    if isinstance(value, dict) and value.get("chain") == BitcoinBinding.chain:
        return BitcoinBinding.from_map(value, what=what)
    return ChiaBinding.from_map(value, what=what)
