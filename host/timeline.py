"""What the host knows of each station's view of a vault, and what a new request would meet there.

Each station enforces the policy against its own log. The host rebuilds that
state per station from the signatures it collected from it. It does not know
exactly when a station approved, only bounds: not before the request was
created, not after the response was collected (and exactly, once ``host
audit`` has read the station's log). So each station's state is built twice,
at the earliest and the latest timing, and a request is refused locally only
when a station would refuse it under both. Pure functions of registry rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from custody.policy.engine import Refuse, decide
from custody.policy.vault_state import VaultState, replay
from custody.schemas.bundle import required_signers
from custody.schemas.request import Announce, Cancel, Execute, RaiseLock, Rekey, SpendRequest
from custody.schemas.vault import VaultDefinition
from host.registry import RequestRow, ResponseRow, VaultRow


@dataclass(frozen=True, slots=True)
class Approval:
    """One station's signature on one request, with the bounds of when the station approved it."""

    station: str
    request: SpendRequest
    earliest: int
    latest: int


def approvals_of(rows: Iterable[tuple[RequestRow, Sequence[ResponseRow]]]) -> list[Approval]:
    found = []
    for req, responses in rows:
        for r in responses:
            exact = r.approved_at
            found.append(
                Approval(
                    r.response.station,
                    req.request,
                    exact if exact is not None else req.request.created_at,
                    exact if exact is not None else max(r.collected_at, req.request.created_at),
                )
            )
    return found


def _replayed(
    vault_id: str, mine: Sequence[Approval], installed: int | None, when: Callable[[Approval], int]
) -> VaultState:
    ordered = sorted(((when(a), a.request) for a in mine), key=lambda p: p[0])
    return replay(vault_id, ordered, installed_at=installed, clock_floor=0)


@dataclass(frozen=True, slots=True)
class StationBounds:
    station: str
    earliest: VaultState
    latest: VaultState


def station_states(generations: Sequence[VaultRow], approvals: Sequence[Approval]) -> list[StationBounds]:
    """The current generation's stations, each with its state at the earliest and latest timing.

    A station counts delays from when it installed the vault; the host knows
    only that this was after the generation naming its key was created.
    """
    current = generations[-1].definition
    bounds = []
    for key in current.keys:
        installed = min(
            (g.created_at for g in generations if any(k.key_id == key.key_id for k in g.definition.keys)),
            default=None,
        )
        mine = [a for a in approvals if a.station == key.station]
        early = _replayed(current.vault_id, mine, installed, lambda a: a.earliest)
        late = _replayed(current.vault_id, mine, installed, lambda a: a.latest)
        bounds.append(StationBounds(key.station, early, late))
    return bounds


@dataclass(frozen=True, slots=True)
class StationOutlook:
    station: str
    refuses: bool  # under every timing the host considers possible
    maybe: bool  # under some timings only
    reason: str


@dataclass(frozen=True, slots=True)
class Preflight:
    needed: int
    outlooks: tuple[StationOutlook, ...]

    @property
    def willing(self) -> int:
        return sum(not o.refuses for o in self.outlooks)

    @property
    def ok(self) -> bool:
        return self.willing >= self.needed


def preflight(
    vault: VaultDefinition, stations: Sequence[StationBounds], request: SpendRequest, now: int
) -> Preflight:
    outlooks = []
    for s in stations:
        verdicts = [decide(vault, state, request, now) for state in (s.earliest, s.latest)]
        refusals = [v for v in verdicts if isinstance(v, Refuse)]
        reason = refusals[0].text if refusals else ""
        outlooks.append(StationOutlook(s.station, len(refusals) == 2, len(refusals) == 1, reason))
    return Preflight(required_signers(vault, request), tuple(outlooks))


@dataclass(frozen=True, slots=True)
class AnnouncementView:
    request_id: bytes
    amount: int
    destination: str
    signers: tuple[str, ...]
    status: str  # pending (quorum not reached), open, executed, cancelled
    opens_at: int | None  # when some quorum of its signers can execute it, at the latest
    closes_at: int | None


@dataclass(frozen=True, slots=True)
class Timeline:
    vault_id: str
    generation: int
    threshold: int
    keys: int
    last_action_at: int | None
    announcements: tuple[AnnouncementView, ...]
    changes: tuple[tuple[int, int, str], ...]  # (generation, created_at, what changed)


def timeline(
    generations: Sequence[VaultRow], rows: Sequence[tuple[RequestRow, Sequence[ResponseRow]]]
) -> Timeline:
    current = generations[-1].definition
    rules = current.rules
    approvals = approvals_of(rows)
    finalized = [r for r, _ in rows if r.finalized_at is not None]
    closed: dict[bytes, str] = {}
    for r in finalized:
        action = r.request.action
        if isinstance(action, Execute | Cancel):
            closed[action.announce_id] = "executed" if isinstance(action, Execute) else "cancelled"
    last = max((a.latest for a in approvals if any(a.request == f.request for f in finalized)), default=None)
    views = []
    for req, responses in rows:
        action = req.request.action
        if not isinstance(action, Announce) or not responses:
            continue
        mine = [a for a in approvals if a.request.request_id == req.request.request_id]
        need = current.threshold
        opens = sorted(a.latest + rules.announce_delay_seconds for a in mine)
        closes = sorted(
            (a.earliest + rules.announce_delay_seconds + rules.announce_expiry_seconds for a in mine),
            reverse=True,
        )
        enough = len(mine) >= need
        status = closed.get(req.request.request_id, "open" if req.finalized_at is not None else "pending")
        views.append(
            AnnouncementView(
                req.request.request_id,
                action.amount,
                action.destination,
                tuple(sorted(a.station for a in mine)),
                status,
                opens[need - 1] if enough else None,
                closes[need - 1] if enough else None,
            )
        )
    changes = []
    for g in generations:
        d = g.definition
        what = f"{d.threshold} of {len(d.keys)}"
        if g.authorized_by is not None:
            kind = next((r.request.action for r, _ in rows if r.request.request_id == g.authorized_by), None)
            what += " by " + (
                "rekey"
                if isinstance(kind, Rekey)
                else "raise-lock"
                if isinstance(kind, RaiseLock)
                else "bundle"
            )
        else:
            what += " created"
        changes.append((d.generation, g.created_at, what))
    return Timeline(
        current.vault_id,
        current.generation,
        current.threshold,
        len(current.keys),
        last,
        tuple(views),
        tuple(changes),
    )
