"""An EVM vault: a Safe on one chain, whose owners are the stations' secp256k1 keys.

The binding names what a Safe signature is bound to (the chain id and the
Safe's address in the EIP-712 domain), the Safe's version (1.3.0 or later:
earlier domains lack the chain id), the nonce the vault's requests start at,
the ERC-20 tokens the policy knows with their own limits, and the one
MultiSendCallOnly the stations may DELEGATECALL into (none by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from custody.errors import SchemaError
from custody.schemas import strict

SAFE_VERSIONS = ("1.3.0", "1.4.1")
MAX_TOKENS = 32
MAX_TOKEN_AMOUNT = 2**128 - 1
#: Chain names the review screen prints beside a chain id (any other id is shown as a number).
CHAIN_NAMES: dict[int, str] = {
    1: "Ethereum",
    10: "OP Mainnet",
    56: "BNB Smart Chain",
    100: "Gnosis",
    137: "Polygon PoS",
    8453: "Base",
    42161: "Arbitrum One",
    11155111: "Sepolia",
    131277322940537: "embedded EVM (eth-tester)",
}


def chain_name(chain_id: int) -> str:
    return CHAIN_NAMES.get(chain_id, f"EVM chain {chain_id}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Token:
    """An ERC-20 the policy knows, with limits in its own base units (the vault's rules are in ETH's)."""

    address: bytes
    symbol: str
    decimals: int
    max_per_spend: int
    window_max: int

    def __post_init__(self) -> None:
        what = "evm token"
        strict.sized(self.address, what=what, name="address", length=20)
        strict.text(self.symbol, what=what, name="symbol", max_len=16)
        if not 0 <= self.decimals <= 36:
            raise SchemaError(f"{what}: decimals must be 0 to 36")
        for name in ("max_per_spend", "window_max"):
            strict.natural(getattr(self, name), what=what, name=name, positive=True, limit=MAX_TOKEN_AMOUNT)
        if self.max_per_spend > self.window_max:
            raise SchemaError(f"{what} {self.symbol}: max_per_spend exceeds window_max")

    def to_map(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "symbol": self.symbol,
            "decimals": self.decimals,
            "max_per_spend": self.max_per_spend,
            "window_max": self.window_max,
        }

    @classmethod
    def from_map(cls, value: Any, *, what: str) -> Token:
        spec = {"address": bytes, "symbol": str, "decimals": int, "max_per_spend": int, "window_max": int}
        return cls(**strict.fields(value, spec, what=f"{what} token"))


@dataclass(frozen=True, slots=True, kw_only=True)
class EvmBinding:
    chain_id: int
    safe: bytes  # the Safe proxy's address, 20 bytes
    version: str
    first_nonce: int  # the Safe's nonce when this definition took effect: the next request's
    tokens: tuple[Token, ...] = ()
    multisend: bytes = b""  # the MultiSendCallOnly the vault may DELEGATECALL into; empty: none
    chain = "evm"

    def __post_init__(self) -> None:
        what = "evm vault"
        strict.natural(self.chain_id, what=what, name="chain_id", positive=True, limit=2**53)
        strict.sized(self.safe, what=what, name="safe", length=20)
        if self.version not in SAFE_VERSIONS:
            raise SchemaError(
                f"{what}: Safe version {self.version!r} is not supported ({', '.join(SAFE_VERSIONS)}); "
                "versions before 1.3.0 leave the chain id out of what owners sign"
            )
        strict.natural(self.first_nonce, what=what, name="first_nonce", limit=2**63 - 1)
        if len(self.tokens) > MAX_TOKENS:
            raise SchemaError(f"{what}: at most {MAX_TOKENS} tokens")
        symbols = [t.symbol for t in self.tokens]
        addresses = [t.address for t in self.tokens]
        if len(set(symbols)) != len(symbols) or len(set(addresses)) != len(addresses):
            raise SchemaError(f"{what}: two tokens share a symbol or an address")
        if addresses != sorted(addresses):
            raise SchemaError(f"{what}: tokens must be sorted by address")
        if self.multisend and len(self.multisend) != 20:
            raise SchemaError(f"{what}: multisend must be empty or a 20-byte address")

    @property
    def name(self) -> str:
        return chain_name(self.chain_id)

    def token(self, symbol: str) -> Token | None:
        return next((t for t in self.tokens if t.symbol == symbol), None)

    def token_at(self, address: bytes) -> Token | None:
        return next((t for t in self.tokens if t.address == address), None)

    def to_map(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "chain_id": self.chain_id,
            "safe": self.safe,
            "version": self.version,
            "first_nonce": self.first_nonce,
            "tokens": [t.to_map() for t in self.tokens],
            "multisend": self.multisend,
        }

    @classmethod
    def from_map(cls, value: Any, *, what: str) -> EvmBinding:
        spec = {
            "chain": str,
            "chain_id": int,
            "safe": bytes,
            "version": str,
            "first_nonce": int,
            "tokens": list,
            "multisend": bytes,
        }
        v = strict.fields(value, spec, what=f"{what} chain")
        if len(v["tokens"]) > MAX_TOKENS:
            raise SchemaError(f"{what}: at most {MAX_TOKENS} tokens")
        return cls(
            chain_id=v["chain_id"],
            safe=v["safe"],
            version=v["version"],
            first_nonce=v["first_nonce"],
            tokens=tuple(Token.from_map(t, what=what) for t in v["tokens"]),
            multisend=v["multisend"],
        )
