"""The review screen's content: every field of a request in human terms, and each rule's result.

Pure: it returns lines, and the screen decides how to draw them. Nothing is
left out: a field the request carries and this screen does not show would be
a field the custodians sign blind. That includes the vault history the
request carries, since the signature covers it and the limits are counted
from it. Nothing here may raise on a value the schemas accept: a field that
cannot be drawn is a sitting that ends with nothing logged.
"""

from __future__ import annotations

from datetime import UTC, datetime

from custody.chains.base import ChainFacts
from custody.policy.engine import Approve, Check, Verdict
from custody.schemas.history import HistoryEntry
from custody.schemas.policy_toml import format_duration
from custody.schemas.request import (
    Action,
    Announce,
    Cancel,
    Execute,
    RaiseLock,
    Rekey,
    SlowRekey,
    SpendRequest,
    Withdraw,
)
from custody.schemas.vault import StationPolicy, VaultDefinition


def stamp(at: int) -> str:
    """A time as custodians read it; any integer at all renders, if only as a number."""
    try:
        return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{at} (seconds since 1970: not a date this screen can show)"


def when(at: int, now: int) -> str:
    delta = at - now
    rel = (
        f"in {format_duration(delta)}"
        if delta > 0
        else f"{format_duration(-delta)} ago"
        if delta < 0
        else "now"
    )
    return f"{stamp(at)} ({rel})"


def clock_banner(now: int) -> list[str]:
    """The station's clock, first on every review: delays are measured with it, and only people
    in the room can tell whether it is right."""
    return [
        f"STATION CLOCK  {stamp(now)}",
        "               check it against a trusted clock: every delay below is measured with it",
    ]


def _transfer(a: Withdraw | Announce | Execute, vault: VaultDefinition) -> str:
    return f"{vault.amount_text(a.asset, a.amount)} to {a.destination}"


def describe_action(action: Action, vault: VaultDefinition) -> str:
    """One line for an action, as the history lists it."""
    if isinstance(action, Withdraw | Announce):
        return f"{action.kind.value} {_transfer(action, vault)}"
    if isinstance(action, Execute):
        return f"execute {action.announce_id.hex()[:8]}: {_transfer(action, vault)}"
    if isinstance(action, Cancel):
        return f"cancel {action.announce_id.hex()[:8]}"
    if isinstance(action, Rekey):
        return f"rekey to {action.threshold} of {len(action.keys)}"
    if isinstance(action, SlowRekey):
        return f"slow rekey to {action.threshold} of {len(action.keys)} by {action.initiators}"
    return f"raise the lock level to {action.threshold}"


def action_lines(policy: StationPolicy, request: SpendRequest) -> list[tuple[str, str]]:
    a = request.action
    rows: list[tuple[str, str]] = [("action", a.kind.value.upper())]
    if isinstance(a, Withdraw | Announce | Execute):
        if isinstance(a, Execute):
            rows.append(("announcement", a.announce_id.hex()))
        rows += [
            ("amount", f"{policy.vault.amount_text(a.asset, a.amount)}  ({a.amount} base units)"),
            ("asset", a.asset),
            ("destination", a.destination),
        ]
    elif isinstance(a, Cancel):
        rows.append(("cancels", a.announce_id.hex()))
    elif isinstance(a, Rekey | SlowRekey):
        rows.append(("new threshold", f"{a.threshold} of {len(a.keys)}"))
        if isinstance(a, SlowRekey):
            rows.append(
                (
                    "signers needed",
                    f"{a.initiators} initiator(s), fewer than the {policy.vault.threshold} of the "
                    "current threshold: the chain holds the rekey, and the main quorum can cancel it",
                )
            )
        else:
            rows.append(("signers needed", f"all {policy.vault.threshold} of the current threshold"))
        for number, key in enumerate(a.keys, 1):
            rows.append(
                (f"new key {number}", f"{key.station} {key.algorithm.value} id {key.key_id.hex()[:16]}")
            )
    elif isinstance(a, RaiseLock):
        rows.append(
            ("new threshold", f"{a.threshold} of {len(policy.vault.keys)} (now {policy.vault.threshold})")
        )
    return rows


def history_lines(vault: VaultDefinition, history: tuple[HistoryEntry, ...]) -> list[str]:
    """Each earlier request the history carries: what it did, who signed it, and when it expired."""
    if not history:
        return ["history: none (no earlier request of this vault is carried)"]
    lines = [f"history: {len(history)} earlier request(s) of this vault, counted by the rules below"]
    for number, entry in enumerate(history, 1):
        core = entry.request
        stations = [k.station for s in entry.signatures if (k := vault.key(s.key_id)) is not None]
        others = len(entry.signatures) - len(stations)
        signed = ", ".join(stations) or "no signature of the current keys"
        if others:
            signed += f" (+{others} by earlier keys)"
        if entry.signatures:
            signed += f", the last at {stamp(max(s.approved_at for s in entry.signatures))}"
        lines.append(
            f"  {number:>2}. {core.request_id.hex()[:8]}  {describe_action(core.action, vault)}; "
            f"signed by {signed}; expires {stamp(core.expires_at)}"
        )
    return lines


def review_lines(
    station: str,
    policy: StationPolicy,
    request: SpendRequest,
    checks: tuple[Check, ...],
    verdict: Verdict,
    now: int,
    chain: ChainFacts | None = None,
) -> list[str]:
    v = policy.vault
    rows: list[tuple[str, str]] = [
        ("station", f"{station}  (key {policy.key_label!r}, id {policy.key_id.hex()[:16]})"),
        ("vault", f"{v.vault_id}  (generation {v.generation}, {v.threshold} of {len(v.keys)} signatures)"),
        *action_lines(policy, request),
        *(chain.review_rows(v, stamp) if chain is not None else []),
        ("request id", request.request_id.hex()),
        ("created", when(request.created_at, now)),
        ("expires", when(request.expires_at, now)),
        ("policy digest", request.policy_digest.hex()),
        ("request digest", request.digest().hex()),
    ]
    width = max(len(name) for name, _ in rows)
    lines = ["=" * 72, *clock_banner(now), "=" * 72, "SPEND REQUEST: review every line", "-" * 72]
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    lines += ["-" * 72, *history_lines(v, request.history)]
    if not v.quorums_overlap:
        lines.append(
            f"note: with {v.threshold} of {len(v.keys)}, two quorums need not share a station, so this "
            f"station signs at most {v.threshold}/{len(v.keys)} of each window limit"
        )
    lines += ["-" * 72, "rules checked by this station:"]
    rule_width = max((len(c.rule) for c in checks), default=0)
    lines += [f"  {'ok  ' if c.ok else 'FAIL'}  {c.rule:<{rule_width}}  {c.detail}" for c in checks]
    lines.append("-" * 72)
    if isinstance(verdict, Approve):
        lines.append("verdict: every rule passes; signing needs the custodians' cards")
    else:
        lines.append(f"verdict: REFUSED ({verdict.code.value}): {verdict.text}")
    return lines
