"""What each station would say to a new request, and the vault's timeline, from what the host holds.

Stations decide on the request's history plus their own logs. The host knows
each station's approvals it collected, each with the station's own signed
approval time, so it runs the stations' own ``decide`` per station, with the
history it is about to send, and refuses locally a request fewer than M
stations would sign. It cannot see approvals whose answers never came back,
nor a policy change not installed yet: a station may still refuse, and says
why. Pure functions of registry rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from custody.chains import ChainFacts
from custody.policy.engine import Refuse, decide
from custody.policy.history import Event, verify_entry
from custody.policy.vault_state import VaultState, replay
from custody.schemas.request import (
    Announce,
    Cancel,
    Execute,
    RaiseLock,
    Rekey,
    SlowRekey,
    SpendRequest,
    signatures_needed,
)
from custody.schemas.vault import VaultKey
from host.history import Rows, entry_for
from host.registry import VaultRow


def station_state(generations: Sequence[VaultRow], rows: Rows, key: VaultKey) -> VaultState:
    """A station's state as the host knows it: the approvals it collected from the station's key.

    The station counts delays from when it installed the vault; the host knows
    only that this was after the first generation naming the key was created.
    """
    installed = min(
        (g.created_at for g in generations if g.definition.key(key.key_id) is not None), default=None
    )
    approvals = sorted(
        (r.response.approved_at, row.request.core())
        for row, responses in rows
        for r in responses
        if r.response.key_id == key.key_id
    )
    return replay(
        generations[-1].definition.vault_id,
        approvals,
        installed_at=installed,
        clock_floor=0,
        definitions=[g.definition for g in generations],
    )


@dataclass(frozen=True, slots=True)
class StationOutlook:
    station: str
    refuses: bool
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
    generations: Sequence[VaultRow],
    rows: Rows,
    request: SpendRequest,
    now: int,
    chain: ChainFacts | None = None,
) -> Preflight:
    """``chain``: the facts the stations will derive from the request's payload, derived here the same way."""
    vault = generations[-1].definition
    outlooks = []
    for key in vault.keys:
        verdict = decide(vault, station_state(generations, rows, key), request, now, chain)
        reason = verdict.text if isinstance(verdict, Refuse) else ""
        outlooks.append(StationOutlook(key.station, isinstance(verdict, Refuse), reason))
    return Preflight(signatures_needed(request.action, vault.threshold), tuple(outlooks))


def events(generations: Sequence[VaultRow], rows: Rows) -> list[Event]:
    """Every answered request of the vault as the stations would see it in a history."""
    by_generation = {g.definition.generation: g.definition for g in generations}
    by_digest = {g.definition.digest(): g.definition for g in generations}
    vault_id = generations[-1].definition.vault_id
    return [
        verify_entry(entry_for(row, responses, by_generation[row.generation]), by_digest, vault_id, n)
        for n, (row, responses) in enumerate(rows, 1)
        if responses
    ]


@dataclass(frozen=True, slots=True)
class AnnouncementView:
    request_id: bytes
    amount: int
    destination: str
    signers: tuple[str, ...]
    status: str  # pending (no quorum yet), open, executed, cancelled
    opens_at: int | None  # once it has a quorum: its latest signature plus the delay
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


def timeline(generations: Sequence[VaultRow], rows: Rows) -> Timeline:
    current = generations[-1].definition
    rules = current.rules
    seen = events(generations, rows)
    closed: dict[bytes, str] = {}
    for e in seen:
        action = e.request.action
        if e.finalized and isinstance(action, Execute | Cancel):
            closed[action.announce_id] = "executed" if isinstance(action, Execute) else "cancelled"
    views = []
    for e in seen:
        action = e.request.action
        if not isinstance(action, Announce):
            continue
        opens = e.at + rules.announce_delay_seconds if e.finalized else None
        views.append(
            AnnouncementView(
                e.request.request_id,
                action.amount,
                action.destination,
                tuple(sorted(e.signers)),
                closed.get(e.request.request_id, "open" if e.finalized else "pending"),
                opens,
                opens + rules.announce_expiry_seconds if opens is not None else None,
            )
        )
    changes = []
    kinds = {r.request.request_id: r.request.action for r, _ in rows}
    for g in generations:
        d = g.definition
        what = f"{d.threshold} of {len(d.keys)}"
        if g.authorized_by is not None:
            kind = kinds.get(g.authorized_by)
            what += " by " + (
                "rekey"
                if isinstance(kind, Rekey)
                else "slow rekey"
                if isinstance(kind, SlowRekey)
                else "raise-lock"
                if isinstance(kind, RaiseLock)
                else "bundle"
            )
        else:
            what += " created"
        changes.append((d.generation, g.created_at, what))
    last = max((e.at for e in seen if e.finalized), default=None)
    return Timeline(
        current.vault_id,
        current.generation,
        current.threshold,
        len(current.keys),
        last,
        tuple(views),
        tuple(changes),
    )
