"""The policy engine: a table of cases per rule, and properties that hold for every input."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from custody.policy.engine import EXPLANATIONS, Approve, Code, Refuse, decide, rekey_delay
from custody.policy.vault_state import Announcement, AnnouncementStatus, VaultState
from custody.schemas.request import Announce, Cancel, Execute, RaiseLock, Rekey, SpendRequest, Withdraw
from custody.schemas.vault import StationPolicy
from tests.custody.schemas.fixtures import KEYS, RULES, T0, request, vault

HOUR, DAY = 3600, 86400
NOW = T0 + 60
ANN_ID = b"\xaa" * 16


def policy(**rules: Any) -> StationPolicy:
    v = vault(rules=replace(RULES, **rules)) if rules else vault()
    return StationPolicy(vault=v, key_label="cold", key_id=KEYS[0].vault_key.key_id)


SINGLE = policy()
TWO_PHASE = policy(announce_delay_seconds=DAY, announce_expiry_seconds=2 * DAY)
STATE = VaultState(vault_id="cold", last_action_at=NOW - 2 * HOUR, clock_floor=NOW - 2 * HOUR)


def req(p: StationPolicy = SINGLE, action: Any = None, **changes: Any) -> SpendRequest:
    r = request(p.vault, **changes)
    return replace(r, action=action) if action is not None else r


def withdraw(amount: int = 10, destination: str = "xch1dest", asset: str = "XCH") -> Withdraw:
    return Withdraw(asset=asset, amount=amount, destination=destination)


def with_announcement(
    status: AnnouncementStatus = AnnouncementStatus.OPEN, at: int = NOW - 2 * DAY
) -> VaultState:
    ann = Announcement(
        announce_id=ANN_ID, at=at, asset="XCH", amount=10, destination="xch1dest", status=status
    )
    return replace(STATE, announcements=MappingProxyType({ANN_ID: ann}))


EXECUTE = Execute(announce_id=ANN_ID, asset="XCH", amount=10, destination="xch1dest")
NEW_KEYS = tuple(k.vault_key for k in KEYS[:4])

CASES: list[tuple[str, StationPolicy, VaultState, SpendRequest, int, Code | None]] = [
    ("a plain withdrawal", SINGLE, STATE, req(), NOW, None),
    ("another vault", SINGLE, STATE, request(vault(vault_id="other")), NOW, Code.WRONG_VAULT),
    ("another definition", SINGLE, STATE, req(policy_digest=b"\0" * 32), NOW, Code.POLICY_MISMATCH),
    ("clock set back", SINGLE, replace(STATE, clock_floor=NOW + 1), req(), NOW, Code.CLOCK_ROLLBACK),
    (
        "created in the future",
        SINGLE,
        STATE,
        req(created_at=NOW + 301, expires_at=NOW + 900),
        NOW,
        Code.NOT_YET_VALID,
    ),
    ("within the clock skew", SINGLE, STATE, req(created_at=NOW + 300, expires_at=NOW + 900), NOW, None),
    ("expired", SINGLE, STATE, req(), T0 + 601, Code.EXPIRED),
    ("at its expiry second", SINGLE, STATE, req(), T0 + 600, None),
    ("lives too long", SINGLE, STATE, req(expires_at=T0 + HOUR + 1), NOW, Code.LIFETIME),
    (
        "replayed",
        SINGLE,
        replace(STATE, used_request_ids=frozenset({bytes(range(16))})),
        req(),
        NOW,
        Code.REPLAY,
    ),
    ("wrong asset", SINGLE, STATE, req(action=withdraw(asset="BTC")), NOW, Code.WRONG_ASSET),
    (
        "not on the allowlist",
        SINGLE,
        STATE,
        req(action=withdraw(destination="xch1evil")),
        NOW,
        Code.DESTINATION,
    ),
    ("over the per-spend limit", SINGLE, STATE, req(action=withdraw(51)), NOW, Code.PER_SPEND),
    ("at the per-spend limit", SINGLE, STATE, req(action=withdraw(50)), NOW, None),
    ("over the window", SINGLE, replace(STATE, spends=((NOW - DAY + 1, 95),)), req(), NOW, Code.WINDOW),
    ("window spend aged out", SINGLE, replace(STATE, spends=((NOW - DAY, 95),)), req(), NOW, None),
    ("in the cooldown", SINGLE, replace(STATE, last_action_at=NOW - HOUR + 1), req(), NOW, Code.COOLDOWN),
    ("cooldown just over", SINGLE, replace(STATE, last_action_at=NOW - HOUR), req(), NOW, None),
    ("withdraw from a two-phase vault", TWO_PHASE, STATE, req(TWO_PHASE), NOW, Code.ANNOUNCE_REQUIRED),
    (
        "announce",
        TWO_PHASE,
        STATE,
        req(TWO_PHASE, Announce(asset="XCH", amount=10, destination="xch1dest")),
        NOW,
        None,
    ),
    (
        "announce without delays",
        SINGLE,
        STATE,
        req(action=Announce(asset="XCH", amount=10, destination="xch1dest")),
        NOW,
        Code.NO_ANNOUNCE_PHASE,
    ),
    ("execute unknown", TWO_PHASE, STATE, req(TWO_PHASE, EXECUTE), NOW, Code.UNKNOWN_ANNOUNCEMENT),
    ("execute on time", TWO_PHASE, with_announcement(), req(TWO_PHASE, EXECUTE), NOW, None),
    (
        "execute differs",
        TWO_PHASE,
        with_announcement(),
        req(TWO_PHASE, replace(EXECUTE, amount=11)),
        NOW,
        Code.ANNOUNCEMENT_MISMATCH,
    ),
    (
        "execute twice",
        TWO_PHASE,
        with_announcement(AnnouncementStatus.EXECUTED),
        req(TWO_PHASE, EXECUTE),
        NOW,
        Code.ANNOUNCEMENT_CLOSED,
    ),
    (
        "execute cancelled",
        TWO_PHASE,
        with_announcement(AnnouncementStatus.CANCELLED),
        req(TWO_PHASE, EXECUTE),
        NOW,
        Code.ANNOUNCEMENT_CLOSED,
    ),
    (
        "execute early",
        TWO_PHASE,
        with_announcement(at=NOW - DAY + 1),
        req(TWO_PHASE, EXECUTE),
        NOW,
        Code.TOO_EARLY,
    ),
    (
        "execute late",
        TWO_PHASE,
        with_announcement(at=NOW - 3 * DAY - 1),
        req(TWO_PHASE, EXECUTE),
        NOW,
        Code.ANNOUNCEMENT_EXPIRED,
    ),
    ("cancel", TWO_PHASE, with_announcement(), req(TWO_PHASE, Cancel(announce_id=ANN_ID)), NOW, None),
    (
        "cancel in the cooldown",
        TWO_PHASE,
        replace(with_announcement(), last_action_at=NOW),
        req(TWO_PHASE, Cancel(announce_id=ANN_ID)),
        NOW,
        None,
    ),
    (
        "cancel unknown",
        TWO_PHASE,
        STATE,
        req(TWO_PHASE, Cancel(announce_id=ANN_ID)),
        NOW,
        Code.UNKNOWN_ANNOUNCEMENT,
    ),
    (
        "rekey with a full quorum",
        SINGLE,
        replace(STATE, last_action_at=NOW - DAY),
        req(action=Rekey(keys=NEW_KEYS, threshold=3, declared_signers=3)),
        NOW,
        None,
    ),
    (
        "rekey one short, before the penalty",
        SINGLE,
        replace(STATE, last_action_at=NOW - 2 * DAY + 1),
        req(action=Rekey(keys=NEW_KEYS, threshold=3, declared_signers=2)),
        NOW,
        Code.REKEY_DELAY,
    ),
    (
        "rekey one short, after the penalty",
        SINGLE,
        replace(STATE, last_action_at=NOW - 2 * DAY),
        req(action=Rekey(keys=NEW_KEYS, threshold=3, declared_signers=2)),
        NOW,
        None,
    ),
    (
        "rekey declaring too many",
        SINGLE,
        replace(STATE, last_action_at=NOW - 9 * DAY),
        req(action=Rekey(keys=NEW_KEYS, threshold=3, declared_signers=6)),
        NOW,
        Code.REKEY_INVALID,
    ),
    ("raise the lock", SINGLE, STATE, req(action=RaiseLock(threshold=4)), NOW, None),
    ("raise to the same level", SINGLE, STATE, req(action=RaiseLock(threshold=3)), NOW, Code.LOCK_RATCHET),
    ("lower the lock", SINGLE, STATE, req(action=RaiseLock(threshold=2)), NOW, Code.LOCK_RATCHET),
    ("beyond the key count", SINGLE, STATE, req(action=RaiseLock(threshold=6)), NOW, Code.LOCK_RATCHET),
    (
        "below an approved raise",
        SINGLE,
        replace(STATE, approved_lock=5),
        req(action=RaiseLock(threshold=4)),
        NOW,
        Code.LOCK_RATCHET,
    ),
]


@pytest.mark.parametrize(("name", "p", "state", "r", "now", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rule_table(
    name: str, p: StationPolicy, state: VaultState, r: SpendRequest, now: int, expected: Code | None
) -> None:
    verdict = decide(p.vault, state, r, now)
    if expected is None:
        assert isinstance(verdict, Approve), verdict
        assert all(c.ok for c in verdict.checks)
    else:
        assert isinstance(verdict, Refuse) and verdict.code is expected, verdict
        assert verdict.text.startswith(EXPLANATIONS[expected])


def test_every_refusal_code_is_in_the_table_and_explained() -> None:
    assert {c[5] for c in CASES if c[5] is not None} == set(Code)
    assert set(EXPLANATIONS) == set(Code)


def test_the_rekey_penalty_multiplies_per_missing_signer() -> None:
    assert [rekey_delay(SINGLE.vault, n) for n in (5, 3, 2, 1)] == [DAY, DAY, 2 * DAY, 4 * DAY]


# Properties --------------------------------------------------------------------------------------

actions = st.one_of(
    st.builds(
        Withdraw,
        asset=st.sampled_from(["XCH", "BTC"]),
        amount=st.integers(1, 120),
        destination=st.sampled_from(["xch1dest", "xch1evil"]),
    ),
    st.builds(Announce, asset=st.just("XCH"), amount=st.integers(1, 120), destination=st.just("xch1dest")),
    st.builds(
        Execute,
        announce_id=st.just(ANN_ID),
        asset=st.just("XCH"),
        amount=st.integers(9, 11),
        destination=st.just("xch1dest"),
    ),
    st.builds(Cancel, announce_id=st.sampled_from([ANN_ID, b"\xbb" * 16])),
    st.builds(Rekey, keys=st.just(NEW_KEYS), threshold=st.integers(1, 4), declared_signers=st.integers(1, 6)),
    st.builds(RaiseLock, threshold=st.integers(1, 6)),
)


friendly_actions = st.one_of(
    st.builds(Withdraw, asset=st.just("XCH"), amount=st.integers(1, 50), destination=st.just("xch1dest")),
    st.builds(Announce, asset=st.just("XCH"), amount=st.integers(1, 50), destination=st.just("xch1dest")),
    st.builds(
        Execute,
        announce_id=st.just(ANN_ID),
        asset=st.just("XCH"),
        amount=st.just(10),
        destination=st.just("xch1dest"),
    ),
    st.builds(Cancel, announce_id=st.just(ANN_ID)),
    st.builds(Rekey, keys=st.just(NEW_KEYS), threshold=st.integers(1, 4), declared_signers=st.integers(1, 5)),
    st.builds(RaiseLock, threshold=st.integers(4, 5)),
)


@st.composite
def scenarios(draw: st.DrawFn, friendly: bool = False) -> tuple[StationPolicy, VaultState, SpendRequest, int]:
    """Random policies, states and requests; ``friendly`` ones mostly pass, to test what follows approval."""
    p = draw(st.sampled_from([SINGLE, TWO_PHASE]))
    now = NOW + draw(st.integers(-HOUR, 10 * DAY))
    spends = tuple(
        (now - draw(st.integers(0, 2 * DAY)), draw(st.integers(1, 60)))
        for _ in range(draw(st.integers(0, 3)))
    )
    state = VaultState(
        vault_id="cold",
        last_action_at=draw(st.one_of(st.none(), st.integers(now - 10 * DAY, now + HOUR))),
        spends=spends,
        used_request_ids=frozenset()
        if friendly
        else frozenset(draw(st.sampled_from([(), (bytes(range(16)),)]))),
        approved_lock=draw(st.sampled_from([0, 4])),
        clock_floor=now - draw(st.integers(-60, DAY)),
    )
    if draw(st.booleans()):
        status = draw(st.sampled_from(list(AnnouncementStatus)))
        if friendly:
            status = AnnouncementStatus.OPEN
        state = replace(
            with_announcement(status, at=now - draw(st.integers(0, 4 * DAY))),
            **{
                k: getattr(state, k)
                for k in ("last_action_at", "spends", "used_request_ids", "clock_floor", "approved_lock")
            },
        )
    created = now - draw(st.integers(-400, 2 * HOUR))
    r = req(
        p,
        draw(friendly_actions if friendly else actions),
        created_at=created,
        expires_at=created + draw(st.integers(1, 2 * HOUR)),
    )
    return p, state, r, now


def independent_reasons(p: StationPolicy, s: VaultState, r: SpendRequest, now: int) -> list[str]:
    """The rules, restated from the brief rather than from decide.py, for what must never be approved."""
    rules, a, reasons = p.vault.rules, r.action, []
    if now > r.expires_at or r.created_at > now + 300 or now < s.clock_floor:
        reasons.append("time")
    if r.request_id in s.used_request_ids:
        reasons.append("replay")
    if isinstance(a, Withdraw | Announce | Execute) and (
        a.destination not in rules.destinations or a.amount > rules.max_per_spend or a.asset != "XCH"
    ):
        reasons.append("transfer")
    if isinstance(a, Withdraw | Announce):
        recent = sum(x for at, x in s.spends if at > now - rules.window_seconds)
        if recent + a.amount > rules.window_max:
            reasons.append("window")
        if s.last_action_at is not None and now - s.last_action_at < rules.cooldown_seconds:
            reasons.append("cooldown")
        if isinstance(a, Withdraw) == rules.two_phase:
            reasons.append("phase")
    if isinstance(a, Execute):
        ann = s.announcements.get(a.announce_id)
        if ann is None or ann.status is not AnnouncementStatus.OPEN or ann.amount != a.amount:
            reasons.append("announcement")
        elif (
            not ann.at + rules.announce_delay_seconds
            <= now
            <= (ann.at + rules.announce_delay_seconds + rules.announce_expiry_seconds)
        ):
            reasons.append("execute window")
    if isinstance(a, RaiseLock) and a.threshold <= max(p.vault.threshold, s.approved_lock):
        reasons.append("ratchet")
    return reasons


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_never_approves_when_a_rule_fails(
    scenario: tuple[StationPolicy, VaultState, SpendRequest, int],
) -> None:
    p, state, r, now = scenario
    verdict = decide(p.vault, state, r, now)
    reasons = independent_reasons(p, state, r, now)
    if isinstance(verdict, Approve):
        assert reasons == [] and all(c.ok for c in verdict.checks)
    else:
        assert any(not c.ok and c.code is verdict.code for c in verdict.checks)


FRIENDLY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


@FRIENDLY
@given(scenarios(friendly=True), st.integers(0, 5 * DAY))
def test_approval_is_monotonic_in_time(
    scenario: tuple[StationPolicy, VaultState, SpendRequest, int], later: int
) -> None:
    p, state, r, now = scenario
    assume(isinstance(decide(p.vault, state, r, now), Approve))
    t2 = now + later
    if isinstance(r.action, Execute):
        ann = state.announcements[r.action.announce_id]
        rules = p.vault.rules
        assume(t2 <= ann.at + rules.announce_delay_seconds + rules.announce_expiry_seconds)
    assume(t2 <= r.expires_at)
    assert isinstance(decide(p.vault, state, r, t2), Approve)


@FRIENDLY
@given(scenarios(friendly=True), st.integers(0, 5 * DAY))
def test_a_request_is_approved_at_most_once(
    scenario: tuple[StationPolicy, VaultState, SpendRequest, int], later: int
) -> None:
    p, state, r, now = scenario
    assume(isinstance(decide(p.vault, state, r, now), Approve))
    after = state.after(r, now)
    verdict = decide(p.vault, after, r, now + later)
    assert isinstance(verdict, Refuse)
    if now + later <= r.expires_at:
        assert verdict.code is Code.REPLAY
