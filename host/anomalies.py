"""Patterns in a station's signing history that no single rule refuses, but an auditor should see.

The nanakusa pattern is exactly this: each signature within the rules, the
whole plainly wrong (1-unit sales, one after another). These are reported for
a person to judge; they do not fail the audit, because each is also what an
unusual honest week can look like. Definitions, per vault, over the
approvals in one station's export:

- **burst**: three or more approvals within one cooldown period of the vault.
  The rules allow one withdrawal or announcement per cooldown, and an
  execution or cancellation besides; a third is more than honest use needs.
- **amount far from usual**: a withdrawal or announcement below a tenth, or
  above ten times, the median of the station's other withdrawals and
  announcements for the vault (judged once there are at least three others).
- **new destination**: a destination first paid after the station had already
  paid others for the vault: the first spends set the baseline.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from custody.schemas.history import RequestCore
from custody.schemas.request import Announce, Withdraw
from custody.schemas.vault import Rules

BURST_SIZE = 3
FAR = 10  # "far from usual": this many times above or below the median
BASELINE = 3  # other amounts needed before any is called unusual


@dataclass(frozen=True, slots=True)
class Anomaly:
    kind: str  # burst, amount, destination
    vault_id: str
    text: str


def anomalies(
    approvals: Iterable[tuple[int, int, RequestCore]], rules_of: Callable[[str], Rules | None]
) -> list[Anomaly]:
    """``approvals`` are (audit seq, station time, request core); ``rules_of`` gives a vault's rules."""
    by_vault: dict[str, list[tuple[int, int, RequestCore]]] = {}
    for seq, at, core in approvals:
        by_vault.setdefault(core.vault_id, []).append((seq, at, core))
    found: list[Anomaly] = []
    for vault_id, items in sorted(by_vault.items()):
        items.sort(key=lambda i: (i[1], i[0]))
        rules = rules_of(vault_id)
        if rules is not None:
            found += _bursts(vault_id, items, rules.cooldown_seconds)
        found += _amounts(vault_id, items) + _destinations(vault_id, items)
    return found


def _bursts(vault_id: str, items: list[tuple[int, int, RequestCore]], cooldown: int) -> list[Anomaly]:
    out, start = [], 0
    for end in range(len(items)):
        while items[end][1] - items[start][1] >= cooldown:
            start += 1
        if end - start + 1 == BURST_SIZE:  # report each burst once, when it reaches the size
            out.append(
                Anomaly(
                    "burst",
                    vault_id,
                    f"entries {items[start][0]} to {items[end][0]}: {BURST_SIZE} approvals within one "
                    f"cooldown ({cooldown} s)",
                )
            )
    return out


def _spends(items: list[tuple[int, int, RequestCore]]) -> list[tuple[int, Withdraw | Announce]]:
    return [(seq, core.action) for seq, _, core in items if isinstance(core.action, Withdraw | Announce)]


def _amounts(vault_id: str, items: list[tuple[int, int, RequestCore]]) -> list[Anomaly]:
    spends = _spends(items)
    out = []
    for i, (seq, action) in enumerate(spends):
        others = [a.amount for j, (_, a) in enumerate(spends) if j != i]
        if len(others) < BASELINE:
            continue
        median = statistics.median(others)
        if action.amount * FAR < median or action.amount > median * FAR:
            out.append(
                Anomaly(
                    "amount",
                    vault_id,
                    f"entry {seq}: {action.amount} base units, against a median of {int(median)} for the "
                    "station's other withdrawals",
                )
            )
    return out


def _destinations(vault_id: str, items: list[tuple[int, int, RequestCore]]) -> list[Anomaly]:
    seen: set[str] = set()
    out = []
    for seq, action in _spends(items):
        if seen and action.destination not in seen:
            out.append(
                Anomaly("destination", vault_id, f"entry {seq}: first payment to {action.destination}")
            )
        seen.add(action.destination)
    return out
