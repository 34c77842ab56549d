"""The policy engine: a table of cases per rule, and properties that hold for every input."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from custody.policy.engine import EXPLANATIONS, Approve, Code, Refuse, decide
from custody.policy.history import history_signature
from custody.policy.vault_state import VaultState
from custody.schemas.history import HistoryEntry
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
from tests.custody.schemas.fixtures import KEYS, RULES, T0, request, vault

HOUR, DAY = 3600, 86400
NOW = T0 + 60
ANN_ID = b"\xaa" * 16
QUORUM = (0, 1, 2)


def policy(threshold: int = 3, **rules: Any) -> StationPolicy:
    v = vault(threshold=threshold, rules=replace(RULES, **rules))
    return StationPolicy(vault=v, key_label="cold", key_id=KEYS[0].vault_key.key_id)


SINGLE = policy()
TWO_PHASE = policy(announce_delay_seconds=DAY, announce_expiry_seconds=2 * DAY)
SHARED = policy(threshold=2)  # 2 of 5: two quorums need not share a station
STATE = VaultState(vault_id="cold", installed_at=NOW - 2 * HOUR, clock_floor=NOW - 2 * HOUR)


def withdraw(amount: int = 10, destination: str = "xch1dest", asset: str = "XCH") -> Withdraw:
    return Withdraw(asset=asset, amount=amount, destination=destination)


ANNOUNCE = Announce(asset="XCH", amount=10, destination="xch1dest")
EXECUTE = Execute(announce_id=ANN_ID, asset="XCH", amount=10, destination="xch1dest")
NEW_KEYS = tuple(k.vault_key for k in KEYS[:4])


def earlier(
    action: Action,
    at: int,
    *,
    signers: Sequence[int] = QUORUM,
    p: StationPolicy = SINGLE,
    request_id: bytes | None = None,
    lifetime: int = 600,
) -> SpendRequest:
    """An earlier request of the vault, created a minute before ``at``."""
    return request(
        p.vault,
        request_id=request_id or bytes([len(signers) + 1]) + at.to_bytes(15, "big"),
        created_at=at - 60,
        expires_at=at - 60 + lifetime,
        action=action,
    )


def entry(r: SpendRequest, at: int, signers: Sequence[int] = QUORUM) -> HistoryEntry:
    """``r`` with the signatures of ``signers``, each approved at ``at``."""
    sigs = sorted(
        (history_signature(KEYS[i].respond(r, approved_at=at)) for i in signers), key=lambda s: s.key_id
    )
    return HistoryEntry(request=r.core(), signatures=tuple(sigs))


def spent(
    action: Action, at: int, signers: Sequence[int] = QUORUM, p: StationPolicy = SINGLE
) -> HistoryEntry:
    return entry(earlier(action, at, signers=signers, p=p), at, signers)


def req(
    p: StationPolicy = SINGLE, action: Any = None, history: Sequence[HistoryEntry] = (), **changes: Any
) -> SpendRequest:
    r = request(p.vault, **changes)
    ordered = tuple(sorted(history, key=lambda e: e.request.digest()))
    return replace(r, action=action if action is not None else r.action, history=ordered)


ANN = earlier(ANNOUNCE, NOW - 2 * DAY, p=TWO_PHASE, request_id=ANN_ID)


def announced(at: int = NOW - 2 * DAY, signers: Sequence[int] = QUORUM) -> HistoryEntry:
    return entry(earlier(ANNOUNCE, at, p=TWO_PHASE, request_id=ANN_ID), at, signers)


def own(state: VaultState, r: SpendRequest, at: int) -> VaultState:
    return state.after(r.core(), at)


BAD_SIGNATURE = replace(
    spent(withdraw(), NOW - 3 * HOUR),
    signatures=tuple(
        replace(s, signature=s.signature[:-1] + bytes([s.signature[-1] ^ 1]))
        for s in spent(withdraw(), NOW - 3 * HOUR).signatures
    ),
)
OTHER_VAULT = spent(
    withdraw(),
    NOW - 3 * HOUR,
    p=StationPolicy(vault=vault(vault_id="other"), key_label="x", key_id=KEYS[0].vault_key.key_id),
)
MINE = earlier(withdraw(20), NOW - 3 * HOUR, signers=(0,))

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
        "a forged signature in the history",
        SINGLE,
        STATE,
        req(history=[BAD_SIGNATURE]),
        NOW,
        Code.HISTORY_INVALID,
    ),
    (
        "another vault's request in the history",
        SINGLE,
        STATE,
        req(history=[OTHER_VAULT]),
        NOW,
        Code.HISTORY_INVALID,
    ),
    (
        "history leaves out a withdrawal signed here",
        SINGLE,
        own(STATE, MINE, NOW - 3 * HOUR),
        req(),
        NOW,
        Code.HISTORY_INCOMPLETE,
    ),
    (
        "history holds it, with this station's signature only",
        SINGLE,
        own(STATE, MINE, NOW - 3 * HOUR),
        req(history=[entry(MINE, NOW - 3 * HOUR, (0,))]),
        NOW,
        None,
    ),
    (
        "a withdrawal signed here long ago need not be carried",
        SINGLE,
        own(STATE, earlier(withdraw(), NOW - 3 * DAY), NOW - 3 * DAY),
        req(),
        NOW,
        None,
    ),
    ("replayed here", SINGLE, own(STATE, req(), NOW - 2 * HOUR), req(), NOW, Code.REPLAY),
    (
        "replayed elsewhere in the vault",
        SINGLE,
        STATE,
        req(
            history=[entry(earlier(withdraw(), NOW - 2 * HOUR, request_id=bytes(range(16))), NOW - 2 * HOUR)]
        ),
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
    (
        "under the minimum",
        policy(min_per_spend=5),
        STATE,
        req(policy(min_per_spend=5), withdraw(4)),
        NOW,
        Code.MIN_AMOUNT,
    ),
    ("at the minimum", policy(min_per_spend=5), STATE, req(policy(min_per_spend=5), withdraw(5)), NOW, None),
    ("over the per-spend limit", SINGLE, STATE, req(action=withdraw(51)), NOW, Code.PER_SPEND),
    ("a fee over the cap", SINGLE, STATE, req(fee=1), NOW, Code.FEE),
    ("at the per-spend limit", SINGLE, STATE, req(action=withdraw(50)), NOW, None),
    (
        "over the window, vault-wide",
        SINGLE,
        STATE,
        req(history=[spent(withdraw(45), NOW - DAY + 1), spent(withdraw(50), NOW - 2 * HOUR)]),
        NOW,
        Code.WINDOW,
    ),
    (
        "window spend aged out",
        SINGLE,
        STATE,
        req(history=[spent(withdraw(45), NOW - DAY), spent(withdraw(50), NOW - 2 * HOUR)]),
        NOW,
        None,
    ),
    (
        "a spend without a quorum counts until it expires",
        SINGLE,
        STATE,
        req(
            history=[
                entry(earlier(withdraw(45), NOW - DAY - 300, lifetime=HOUR), NOW - DAY - 300, (3,)),
                spent(withdraw(50), NOW - 2 * HOUR),
            ]
        ),
        NOW,
        Code.WINDOW,
    ),
    (
        "over the window count",
        policy(window_count=1),
        STATE,
        req(policy(window_count=1), history=[spent(withdraw(1), NOW - 2 * HOUR, p=policy(window_count=1))]),
        NOW,
        Code.WINDOW_COUNT,
    ),
    (
        "over this station's share when quorums need not overlap",
        SHARED,
        own(STATE, earlier(withdraw(35), NOW - 3 * HOUR, p=SHARED, signers=(0, 4)), NOW - 3 * HOUR),
        req(SHARED, withdraw(10), history=[spent(withdraw(35), NOW - 3 * HOUR, (0, 4), SHARED)]),
        NOW,
        Code.WINDOW,
    ),
    (
        "within the share",
        SHARED,
        own(STATE, earlier(withdraw(30), NOW - 3 * HOUR, p=SHARED, signers=(0, 4)), NOW - 3 * HOUR),
        req(SHARED, withdraw(10), history=[spent(withdraw(30), NOW - 3 * HOUR, (0, 4), SHARED)]),
        NOW,
        None,
    ),
    (
        "in the cooldown after another quorum's spend",
        SINGLE,
        STATE,
        req(history=[spent(withdraw(), NOW - HOUR + 1, (2, 3, 4))]),
        NOW,
        Code.COOLDOWN,
    ),
    ("cooldown just over", SINGLE, STATE, req(history=[spent(withdraw(), NOW - HOUR, (2, 3, 4))]), NOW, None),
    (
        "in the cooldown since installation",
        SINGLE,
        replace(STATE, installed_at=NOW - 60),
        req(),
        NOW,
        Code.COOLDOWN,
    ),
    ("withdraw from a two-phase vault", TWO_PHASE, STATE, req(TWO_PHASE), NOW, Code.ANNOUNCE_REQUIRED),
    ("announce", TWO_PHASE, STATE, req(TWO_PHASE, ANNOUNCE), NOW, None),
    ("announce without delays", SINGLE, STATE, req(action=ANNOUNCE), NOW, Code.NO_ANNOUNCE_PHASE),
    ("execute unknown", TWO_PHASE, STATE, req(TWO_PHASE, EXECUTE), NOW, Code.UNKNOWN_ANNOUNCEMENT),
    (
        "execute on time, signed by another quorum",
        TWO_PHASE,
        STATE,
        req(TWO_PHASE, EXECUTE, [announced(signers=(2, 3, 4))]),
        NOW,
        None,
    ),
    (
        "execute an announcement without a quorum",
        TWO_PHASE,
        STATE,
        req(TWO_PHASE, EXECUTE, [announced(signers=(0, 1))]),
        NOW,
        Code.ANNOUNCEMENT_UNSIGNED,
    ),
    (
        "execute differs",
        TWO_PHASE,
        STATE,
        req(TWO_PHASE, replace(EXECUTE, amount=11), [announced()]),
        NOW,
        Code.ANNOUNCEMENT_MISMATCH,
    ),
    (
        "execute twice",
        TWO_PHASE,
        STATE,
        req(TWO_PHASE, EXECUTE, [announced(), spent(EXECUTE, NOW - DAY + HOUR, (3,), TWO_PHASE)]),
        NOW,
        Code.ANNOUNCEMENT_CLOSED,
    ),
    (
        "execute cancelled",
        TWO_PHASE,
        STATE,
        req(TWO_PHASE, EXECUTE, [announced(), spent(Cancel(announce_id=ANN_ID), NOW - DAY, p=TWO_PHASE)]),
        NOW,
        Code.ANNOUNCEMENT_CLOSED,
    ),
    (
        "execute early",
        TWO_PHASE,
        STATE,
        req(TWO_PHASE, EXECUTE, [announced(NOW - DAY + 1)]),
        NOW,
        Code.TOO_EARLY,
    ),
    (
        "execute late",
        TWO_PHASE,
        STATE,
        req(TWO_PHASE, EXECUTE, [announced(NOW - 3 * DAY - 1)]),
        NOW,
        Code.ANNOUNCEMENT_EXPIRED,
    ),
    ("cancel", TWO_PHASE, STATE, req(TWO_PHASE, Cancel(announce_id=ANN_ID), [announced()]), NOW, None),
    (
        "cancel in the cooldown",
        TWO_PHASE,
        replace(STATE, installed_at=NOW),
        req(TWO_PHASE, Cancel(announce_id=ANN_ID), [announced()]),
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
        "rekey a day after the last action",
        SINGLE,
        replace(STATE, installed_at=NOW - DAY),
        req(action=Rekey(keys=NEW_KEYS, threshold=3)),
        NOW,
        None,
    ),
    (
        "rekey within its delay of another quorum's action",
        SINGLE,
        replace(STATE, installed_at=NOW - 9 * DAY),
        req(action=Rekey(keys=NEW_KEYS, threshold=3), history=[spent(withdraw(), NOW - DAY + 1, (2, 3, 4))]),
        NOW,
        Code.REKEY_DELAY,
    ),
    ("raise the lock", SINGLE, STATE, req(action=RaiseLock(threshold=4)), NOW, None),
    ("raise to the same level", SINGLE, STATE, req(action=RaiseLock(threshold=3)), NOW, Code.LOCK_RATCHET),
    ("lower the lock", SINGLE, STATE, req(action=RaiseLock(threshold=2)), NOW, Code.LOCK_RATCHET),
    ("beyond the key count", SINGLE, STATE, req(action=RaiseLock(threshold=6)), NOW, Code.LOCK_RATCHET),
    (
        "below a raise another quorum signed",
        SINGLE,
        STATE,
        req(action=RaiseLock(threshold=4), history=[spent(RaiseLock(threshold=5), NOW - 2 * HOUR, (3,))]),
        NOW,
        Code.LOCK_RATCHET,
    ),
    (
        "slow rekey on a vault no chain holds it for",
        SINGLE,
        STATE,
        req(action=SlowRekey(keys=NEW_KEYS, threshold=3, initiators=2)),
        NOW,
        Code.RECOVERY_PATH,
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


#: Refusals only a chain adapter's checks give; tests/custody/chains/ has a case for each.
CHAIN_CODES = {
    Code.PAYLOAD_INVALID,
    Code.PAYLOAD_MISMATCH,
    Code.UNACCOUNTED,
    Code.SIDE_EFFECTS,
    Code.CUSTODY,
    Code.CLAWBACK,
    Code.WRONG_CHAIN,
    Code.UNEXPLAINED,
    Code.DELEGATECALL,
    Code.GAS_REFUND,
    Code.NONCE,
    Code.FOREIGN_INPUT,
    Code.INPUT_UNPROVEN,
    Code.SIGHASH,
}


def test_every_refusal_code_is_in_the_table_and_explained() -> None:
    assert {c[5] for c in CASES if c[5] is not None} == set(Code) - CHAIN_CODES
    assert set(EXPLANATIONS) == set(Code)


def test_the_refusal_for_a_missing_request_names_it_so_the_host_can_include_it() -> None:
    verdict = decide(SINGLE.vault, own(STATE, MINE, NOW - 3 * HOUR), req(), NOW)
    assert isinstance(verdict, Refuse) and MINE.request_id.hex() in verdict.text


def test_an_execution_or_cancellation_of_the_same_announcement_must_be_carried_however_old() -> None:
    first = earlier(EXECUTE, NOW - 20 * DAY, signers=(0,), p=TWO_PHASE)
    state = own(STATE, first, NOW - 20 * DAY)
    verdict = decide(TWO_PHASE.vault, state, req(TWO_PHASE, EXECUTE, [announced()]), NOW)
    assert isinstance(verdict, Refuse) and verdict.code is Code.HISTORY_INCOMPLETE


# Properties --------------------------------------------------------------------------------------

transfers = st.one_of(
    st.builds(
        Withdraw,
        asset=st.sampled_from(["XCH", "BTC"]),
        amount=st.integers(1, 120),
        destination=st.sampled_from(["xch1dest", "xch1evil"]),
    ),
    st.builds(Announce, asset=st.just("XCH"), amount=st.integers(1, 120), destination=st.just("xch1dest")),
)
actions = st.one_of(
    transfers,
    st.builds(
        Execute,
        announce_id=st.just(ANN_ID),
        asset=st.just("XCH"),
        amount=st.integers(9, 11),
        destination=st.just("xch1dest"),
    ),
    st.builds(Cancel, announce_id=st.sampled_from([ANN_ID, b"\xbb" * 16])),
    st.builds(Rekey, keys=st.just(NEW_KEYS), threshold=st.integers(1, 4)),
    st.builds(RaiseLock, threshold=st.integers(1, 6)),
)
friendly_actions = st.one_of(
    st.builds(Withdraw, asset=st.just("XCH"), amount=st.integers(1, 50), destination=st.just("xch1dest")),
    st.builds(Announce, asset=st.just("XCH"), amount=st.integers(1, 50), destination=st.just("xch1dest")),
    st.just(EXECUTE),
    st.just(Cancel(announce_id=ANN_ID)),
    st.builds(Rekey, keys=st.just(NEW_KEYS), threshold=st.integers(1, 4)),
    st.builds(RaiseLock, threshold=st.integers(4, 5)),
)


@st.composite
def scenarios(draw: st.DrawFn, friendly: bool = False) -> tuple[StationPolicy, VaultState, SpendRequest, int]:
    """Random policies, histories, own logs and requests; ``friendly`` ones mostly pass."""
    p = draw(st.sampled_from([SINGLE, TWO_PHASE, SHARED]))
    now = NOW + draw(st.integers(-HOUR, 10 * DAY))
    history: list[HistoryEntry] = []
    state = VaultState(
        vault_id="cold",
        installed_at=draw(st.one_of(st.none(), st.integers(now - 10 * DAY, now))),
        clock_floor=now - draw(st.integers(-60, DAY)),
    )
    for n in range(draw(st.integers(0, 3))):
        at = now - draw(st.integers(0, 2 * DAY))
        action = draw(st.one_of(transfers, st.builds(RaiseLock, threshold=st.integers(4, 5))))
        signers = draw(st.sampled_from([(0, 1, 2), (2, 3, 4), (1,), (0,), ()]))
        r = earlier(action, at, p=p, request_id=bytes([0xC0 + n]) * 16, lifetime=draw(st.integers(60, HOUR)))
        if 0 in signers and draw(st.booleans()):
            state = own(state, r, at)
        if not friendly or draw(st.booleans()) or 0 in signers:
            history.append(entry(r, at, signers))
    if draw(st.booleans()):
        at = now - draw(st.integers(0, 4 * DAY))
        signers = draw(st.sampled_from([(0, 1, 2), (2, 3, 4), (0,)]))
        history.append(entry(earlier(ANNOUNCE, at, p=p, request_id=ANN_ID), at, signers))
    created = now - draw(st.integers(-400, 2 * HOUR))
    r = req(
        p,
        draw(friendly_actions if friendly else actions),
        history,
        created_at=created,
        expires_at=created + draw(st.integers(1, 2 * HOUR)),
    )
    if not friendly and draw(st.booleans()):
        state = own(state, r, now - 1)
    return p, state, r, now


def independent_reasons(v: VaultDefinition, s: VaultState, r: SpendRequest, now: int) -> list[str]:
    """The rules, restated from docs/vault-wide.md rather than from the engine, for what must never pass."""
    rules, a, reasons = v.rules, r.action, []
    # when each request of the vault happened, as far as this station can prove
    times: dict[bytes, tuple[int, bool, Any]] = {}
    for e in r.history:
        valid = len(e.signatures)  # the generator signs only with the vault's keys, validly
        final = valid >= v.threshold
        times[e.request.digest()] = (
            max(sig.approved_at for sig in e.signatures) if final else e.request.expires_at,
            final,
            e.request,
        )
    for ap in s.approvals:
        d = ap.request.digest()
        t, final, core = times.get(d, (ap.at, False, ap.request))
        times[d] = (max(t, ap.at), final, core)
    if now > r.expires_at or r.created_at > now + 300 or now < s.clock_floor:
        reasons.append("time")
    ids = {core.request_id for _, _, core in times.values()}
    if r.request_id in ids:
        reasons.append("replay")
    if isinstance(a, Withdraw | Announce | Execute) and (
        a.destination not in rules.destinations or a.amount > rules.max_per_spend or a.asset != "XCH"
    ):
        reasons.append("transfer")
    if isinstance(a, Withdraw | Announce):
        spends = [
            (t, core.action.amount)
            for t, _, core in times.values()
            if isinstance(core.action, Withdraw | Announce)
        ]
        recent = [x for t, x in spends if t > now - rules.window_seconds]
        if sum(recent) + a.amount > rules.window_max or len(recent) + 1 > rules.window_count:
            reasons.append("window")
        last = max(
            [t for t, _, _ in times.values()] + ([s.installed_at] if s.installed_at is not None else []),
            default=None,
        )
        if last is not None and now - last < rules.cooldown_seconds:
            reasons.append("cooldown")
        if isinstance(a, Withdraw) == rules.two_phase:
            reasons.append("phase")
        if 2 * v.threshold <= len(v.keys):
            mine = [
                ap.request.action.amount
                for ap in s.approvals
                if isinstance(ap.request.action, Withdraw | Announce)
                and ap.at > now - rules.window_seconds - rules.max_request_lifetime_seconds - 300
            ]
            if sum(mine) + a.amount > rules.window_max * v.threshold // len(v.keys):
                reasons.append("share")
            if len(mine) + 1 > rules.window_count * v.threshold // len(v.keys):
                reasons.append("share count")
    if isinstance(a, Execute):
        ann = next(
            (
                (t, f, c)
                for t, f, c in times.values()
                if c.request_id == a.announce_id and isinstance(c.action, Announce)
            ),
            None,
        )
        closed = any(
            isinstance(c.action, Execute | Cancel)
            and c.action.announce_id == a.announce_id
            and c.request_id != r.request_id
            for _, _, c in times.values()
        )
        if ann is None or not ann[1] or closed or ann[2].action.amount != a.amount:
            reasons.append("announcement")
        elif (
            not ann[0] + rules.announce_delay_seconds
            <= now
            <= ann[0] + rules.announce_delay_seconds + rules.announce_expiry_seconds
        ):
            reasons.append("execute window")
    if isinstance(a, RaiseLock):
        locks = [c.action.threshold for _, _, c in times.values() if isinstance(c.action, RaiseLock)]
        if a.threshold <= max([v.threshold, *locks]):
            reasons.append("ratchet")
    return reasons


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_never_approves_when_a_rule_fails(
    scenario: tuple[StationPolicy, VaultState, SpendRequest, int],
) -> None:
    p, state, r, now = scenario
    verdict = decide(p.vault, state, r, now)
    reasons = independent_reasons(p.vault, state, r, now)
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
    assume(t2 <= r.expires_at)
    if isinstance(r.action, Execute):
        ann = next(e for e in r.history if e.request.request_id == ANN_ID)
        rules = p.vault.rules
        opened = max(s.approved_at for s in ann.signatures) + rules.announce_delay_seconds
        assume(t2 <= opened + rules.announce_expiry_seconds)
    assert isinstance(decide(p.vault, state, r, t2), Approve)


@FRIENDLY
@given(scenarios(friendly=True), st.integers(0, 5 * DAY))
def test_a_request_is_approved_at_most_once(
    scenario: tuple[StationPolicy, VaultState, SpendRequest, int], later: int
) -> None:
    p, state, r, now = scenario
    assume(isinstance(decide(p.vault, state, r, now), Approve))
    verdict = decide(p.vault, state.after(r.core(), now), r, now + later)
    assert isinstance(verdict, Refuse)
    if now + later <= r.expires_at:
        assert verdict.code is Code.REPLAY
