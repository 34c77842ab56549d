"""The vault history the host puts in every request: what the stations count the vault's limits from.

A request carries each earlier request of the vault that some station may
have signed and that a rule can still see: every one the host holds a
signature for, within the reach of the rules the stations apply
(``custody.policy.vault_state``), and, for an execution or a cancellation,
the announcement and everything else that executed or cancelled it. Each
comes with every valid signature the host collected, so the stations see a
quorum where there was one. Requests nobody answered are left out: they
would only count against the limits. When a station signed one whose answer
never came back, it refuses with the request's id, and the operator adds it
(``--include``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from custody.policy.history import history_signature
from custody.policy.vault_state import action_lookback, spend_lookback
from custody.schemas.bundle import check_response
from custody.schemas.history import MAX_HISTORY, HistoryEntry
from custody.schemas.request import Action, Announce, Cancel, Execute, Withdraw
from custody.schemas.vault import VaultDefinition
from host.errors import UsageError
from host.registry import RequestRow, ResponseRow, VaultRow

Rows = Sequence[tuple[RequestRow, Sequence[ResponseRow]]]


def entry_for(row: RequestRow, responses: Iterable[ResponseRow], definition: VaultDefinition) -> HistoryEntry:
    """The request's core with every signature the host holds that verifies, sorted by key."""
    valid = [r.response for r in responses if check_response(definition, row.request, r.response) is None]
    signatures = sorted((history_signature(r) for r in valid), key=lambda s: s.key_id)
    return HistoryEntry(request=row.request.core(), signatures=tuple(signatures))


def _latest(row: RequestRow, responses: Sequence[ResponseRow]) -> int:
    return max([row.request.expires_at, *(r.response.approved_at for r in responses)])


def _wanted(
    row: RequestRow, responses: Sequence[ResponseRow], vault: VaultDefinition, action: Action, now: int
) -> bool:
    mine = row.request.action
    if isinstance(action, Execute | Cancel):
        if row.request.request_id == action.announce_id:
            return True
        if isinstance(mine, Execute | Cancel) and mine.announce_id == action.announce_id and responses:
            return True
    if not responses:
        return False
    latest, rules = _latest(row, responses), vault.rules
    spend = isinstance(mine, Withdraw | Announce)
    return (spend and latest > now - spend_lookback(rules)) or latest > now - action_lookback(rules)


def history_for(
    generations: Sequence[VaultRow],
    rows: Rows,
    action: Action,
    now: int,
    include: frozenset[bytes] = frozenset(),
) -> tuple[HistoryEntry, ...]:
    """The history a new request with ``action`` carries, built at ``now``; sorted as the schema wants."""
    definitions = {g.definition.generation: g.definition for g in generations}
    current = generations[-1].definition
    entries = []
    for row, responses in rows:
        if row.request.request_id in include or _wanted(row, responses, current, action, now):
            entries.append(entry_for(row, responses, definitions[row.generation]))
    if len(entries) > MAX_HISTORY:
        raise UsageError(
            f"the vault's recent history holds {len(entries)} requests, more than the {MAX_HISTORY} a "
            "request can carry; lower the vault's window count or wait for older ones to age out"
        )
    return tuple(sorted(entries, key=lambda e: e.request.digest()))
