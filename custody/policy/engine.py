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
from enum import StrEnum
from typing import TYPE_CHECKING

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


class Code(StrEnum):
    WRONG_VAULT = "wrong-vault"
    POLICY_MISMATCH = "policy-mismatch"
    CLOCK_ROLLBACK = "clock-rollback"
    NOT_YET_VALID = "not-yet-valid"
    EXPIRED = "expired"
    LIFETIME = "lifetime-too-long"
    HISTORY_INVALID = "history-invalid"
    HISTORY_INCOMPLETE = "history-incomplete"
    REPLAY = "replay"
    WRONG_ASSET = "wrong-asset"
    DESTINATION = "destination-not-allowed"
    MIN_AMOUNT = "under-minimum"
    PER_SPEND = "over-per-spend-limit"
    WINDOW = "over-window-limit"
    WINDOW_COUNT = "over-window-count"
    COOLDOWN = "cooldown"
    ANNOUNCE_REQUIRED = "announce-required"
    NO_ANNOUNCE_PHASE = "no-announce-phase"
    UNKNOWN_ANNOUNCEMENT = "unknown-announcement"
    ANNOUNCEMENT_UNSIGNED = "announcement-not-signed"
    ANNOUNCEMENT_MISMATCH = "announcement-mismatch"
    ANNOUNCEMENT_CLOSED = "announcement-closed"
    TOO_EARLY = "too-early"
    ANNOUNCEMENT_EXPIRED = "announcement-expired"
    REKEY_DELAY = "rekey-delay"
    LOCK_RATCHET = "lock-ratchet"
    FEE = "over-fee-cap"
    PAYLOAD_INVALID = "payload-invalid"
    PAYLOAD_MISMATCH = "payload-mismatch"
    UNACCOUNTED = "unaccounted-amount"
    SIDE_EFFECTS = "side-effects"
    CUSTODY = "custody-change"
    CLAWBACK = "clawback-too-short"
    RECOVERY_PATH = "no-recovery-path"
    WRONG_CHAIN = "wrong-chain"
    UNEXPLAINED = "unexplained-call"
    DELEGATECALL = "delegatecall"
    GAS_REFUND = "gas-refund"
    NONCE = "nonce"


#: What each refusal means, for the custodians' screen and the refusal message.
EXPLANATIONS: dict[Code, str] = {
    Code.WRONG_VAULT: "The request is for a vault this policy does not cover.",
    Code.POLICY_MISMATCH: "The host built the request against a different vault definition than the one "
    "sealed here (an old or altered policy on one side).",
    Code.CLOCK_ROLLBACK: "The station's clock reads earlier than its last log entry: the clock was set back.",
    Code.NOT_YET_VALID: "The request was created in the future by more than the allowed clock skew.",
    Code.EXPIRED: "The request has expired; the host must build a new one.",
    Code.LIFETIME: "The request is valid for longer than the policy allows a request to live.",
    Code.HISTORY_INVALID: "The vault history the request carries is not sound: it names another vault, "
    "or a signature in it does not verify.",
    Code.HISTORY_INCOMPLETE: "The vault history the request carries leaves out a request this station "
    "signed; without it the vault's limits cannot be counted. The host must include it.",
    Code.REPLAY: "This request id was already approved (here or elsewhere in the vault); a request is signed "
    "at most once.",
    Code.WRONG_ASSET: "The request moves a different asset than the vault holds.",
    Code.DESTINATION: "The destination is not on the vault's allowlist.",
    Code.MIN_AMOUNT: "The amount is below the vault's minimum withdrawal.",
    Code.PER_SPEND: "The amount is larger than the per-spend maximum.",
    Code.WINDOW: "This amount would take the rolling-window total over its maximum.",
    Code.WINDOW_COUNT: "The rolling window already holds as many withdrawals as the vault allows.",
    Code.COOLDOWN: "Too little time has passed since the vault's last action.",
    Code.ANNOUNCE_REQUIRED: "This vault withdraws in two phases: announce, then execute after the delay.",
    Code.NO_ANNOUNCE_PHASE: "This vault has no announce delay; use a plain withdrawal.",
    Code.UNKNOWN_ANNOUNCEMENT: "No announcement with this id is in the request's history or this "
    "station's log.",
    Code.ANNOUNCEMENT_UNSIGNED: "The announcement does not carry a quorum of valid signatures in the "
    "history.",
    Code.ANNOUNCEMENT_MISMATCH: "The execution does not repeat the announced asset, amount and destination.",
    Code.ANNOUNCEMENT_CLOSED: "The announcement was already executed or cancelled, or an execution or "
    "cancellation of it was signed.",
    Code.TOO_EARLY: "The announce-to-execute delay has not passed yet.",
    Code.ANNOUNCEMENT_EXPIRED: "The announcement expired before it was executed; announce again.",
    Code.REKEY_DELAY: "The rekey delay since the vault's last action has not passed yet.",
    Code.LOCK_RATCHET: "The lock level only goes up: the new threshold must exceed the current one, "
    "and fit the key set. Lower it only by a rekey.",
    Code.FEE: "The fee is above the vault's cap.",
    Code.PAYLOAD_INVALID: "The chain spend is missing, malformed, or not a spend of this vault.",
    Code.PAYLOAD_MISMATCH: "The chain spend does not do what the request says.",
    Code.UNACCOUNTED: "Some of the spent value leaves without a visible output (an implicit fee).",
    Code.SIDE_EFFECTS: "The chain spend does more than this request may: other assets, drop coins, offers, "
    "issuances, or coins the vault does not authorise.",
    Code.CUSTODY: "The spend changes the vault's custody (or melts the vault) other than the request says.",
    Code.CLAWBACK: "The payment's clawback is not the vault's, or expires before the vault's announce delay.",
    Code.RECOVERY_PATH: "A rekey by fewer signers than the threshold needs a chain that holds its delay and "
    "lets the quorum cancel it: this vault has no recovery path for that many initiators.",
    Code.WRONG_CHAIN: "The transaction is for another chain or another Safe than this vault's.",
    Code.UNEXPLAINED: "The transaction makes a call the station cannot explain, or one that hands over "
    "assets (approve, unknown calldata, an unmapped call of the Safe to itself): no blind signing.",
    Code.DELEGATECALL: "The transaction DELEGATECALLs (runs another contract's code as the Safe: the Bybit "
    "2025 pattern). Only the vault's allowlisted MultiSendCallOnly may be, and its calls are each checked.",
    Code.GAS_REFUND: "The transaction pays a gas refund out of the vault (gas price, base gas, gas token, "
    "refund receiver or Safe gas set): the vault pays no one for executing it.",
    Code.NONCE: "The nonce is not the vault's next one: it would reuse a nonce already signed, or skip one.",
}


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
