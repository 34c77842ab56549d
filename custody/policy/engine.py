"""The policy engine: ``decide(vault, state, request, now)``, a pure function of its arguments.

Every rule that applies to the request is evaluated, so the review screen can
show each one's result; the verdict is the first failure, or approval when
none fails. No I/O, no clock, no HSM: everything it needs is an argument,
which is what lets the tests walk every rule and hypothesis check the
properties (never approve past a failed rule; monotonic in time; at most
once per request).

Rules that count across spends (the window, its count, the cooldown, the
announcement's life) read the vault-wide view: the request's checked history
merged with this station's own log (``custody.policy.history``). Where two
quorums need not share a station (2M <= N), the window rules also hold this
station to its share of the limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from custody.policy.codes import EXPLANATIONS, Code
from custody.policy.history import HistoryError, VaultView, vault_view
from custody.policy.vault_state import CLOCK_SKEW_SECONDS, VaultState, share_lookback
from custody.schemas.history import RequestCore
from custody.schemas.policy_toml import format_duration
from custody.schemas.request import (
    Announce,
    Cancel,
    Execute,
    RaiseLock,
    Rekey,
    SlowRekey,
    SpendRequest,
    Withdraw,
)
from custody.schemas.vault import VaultDefinition

if TYPE_CHECKING:
    from custody.chains.base import ChainFacts

__all__ = ["CLOCK_SKEW_SECONDS", "EXPLANATIONS", "Approve", "Check", "Code", "Refuse", "decide", "evaluate"]


@dataclass(frozen=True, slots=True)
class Check:
    rule: str
    ok: bool
    detail: str
    code: Code


@dataclass(frozen=True, slots=True)
class Approve:
    checks: tuple[Check, ...]


@dataclass(frozen=True, slots=True)
class Refuse:
    code: Code
    text: str
    checks: tuple[Check, ...] = ()


Verdict = Approve | Refuse
Rule = Callable[[VaultDefinition, VaultView, SpendRequest, int], Check | None]


def _when(seconds: int) -> str:
    return format_duration(max(seconds, 0))


def _vault(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check:
    return Check("vault", r.vault_id == v.vault_id, f"request {r.vault_id!r}", Code.WRONG_VAULT)


def _policy(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check:
    ok = r.policy_digest == v.digest()
    detail = "host's definition matches the sealed one" if ok else "host believes another definition"
    return Check("policy digest", ok, detail, Code.POLICY_MISMATCH)


def _clock(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check:
    ok = now >= s.clock_floor
    detail = (
        "not earlier than the last log entry" if ok else f"{_when(s.clock_floor - now)} before the last entry"
    )
    return Check("clock", ok, detail, Code.CLOCK_ROLLBACK)


def _not_before(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check:
    ok = r.created_at <= now + CLOCK_SKEW_SECONDS
    return Check(
        "created", ok, "in the past" if ok else f"{_when(r.created_at - now)} ahead", Code.NOT_YET_VALID
    )


def _expiry(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check:
    ok = now <= r.expires_at
    detail = f"expires in {_when(r.expires_at - now)}" if ok else f"expired {_when(now - r.expires_at)} ago"
    return Check("expiry", ok, detail, Code.EXPIRED)


def _lifetime(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check:
    life, limit = r.expires_at - r.created_at, v.rules.max_request_lifetime_seconds
    return Check("lifetime", life <= limit, f"{_when(life)} (max {_when(limit)})", Code.LIFETIME)


def _history(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check:
    missing = s.missing(r, now)
    if missing:
        first = missing[0]
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        detail = (
            f"leaves out request {first.request.request_id.hex()} ({first.request.action.kind.value}), "
            f"signed here {_when(now - first.at)} ago{more}"
        )
        return Check("history", False, detail, Code.HISTORY_INCOMPLETE)
    final = sum(e.finalized for e in s.events if e.in_history)
    pending = len(r.history) - final
    detail = f"{len(r.history)} earlier request(s): {final} with a quorum, {pending} without; "
    detail += "every one signed here is included"
    return Check("history", True, detail, Code.HISTORY_INCOMPLETE)


def _replay(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check:
    ok = r.request_id not in s.used_request_ids
    return Check("first use", ok, "never approved" if ok else "already approved", Code.REPLAY)


def _asset(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    if not isinstance(a, Withdraw | Announce | Execute):
        return None
    ok = v.limits(a.asset) is not None
    return Check("asset", ok, a.asset if ok else f"{a.asset}: not held by this vault", Code.WRONG_ASSET)


def _destination(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    if not isinstance(a, Withdraw | Announce | Execute):
        return None
    ok = a.destination in v.rules.destinations
    return Check("destination", ok, "on the allowlist" if ok else "NOT on the allowlist", Code.DESTINATION)


def _min_amount(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    if not isinstance(a, Withdraw | Announce) or (lim := v.limits(a.asset)) is None:
        return None
    limit = lim.min_per_spend
    return Check("minimum", a.amount >= limit, f"min {lim.asset.format(limit)}", Code.MIN_AMOUNT)


def _fee(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check:
    limit = v.rules.max_fee
    return Check("fee", r.fee <= limit, f"{v.asset.format(r.fee)} (max {v.asset.format(limit)})", Code.FEE)


def _per_spend(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    if not isinstance(a, Withdraw | Announce | Execute) or (lim := v.limits(a.asset)) is None:
        return None
    limit = lim.max_per_spend
    return Check("per-spend limit", a.amount <= limit, f"max {lim.asset.format(limit)}", Code.PER_SPEND)


def _window(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    if not isinstance(a, Withdraw | Announce) or (lim := v.limits(a.asset)) is None:
        return None  # an execution was counted when it was announced
    rules, fmt, limit = v.rules, lim.asset.format, lim.window_max
    this = a.amount + (r.fee if lim.native else 0)
    used = _spent((e.request for e in s.spends_after(now - rules.window_seconds)), a.asset, lim.native)
    ok = used + this <= limit
    detail = f"vault-wide {fmt(used)} used of {fmt(limit)} per {_when(rules.window_seconds)}"
    if not v.quorums_overlap:
        share = v.share(limit)
        own = (x.request for x in s.own_spends_after(now - share_lookback(rules)))
        mine = _spent(own, a.asset, lim.native)
        ok = ok and mine + this <= share
        detail += f"; this station's share {fmt(mine)} used of {fmt(share)} ({_share_note(v)})"
    return Check("rolling window", ok, detail, Code.WINDOW)


def _spent(requests: Iterable[RequestCore], asset: str, native: bool) -> int:
    """What withdrawals and announcements take out of the vault in ``asset``; fees count in the native."""
    return sum(
        (q.action.amount if q.action.asset == asset else 0) + (q.fee if native else 0)
        for q in requests
        if isinstance(q.action, Withdraw | Announce)
    )


def _share_note(v: VaultDefinition) -> str:
    return f"{v.threshold} of {len(v.keys)}: quorums need not share a station, so each signs only M/N"


def _window_count(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check | None:
    if not isinstance(r.action, Withdraw | Announce):
        return None
    rules = v.rules
    used = len(s.spends_after(now - rules.window_seconds))
    ok = used + 1 <= rules.window_count
    detail = f"vault-wide {used} of {rules.window_count} withdrawals per {_when(rules.window_seconds)}"
    if not v.quorums_overlap:
        share = v.share(rules.window_count)
        mine = len(s.own_spends_after(now - share_lookback(rules)))
        ok = ok and mine + 1 <= share
        detail += f"; this station's share {mine} of {share}"
    return Check("window count", ok, detail, Code.WINDOW_COUNT)


def _phase(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check | None:
    a, two_phase = r.action, v.rules.two_phase
    if isinstance(a, Withdraw):
        return Check(
            "phases",
            not two_phase,
            "single-phase vault" if not two_phase else "two-phase vault",
            Code.ANNOUNCE_REQUIRED,
        )
    if isinstance(a, Announce):
        return Check(
            "phases",
            two_phase,
            "two-phase vault" if two_phase else "single-phase vault",
            Code.NO_ANNOUNCE_PHASE,
        )
    return None


def _cooldown(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check | None:
    last = s.last_action_at()
    if not isinstance(r.action, Withdraw | Announce) or last is None:
        return None
    ready = last + v.rules.cooldown_seconds
    ok = now >= ready
    since = f"vault's last action {_when(now - last)} ago" if now >= last else "an action may still be signed"
    return Check("cooldown", ok, since + ("" if ok else f"; wait {_when(ready - now)}"), Code.COOLDOWN)


def _announcement(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    if not isinstance(a, Execute | Cancel):
        return None
    ann = s.announcement(a.announce_id)
    if ann is None and isinstance(a, Cancel) and isinstance(s.pending(a.announce_id), SlowRekey):
        ann = next(e for e in s.events if e.request.request_id == a.announce_id)
    if ann is None:
        return Check("announcement", False, a.announce_id.hex(), Code.UNKNOWN_ANNOUNCEMENT)
    closers = s.closers(a.announce_id, r.request_id)
    if closers:
        kind = closers[0].request.action.kind.value
        return Check("announcement", False, f"a {kind} of it was signed", Code.ANNOUNCEMENT_CLOSED)
    if isinstance(a, Execute):
        if not ann.finalized:
            detail = f"signed by {len(ann.signers)} of the {v.threshold} needed"
            return Check("announcement", False, detail, Code.ANNOUNCEMENT_UNSIGNED)
        announced = ann.request.action
        assert isinstance(announced, Announce)
        if (a.asset, a.amount, a.destination) != (announced.asset, announced.amount, announced.destination):
            return Check(
                "announcement", False, "asset, amount or destination differ", Code.ANNOUNCEMENT_MISMATCH
            )
    signed = f"signed by {', '.join(ann.signers)}" if ann.signers else "signed here"
    return Check("announcement", True, f"open; {signed}", Code.UNKNOWN_ANNOUNCEMENT)


def _execute_window(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    ann = s.announcement(a.announce_id) if isinstance(a, Execute) else None
    if ann is None or not ann.finalized:
        return None
    rules = v.rules
    opens = ann.at + rules.announce_delay_seconds
    closes = opens + rules.announce_expiry_seconds
    if now < opens:
        return Check("execute window", False, f"opens in {_when(opens - now)}", Code.TOO_EARLY)
    if now > closes:
        return Check("execute window", False, f"closed {_when(now - closes)} ago", Code.ANNOUNCEMENT_EXPIRED)
    return Check("execute window", True, f"open for {_when(closes - now)} more", Code.TOO_EARLY)


def _rekey(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check | None:
    if not isinstance(r.action, Rekey):
        return None
    delay, last = v.rules.rekey_delay_seconds, s.last_action_at()
    ready = (last if last is not None else now - delay) + delay
    detail = f"delay {_when(delay)} since the vault's last action; all {v.threshold} signatures needed"
    if now < ready:
        return Check("rekey delay", False, f"{detail}; wait {_when(ready - now)}", Code.REKEY_DELAY)
    return Check("rekey delay", True, detail, Code.REKEY_DELAY)


def _recovery(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check | None:
    """A slow rekey only where the chain holds it: a recovery path of the vault's custody."""
    a = r.action
    if not isinstance(a, SlowRekey):
        return None
    least = getattr(v.chain, "recovery_signers", 0)
    ok = bool(least) and least <= a.initiators < v.threshold
    paths = f"{least} to {v.threshold - 1} initiators" if least else "none"
    return Check(
        "recovery path", ok, f"{a.initiators} initiator(s); the vault's paths: {paths}", Code.RECOVERY_PATH
    )


