"""A Bitcoin vault: one P2WSH ``sortedmulti`` address over the stations' secp256k1 keys, on one network.

An HSM key has no BIP32 derivation, so the vault is a single address and
change returns to it. The binding names the network (which fixes the
address's human-readable part), the address itself (the stations re-derive
it from the vault's keys and threshold and refuse a definition where they
differ), and the fee-rate cap in sat/vB; the cap on the fee itself is the
vault's ``max_fee``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from custody.errors import SchemaError
from custody.schemas import strict

#: Networks and their segwit address prefix (BIP-173); mainnet's asset is BTC, the others' tBTC.
BITCOIN_NETWORKS: dict[str, str] = {"mainnet": "bc", "testnet": "tb", "signet": "tb", "regtest": "bcrt"}
#: No sane fee rate is above this (sat/vB): a cap above it is a typo.
MAX_FEE_RATE = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class BitcoinBinding:
    network: str
    address: str  # the vault's P2WSH address, as the stations derive it
    max_fee_rate: int  # sat/vB, over the final transaction's virtual size
    chain = "bitcoin"

    def __post_init__(self) -> None:
        what = "bitcoin vault"
        if self.network not in BITCOIN_NETWORKS:
            raise SchemaError(f"{what}: unknown network {self.network!r} ({', '.join(BITCOIN_NETWORKS)})")
        strict.text(self.address, what=what, name="address", max_len=90)
        if not self.address.startswith(self.hrp + "1"):
            raise SchemaError(f"{what}: the address {self.address!r} is not a {self.network} segwit address")
        strict.natural(self.max_fee_rate, what=what, name="max_fee_rate", positive=True, limit=MAX_FEE_RATE)

    @property
    def hrp(self) -> str:
        return BITCOIN_NETWORKS[self.network]

    @property
    def name(self) -> str:
        return f"Bitcoin {self.network}"

    def to_map(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "network": self.network,
            "address": self.address,
            "max_fee_rate": self.max_fee_rate,
        }

    @classmethod
    def from_map(cls, value: Any, *, what: str) -> BitcoinBinding:
        spec = {"chain": str, "network": str, "address": str, "max_fee_rate": int}
        v = strict.fields(value, spec, what=f"{what} chain")
        del v["chain"]
        return cls(**v)
