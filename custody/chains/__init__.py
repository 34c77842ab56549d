"""Chain adapters: one module per chain behind one small interface (``base.ChainAdapter``).

The station and the host share them. Each parses its chain's unsigned spend
strictly, derives every fact the policy and the review use, names the digest
the stations' keys sign, assembles the chain's final form from their
signatures, and judges that form offline. Only the host talks to a chain.
"""

from __future__ import annotations

from custody.chains.base import ChainAdapter, ChainError, ChainFacts
from custody.schemas.chain import ChainBinding

__all__ = ["ChainAdapter", "ChainError", "ChainFacts", "adapter_for"]


def adapter_for(binding: ChainBinding) -> ChainAdapter:
    """The adapter for a vault's chain (imported on first use: the SDKs are large)."""
    if binding.chain == "chia":
        from custody.chains.chia.adapter import ChiaAdapter

        return ChiaAdapter()
    raise ChainError(f"no adapter for chain {binding.chain!r}")
