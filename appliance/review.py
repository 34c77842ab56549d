"""The review screen's content: every field of a request in human terms, and each rule's result.

Pure: it returns lines, and the screen decides how to draw them. Nothing is
left out: a field the request carries and this screen does not show would be
a field the custodians sign blind.
"""

from __future__ import annotations

from datetime import UTC, datetime

from custody.policy.engine import Approve, Check, Verdict
from custody.schemas.policy_toml import format_duration
from custody.schemas.request import Announce, Cancel, Execute, RaiseLock, Rekey, SpendRequest, Withdraw
from custody.schemas.vault import StationPolicy


def when(at: int, now: int) -> str:
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    delta = at - now
    rel = (
        f"in {format_duration(delta)}"
        if delta > 0
        else f"{format_duration(-delta)} ago"
        if delta < 0
        else "now"
    )
    return f"{stamp} ({rel})"


def action_lines(policy: StationPolicy, request: SpendRequest) -> list[tuple[str, str]]:
    a, asset = request.action, policy.vault.asset
    rows: list[tuple[str, str]] = [("action", a.kind.value.upper())]
    if isinstance(a, Withdraw | Announce | Execute):
        if isinstance(a, Execute):
            rows.append(("announcement", a.announce_id.hex()))
        shown = asset.format(a.amount) if a.asset == asset.code else f"{a.amount} base units of {a.asset}"
        rows += [
            ("amount", f"{shown}  ({a.amount} base units)"),
            ("asset", a.asset),
            ("destination", a.destination),
        ]
    elif isinstance(a, Cancel):
        rows.append(("announcement", a.announce_id.hex()))
    elif isinstance(a, Rekey):
        rows.append(("new threshold", f"{a.threshold} of {len(a.keys)}"))
        rows.append(
            ("declared signers", f"{a.declared_signers} (current threshold {policy.vault.threshold})")
        )
        for number, key in enumerate(a.keys, 1):
            rows.append(
                (f"new key {number}", f"{key.station} {key.algorithm.value} id {key.key_id.hex()[:16]}")
            )
    elif isinstance(a, RaiseLock):
        rows.append(
            ("new threshold", f"{a.threshold} of {len(policy.vault.keys)} (now {policy.vault.threshold})")
        )
    return rows


def review_lines(
    station: str,
    policy: StationPolicy,
    request: SpendRequest,
    checks: tuple[Check, ...],
    verdict: Verdict,
    now: int,
) -> list[str]:
    v = policy.vault
    rows: list[tuple[str, str]] = [
        ("station", f"{station}  (key {policy.key_label!r}, id {policy.key_id.hex()[:16]})"),
        ("vault", f"{v.vault_id}  (generation {v.generation}, {v.threshold} of {len(v.keys)} signatures)"),
        *action_lines(policy, request),
        ("request id", request.request_id.hex()),
        ("created", when(request.created_at, now)),
        ("expires", when(request.expires_at, now)),
        ("policy digest", request.policy_digest.hex()),
        ("request digest", request.digest().hex()),
    ]
    width = max(len(name) for name, _ in rows)
    lines = ["=" * 72, "SPEND REQUEST: review every line", "=" * 72]
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    lines += ["-" * 72, "rules checked by this station:"]
    rule_width = max((len(c.rule) for c in checks), default=0)
    lines += [f"  {'ok  ' if c.ok else 'FAIL'}  {c.rule:<{rule_width}}  {c.detail}" for c in checks]
    lines.append("-" * 72)
    if isinstance(verdict, Approve):
        lines.append("verdict: every rule passes; signing needs the custodians' cards")
    else:
        lines.append(f"verdict: REFUSED ({verdict.code.value}): {verdict.text}")
    return lines
