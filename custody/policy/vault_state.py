"""What one station knows of a vault from its own log, as a value fed to ``decide``.

Only the log makes it: the station's own approvals (each with the core of the
request it approved and when), the vault definitions it installed (every
generation, by digest, so history signed under an earlier one can be
checked), when it first installed the vault, and the log's latest time. The
same log always gives the same state, and a test can build any state
without SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from custody.schemas.history import RequestCore
from custody.schemas.request import Announce, Withdraw
from custody.schemas.vault import Rules, VaultDefinition

#: A request may say it was created this far in the future (host and station clocks differ).
CLOCK_SKEW_SECONDS = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """One approval in this station's log: it was sealed before the HSM signed, so it counts."""

    request: RequestCore
    at: int

    @property
    def is_spend(self) -> bool:
        return isinstance(self.request.action, Withdraw | Announce)


def _frozen(d: Mapping[bytes, VaultDefinition]) -> Mapping[bytes, VaultDefinition]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True, slots=True, kw_only=True)
class VaultState:
    vault_id: str
    #: The vault's first installation here: delays count from it when nothing else happened.
    installed_at: int | None = None
    approvals: tuple[Approval, ...] = ()
    #: Every definition of the vault installed here, by digest (earlier generations included).
    definitions: Mapping[bytes, VaultDefinition] = field(default_factory=lambda: _frozen({}))
    #: The latest time in the station's log: a clock reading earlier than this is a rolled-back clock.
    clock_floor: int = 0

    def with_clock_floor(self, at: int) -> VaultState:
        return replace(self, clock_floor=max(self.clock_floor, at))

    def with_definition(self, vault: VaultDefinition) -> VaultState:
        return replace(self, definitions=_frozen({**self.definitions, vault.digest(): vault}))

    def after(self, request: RequestCore, at: int) -> VaultState:
        """The state once ``request`` was approved here at ``at``."""
        return replace(
            self,
            approvals=(*self.approvals, Approval(request=request, at=at)),
            clock_floor=max(self.clock_floor, at),
        )

    @property
    def used_request_ids(self) -> frozenset[bytes]:
        return frozenset(a.request.request_id for a in self.approvals)


def replay(
    vault_id: str,
    approvals: Iterable[tuple[int, RequestCore]],
    *,
    installed_at: int | None,
    clock_floor: int,
    definitions: Iterable[VaultDefinition] = (),
) -> VaultState:
    state = VaultState(vault_id=vault_id, installed_at=installed_at, clock_floor=clock_floor)
    for vault in definitions:
        state = state.with_definition(vault)
    for at, request in approvals:
        state = state.after(request, at)
    return state.with_clock_floor(clock_floor)


def spend_lookback(rules: Rules) -> int:
    """How far back a station's own withdrawals and announcements must appear in a request's history.

    Two spends in one rolling window were signed at most a window plus two
    request lifetimes (and the clock skew twice) apart, so a station that
    signed both sees the earlier one in the later one's history.
    """
    return rules.window_seconds + 2 * rules.max_request_lifetime_seconds + 2 * CLOCK_SKEW_SECONDS


def action_lookback(rules: Rules) -> int:
    """How far back any of a station's own approvals must appear: the cooldown and rekey delay's reach."""
    longest = max(rules.cooldown_seconds, rules.rekey_delay_seconds)
    return longest + 2 * rules.max_request_lifetime_seconds + 2 * CLOCK_SKEW_SECONDS


def share_lookback(rules: Rules) -> int:
    """How far back a station counts its own spends against its share (quorums that need not overlap)."""
    return rules.window_seconds + rules.max_request_lifetime_seconds + CLOCK_SKEW_SECONDS
