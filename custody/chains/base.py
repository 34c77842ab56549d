"""The interface every chain adapter offers, and what a station learns from a chain payload.

``ChainFacts`` is all a station may believe about an unsigned spend: it is
derived by the adapter's own parser from the payload's bytes, never taken
from anything the host wrote beside it. The policy engine runs the adapter's
checks with the vault-wide view, so chain rules (fees, clawbacks, custody)
sit with the vault's other rules on the review screen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from custody.errors import CustodyError

if TYPE_CHECKING:
    from custody.policy.engine import Check
    from custody.policy.history import VaultView
    from custody.schemas.request import Action, SpendRequest
    from custody.schemas.vault import VaultDefinition


class ChainError(CustodyError):
    """A chain payload that does not parse, or is not a spend of this vault."""


class ChainFacts(Protocol):
    """What a station derived from a chain payload."""

    @property
    def messages(self) -> tuple[bytes, ...]:
        """The 32-byte digests each station key signs for the chain, in order: one for a Chia spend
        or a SafeTx, one per input for a Bitcoin transaction."""
        ...

    def review_rows(self, vault: VaultDefinition, stamp: Callable[[int], str]) -> list[tuple[str, str]]:
        """Every fact, for the custodians to read."""
        ...

    def checks(
        self, vault: VaultDefinition, view: VaultView, request: SpendRequest, now: int
    ) -> tuple[Check, ...]:
        """The chain's rules: the payload does what the request says, within the policy."""
        ...


class ChainAdapter(Protocol):
    name: str

    def check_vault(self, vault: VaultDefinition) -> None:
        """Raise SchemaError if the vault cannot exist on this chain (keys, asset, destinations)."""
        ...

    def needs_payload(self, action: Action) -> bool:
        """Whether ``action`` goes on chain (else the stations sign it as their own statement)."""
        ...

    def check_signature(self, facts: Any, public_key: bytes, signature: bytes) -> None:
        """Raise ChainError unless the chain takes ``signature`` as this key's (checked before release)."""
        ...

    def parse(self, vault: VaultDefinition, payload: bytes) -> ChainFacts:
        """Raise ChainError unless ``payload`` is a spend of this vault the adapter can explain."""
        ...

    def assemble(
        self, vault: VaultDefinition, request: SpendRequest, signatures: Mapping[bytes, bytes]
    ) -> bytes:
        """The chain's final form, from the stations' chain signatures by key id."""
        ...

    def judge(self, vault: VaultDefinition, request: SpendRequest, final: bytes, now: int) -> list[str]:
        """Run the final form by the chain's own rules, offline; every reason it fails (empty: valid)."""
        ...