def _ratchet(v: VaultDefinition, s: VaultView, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    if not isinstance(a, RaiseLock):
        return None
    current = max(v.threshold, s.approved_lock())
    ok = current < a.threshold <= len(v.keys)
    return Check("lock ratchet", ok, f"{current} -> {a.threshold} of {len(v.keys)}", Code.LOCK_RATCHET)


RULES: tuple[Rule, ...] = (
    _vault,
    _policy,
    _clock,
    _not_before,
    _expiry,
    _lifetime,
    _history,
    _replay,
    _phase,
    _asset,
    _destination,
    _min_amount,
    _per_spend,
    _fee,
    _window,
    _window_count,
    _cooldown,
    _announcement,
    _execute_window,
    _rekey,
    _recovery,
    _ratchet,
)


def evaluate(vault: VaultDefinition, view: VaultView, request: SpendRequest, now: int) -> tuple[Check, ...]:
    return tuple(c for rule in RULES if (c := rule(vault, view, request, now)) is not None)


def decide(
    vault: VaultDefinition,
    state: VaultState,
    request: SpendRequest,
    now: int,
    chain: ChainFacts | None = None,
) -> Verdict:
    """``chain``: the facts the vault's chain adapter derived from the request's payload, whose own
    rules (the spend does what the request says, fees, clawbacks, custody) run after the vault's."""
    try:
        view = vault_view(vault, state, request)
    except HistoryError as exc:
        check = Check("history", False, str(exc), Code.HISTORY_INVALID)
        return Refuse(check.code, f"{EXPLANATIONS[check.code]} ({exc})", (check,))
    checks = evaluate(vault, view, request, now)
    if chain is not None:
        checks += chain.checks(vault, view, request, now)
    for check in checks:
        if not check.ok:
            return Refuse(check.code, f"{EXPLANATIONS[check.code]} ({check.rule}: {check.detail})", checks)
    return Approve(checks)
