"""What a station remembers about a vault, as a value: derived from its audit log, fed to ``decide``.

Only approvals change it, so the same log always gives the same state, and
a test can build any state without SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from custody.schemas.request import Announce, Cancel, Execute, RaiseLock, Rekey, SpendRequest, Withdraw


class AnnouncementStatus(StrEnum):
    OPEN = "open"
    EXECUTED = "executed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class Announcement:
    announce_id: bytes
    at: int  # when this station approved the announcement
    asset: str
    amount: int
    destination: str
    status: AnnouncementStatus = AnnouncementStatus.OPEN


def _frozen(d: dict[bytes, Announcement]) -> Mapping[bytes, Announcement]:
    return MappingProxyType(d)


@dataclass(frozen=True, slots=True, kw_only=True)
class VaultState:
    vault_id: str
    #: The last approved action, or the vault's first installation here: delays count from it.
    last_action_at: int | None = None
    #: (time, amount) of each approved withdrawal and announcement, for the rolling window.
    spends: tuple[tuple[int, int], ...] = ()
    used_request_ids: frozenset[bytes] = frozenset()
    announcements: Mapping[bytes, Announcement] = field(default_factory=lambda: _frozen({}))
    #: The highest threshold approved by raise-lock since the last rekey (0: none).
    approved_lock: int = 0
    #: The latest time in the station's log: a clock reading earlier than this is a rolled-back clock.
    clock_floor: int = 0

    def window_total(self, now: int, window_seconds: int) -> int:
        return sum(amount for at, amount in self.spends if at > now - window_seconds)

    def with_clock_floor(self, at: int) -> VaultState:
        return replace(self, clock_floor=max(self.clock_floor, at))

    def after(self, request: SpendRequest, at: int) -> VaultState:
        """The state once ``request`` was approved at ``at``."""
        action = request.action
        changes: dict[str, object] = {
            "last_action_at": at,
            "used_request_ids": self.used_request_ids | {request.request_id},
            "clock_floor": max(self.clock_floor, at),
        }
        announcements = dict(self.announcements)
        if isinstance(action, Withdraw | Announce):
            changes["spends"] = (*self.spends, (at, action.amount))
        if isinstance(action, Announce):
            announcements[request.request_id] = Announcement(
                announce_id=request.request_id,
                at=at,
                asset=action.asset,
                amount=action.amount,
                destination=action.destination,
            )
        elif isinstance(action, Execute | Cancel) and action.announce_id in announcements:
            status = (
                AnnouncementStatus.EXECUTED if isinstance(action, Execute) else AnnouncementStatus.CANCELLED
            )
            announcements[action.announce_id] = replace(announcements[action.announce_id], status=status)
        elif isinstance(action, RaiseLock):
            changes["approved_lock"] = max(self.approved_lock, action.threshold)
        elif isinstance(action, Rekey):
            changes["approved_lock"] = 0
        changes["announcements"] = _frozen(announcements)
        return replace(self, **changes)  # type: ignore[arg-type]


def replay(
    vault_id: str,
    approvals: Iterable[tuple[int, SpendRequest]],
    *,
    installed_at: int | None,
    clock_floor: int,
) -> VaultState:
    state = VaultState(vault_id=vault_id, last_action_at=installed_at, clock_floor=clock_floor)
    for at, request in approvals:
        state = state.after(request, at)
    return state.with_clock_floor(clock_floor)
