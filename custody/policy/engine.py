"""The policy engine: ``decide(vault, state, request, now)``, a pure function of its arguments.

Every rule that applies to the request is evaluated, so the review screen can
show each one's result; the verdict is the first failure, or approval when
none fails. No I/O, no clock, no HSM: everything it needs is an argument,
which is what lets the tests walk every rule and hypothesis check the
properties (never approve past a failed rule; monotonic in time; at most
once per request).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from custody.policy.vault_state import AnnouncementStatus, VaultState
from custody.schemas.policy_toml import format_duration
from custody.schemas.request import Announce, Cancel, Execute, RaiseLock, Rekey, SpendRequest, Withdraw
from custody.schemas.vault import VaultDefinition

#: A request may say it was created this far in the future (host and station clocks differ).
CLOCK_SKEW_SECONDS = 300


class Code(StrEnum):
    WRONG_VAULT = "wrong-vault"
    POLICY_MISMATCH = "policy-mismatch"
    CLOCK_ROLLBACK = "clock-rollback"
    NOT_YET_VALID = "not-yet-valid"
    EXPIRED = "expired"
    LIFETIME = "lifetime-too-long"
    REPLAY = "replay"
    WRONG_ASSET = "wrong-asset"
    DESTINATION = "destination-not-allowed"
    PER_SPEND = "over-per-spend-limit"
    WINDOW = "over-window-limit"
    COOLDOWN = "cooldown"
    ANNOUNCE_REQUIRED = "announce-required"
    NO_ANNOUNCE_PHASE = "no-announce-phase"
    UNKNOWN_ANNOUNCEMENT = "unknown-announcement"
    ANNOUNCEMENT_MISMATCH = "announcement-mismatch"
    ANNOUNCEMENT_CLOSED = "announcement-closed"
    TOO_EARLY = "too-early"
    ANNOUNCEMENT_EXPIRED = "announcement-expired"
    REKEY_DELAY = "rekey-delay"
    REKEY_INVALID = "rekey-invalid"
    LOCK_RATCHET = "lock-ratchet"


#: What each refusal means, for the custodians' screen and the refusal message.
EXPLANATIONS: dict[Code, str] = {
    Code.WRONG_VAULT: "The request is for a vault this policy does not cover.",
    Code.POLICY_MISMATCH: "The host built the request against a different vault definition than the one "
    "sealed here (an old or altered policy on one side).",
    Code.CLOCK_ROLLBACK: "The station's clock reads earlier than its last log entry: the clock was set back.",
    Code.NOT_YET_VALID: "The request was created in the future by more than the allowed clock skew.",
    Code.EXPIRED: "The request has expired; the host must build a new one.",
    Code.LIFETIME: "The request is valid for longer than the policy allows a request to live.",
    Code.REPLAY: "This request id was already approved here; a request is signed at most once.",
    Code.WRONG_ASSET: "The request moves a different asset than the vault holds.",
    Code.DESTINATION: "The destination is not on the vault's allowlist.",
    Code.PER_SPEND: "The amount is larger than the per-spend maximum.",
    Code.WINDOW: "This amount would take the rolling-window total over its maximum.",
    Code.COOLDOWN: "Too little time has passed since the vault's last action at this station.",
    Code.ANNOUNCE_REQUIRED: "This vault withdraws in two phases: announce, then execute after the delay.",
    Code.NO_ANNOUNCE_PHASE: "This vault has no announce delay; use a plain withdrawal.",
    Code.UNKNOWN_ANNOUNCEMENT: "No announcement with this id was approved at this station.",
    Code.ANNOUNCEMENT_MISMATCH: "The execution does not repeat the announced asset, amount and destination.",
    Code.ANNOUNCEMENT_CLOSED: "The announcement was already executed or cancelled.",
    Code.TOO_EARLY: "The announce-to-execute delay has not passed yet.",
    Code.ANNOUNCEMENT_EXPIRED: "The announcement expired before it was executed; announce again.",
    Code.REKEY_DELAY: "The rekey delay (with its penalty for fewer signers) has not passed yet.",
    Code.REKEY_INVALID: "The rekey declares an impossible number of signers.",
    Code.LOCK_RATCHET: "The lock level only goes up: the new threshold must exceed the current one, "
    "and fit the key set. Lower it only by a rekey.",
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
Rule = Callable[[VaultDefinition, VaultState, SpendRequest, int], Check | None]


def _when(seconds: int) -> str:
    return format_duration(max(seconds, 0))


def _vault(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check:
    return Check("vault", r.vault_id == v.vault_id, f"request {r.vault_id!r}", Code.WRONG_VAULT)


def _policy(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check:
    ok = r.policy_digest == v.digest()
    detail = "host's definition matches the sealed one" if ok else "host believes another definition"
    return Check("policy digest", ok, detail, Code.POLICY_MISMATCH)


def _clock(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check:
    ok = now >= s.clock_floor
    detail = (
        "not earlier than the last log entry" if ok else f"{_when(s.clock_floor - now)} before the last entry"
    )
    return Check("clock", ok, detail, Code.CLOCK_ROLLBACK)


def _not_before(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check:
    ok = r.created_at <= now + CLOCK_SKEW_SECONDS
    return Check(
        "created", ok, "in the past" if ok else f"{_when(r.created_at - now)} ahead", Code.NOT_YET_VALID
    )


def _expiry(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check:
    ok = now <= r.expires_at
    detail = f"expires in {_when(r.expires_at - now)}" if ok else f"expired {_when(now - r.expires_at)} ago"
    return Check("expiry", ok, detail, Code.EXPIRED)


def _lifetime(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check:
    life, limit = r.expires_at - r.created_at, v.rules.max_request_lifetime_seconds
    return Check("lifetime", life <= limit, f"{_when(life)} (max {_when(limit)})", Code.LIFETIME)


def _replay(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check:
    ok = r.request_id not in s.used_request_ids
    return Check("first use", ok, "never approved here" if ok else "already approved here", Code.REPLAY)


def _asset(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    if not isinstance(a, Withdraw | Announce | Execute):
        return None
    return Check("asset", a.asset == v.asset.code, a.asset, Code.WRONG_ASSET)


def _destination(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    if not isinstance(a, Withdraw | Announce | Execute):
        return None
    ok = a.destination in v.rules.destinations
    return Check("destination", ok, "on the allowlist" if ok else "NOT on the allowlist", Code.DESTINATION)


def _per_spend(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    if not isinstance(a, Withdraw | Announce | Execute):
        return None
    limit = v.rules.max_per_spend
    return Check("per-spend limit", a.amount <= limit, f"max {v.asset.format(limit)}", Code.PER_SPEND)


def _window(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    if not isinstance(a, Withdraw | Announce):
        return None  # an execution was counted when it was announced
    rules, fmt = v.rules, v.asset.format
    used = s.window_total(now, rules.window_seconds)
    ok = used + a.amount <= rules.window_max
    detail = f"{fmt(used)} used of {fmt(rules.window_max)} per {_when(rules.window_seconds)}"
    return Check("rolling window", ok, detail, Code.WINDOW)


def _phase(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check | None:
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


def _cooldown(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check | None:
    if not isinstance(r.action, Withdraw | Announce) or s.last_action_at is None:
        return None
    ready = s.last_action_at + v.rules.cooldown_seconds
    ok = now >= ready
    detail = f"last action {_when(now - s.last_action_at)} ago" + (
        "" if ok else f"; wait {_when(ready - now)}"
    )
    return Check("cooldown", ok, detail, Code.COOLDOWN)


def _announcement(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    if not isinstance(a, Execute | Cancel):
        return None
    ann = s.announcements.get(a.announce_id)
    if ann is None:
        return Check("announcement", False, a.announce_id.hex(), Code.UNKNOWN_ANNOUNCEMENT)
    if ann.status is not AnnouncementStatus.OPEN:
        return Check("announcement", False, f"already {ann.status.value}", Code.ANNOUNCEMENT_CLOSED)
    if isinstance(a, Execute) and (a.asset, a.amount, a.destination) != (
        ann.asset,
        ann.amount,
        ann.destination,
    ):
        return Check("announcement", False, "asset, amount or destination differ", Code.ANNOUNCEMENT_MISMATCH)
    return Check(
        "announcement", True, f"open, announced {_when(now - ann.at)} ago", Code.UNKNOWN_ANNOUNCEMENT
    )


def _execute_window(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    if not isinstance(a, Execute) or a.announce_id not in s.announcements:
        return None
    rules = v.rules
    opens = s.announcements[a.announce_id].at + rules.announce_delay_seconds
    closes = opens + rules.announce_expiry_seconds
    if now < opens:
        return Check("execute window", False, f"opens in {_when(opens - now)}", Code.TOO_EARLY)
    if now > closes:
        return Check("execute window", False, f"closed {_when(now - closes)} ago", Code.ANNOUNCEMENT_EXPIRED)
    return Check("execute window", True, f"open for {_when(closes - now)} more", Code.TOO_EARLY)


def rekey_delay(v: VaultDefinition, declared_signers: int) -> int:
    """The rekey delay, multiplied by the penalty once per signer short of the threshold."""
    rules = v.rules
    missing = max(0, v.threshold - declared_signers)
    return int(rules.rekey_delay_seconds * rules.rekey_penalty**missing)


def _rekey(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    if not isinstance(a, Rekey):
        return None
    if a.declared_signers > len(v.keys):
        return Check("rekey signers", False, f"{a.declared_signers} > {len(v.keys)} keys", Code.REKEY_INVALID)
    delay = rekey_delay(v, a.declared_signers)
    since = s.last_action_at if s.last_action_at is not None else now - delay
    ready = since + delay
    detail = f"{a.declared_signers} of {v.threshold} signers: delay {_when(delay)}"
    if now < ready:
        return Check("rekey delay", False, f"{detail}; wait {_when(ready - now)}", Code.REKEY_DELAY)
    return Check("rekey delay", True, detail, Code.REKEY_DELAY)


def _ratchet(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> Check | None:
    a = r.action
    if not isinstance(a, RaiseLock):
        return None
    current = max(v.threshold, s.approved_lock)
    ok = current < a.threshold <= len(v.keys)
    return Check("lock ratchet", ok, f"{current} -> {a.threshold} of {len(v.keys)}", Code.LOCK_RATCHET)


RULES: tuple[Rule, ...] = (
    _vault,
    _policy,
    _clock,
    _not_before,
    _expiry,
    _lifetime,
    _replay,
    _phase,
    _asset,
    _destination,
    _per_spend,
    _window,
    _cooldown,
    _announcement,
    _execute_window,
    _rekey,
    _ratchet,
)


def evaluate(vault: VaultDefinition, state: VaultState, request: SpendRequest, now: int) -> tuple[Check, ...]:
    return tuple(c for rule in RULES if (c := rule(vault, state, request, now)) is not None)


def decide(vault: VaultDefinition, state: VaultState, request: SpendRequest, now: int) -> Verdict:
    checks = evaluate(vault, state, request, now)
    for check in checks:
        if not check.ok:
            return Refuse(check.code, f"{EXPLANATIONS[check.code]} ({check.rule}: {check.detail})", checks)
    return Approve(checks)
