"""Chain adapters: one module per chain behind one small interface (``base.ChainAdapter``).

The station and the host share them. Each parses its chain's unsigned spend
strictly, derives every fact the policy and the review use, names the digest
the stations' keys sign, assembles the chain's final form from their
signatures, and judges that form offline. Only the host talks to a chain.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from custody.chains.base import ChainAdapter, ChainError, ChainFacts
from custody.schemas.chain import ChainBinding

if TYPE_CHECKING:
    from custody.schemas.request import SpendRequest
    from custody.schemas.vault import VaultDefinition

__all__ = ["ChainAdapter", "ChainError", "ChainFacts", "adapter_for", "chain_messages", "facts_for"]


def adapter_for(binding: ChainBinding) -> ChainAdapter:
    """The adapter for a vault's chain (imported on first use: the SDKs are large)."""
    if binding.chain == "chia":
        from custody.chains.chia.adapter import ChiaAdapter

        return ChiaAdapter()
    if binding.chain == "evm":
        from custody.chains.evm.adapter import EvmAdapter

        return EvmAdapter()
    if binding.chain == "bitcoin":
        from custody.chains.bitcoin.adapter import BitcoinAdapter

        return BitcoinAdapter()
    raise ChainError(f"no adapter for chain {binding.chain!r}")


def facts_for(vault: VaultDefinition, request: SpendRequest) -> ChainFacts | None:
    """What the vault's adapter derives from the request's payload; None where nothing goes on chain
    (a statement vault, or an action its chain leaves to the stations, such as a Safe's announcement).

    ChainError when the payload is missing, unexpected, or not a spend of this vault.
    """
    if vault.chain is None or not (adapter := adapter_for(vault.chain)).needs_payload(request.action):
        if request.payload or request.sequence:
            what = "a statement vault's" if vault.chain is None else f"this {request.action.kind.value}'s"
            raise ChainError(f"{what} request carries no chain spend")
        return None
    if not request.payload:
        raise ChainError(f"a {vault.chain.chain} vault's request must carry its unsigned chain spend")
    if vault.chain.chain != "evm" and request.sequence:
        raise ChainError(f"a {vault.chain.chain} request carries no sequence number")
    return adapter.parse(vault, request.payload)


@lru_cache(maxsize=32)
def chain_messages(vault: VaultDefinition, request: SpendRequest) -> tuple[bytes, ...] | None:
    """What each key of ``vault`` signs for the chain to approve ``request`` (a response's chain
    signature is one 64-byte signature per message, in order); None for a statement vault.

    Cached: every response to one request is checked against the same message.
    """
    facts = facts_for(vault, request)
    return None if facts is None else facts.messages
