"""Issue 12, defect 2: window limits beaten by rotating quorums. A hostile host against honest stations.

In a 2-of-3 vault with 50 per spend and 100 a day, three withdrawals of 50
were signed by b1+b2, b1+b3 and b2+b3 within 2 h 10 min: each station saw
only 100, and 150 left the vault. Here stations are the policy engine with
software keys and their own logs (the ceremony adds the HSM and the screen,
not the decision), and a host that builds every request and keeps every
signature rotates through every quorum while it omits, reorders and
duplicates the history, holds requests signed by one station to complete
them later, and fires as fast as the stations let it. Whatever it does, the
spends that reach a quorum never exceed the vault's window, its count or
(where quorums overlap) its cooldown.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field, replace

import cbor2
import pytest

from custody.errors import CustodyError
from custody.policy.engine import Approve, Code, decide, evaluate
from custody.policy.history import history_signature, vault_view
from custody.policy.vault_state import VaultState
from custody.schemas.history import HistoryEntry
from custody.schemas.request import SpendRequest, Withdraw
from custody.schemas.response import SignatureResponse
from custody.schemas.vault import VaultDefinition
from tests.custody.schemas.fixtures import RULES, T0, SoftKey, vault

MINUTE, HOUR, DAY = 60, 3600, 86400
SPEND = Withdraw(asset="XCH", amount=50, destination="xch1dest")


@dataclass
class Station:
    key: SoftKey
    state: VaultState
    refusals: list[Code] = field(default_factory=list)

    def handle(self, v: VaultDefinition, wire: bytes, now: int) -> SignatureResponse | None:
        try:
            request = SpendRequest.from_cbor(wire)
        except CustodyError:
            self.refusals.append(Code.HISTORY_INVALID)  # malformed: refused before anything else
            return None
        verdict = decide(v, self.state, request, now)
        if not isinstance(verdict, Approve):
            self.refusals.append(verdict.code)
            return None
        self.state = self.state.after(request.core(), now)
        return self.key.respond(request, approved_at=now, audit_seq=len(self.state.approvals))


class LocalOnlyStation(Station):
    """A station as on the main branch before issue 12: it counts only what it signed itself."""

    def handle(self, v: VaultDefinition, wire: bytes, now: int) -> SignatureResponse | None:
        try:
            request = SpendRequest.from_cbor(wire)
        except CustodyError:
            return None
        blind = replace(request, history=())
        checks = evaluate(v, vault_view(v, self.state, blind), blind, now)
        if any(not c.ok for c in checks if c.code is not Code.HISTORY_INCOMPLETE):
            return None
        self.state = self.state.after(request.core(), now)
        return self.key.respond(request, approved_at=now, audit_seq=len(self.state.approvals))


@dataclass
class HostileHost:
    vault: VaultDefinition
    rng: random.Random
    signed: dict[bytes, tuple[SpendRequest, list[SignatureResponse]]] = field(default_factory=dict)
    built: int = 0

    def entries(self, now: int) -> list[HistoryEntry]:
        """Every request some station signed that a rule can still see (two days reach here)."""
        return [
            HistoryEntry(
                request=r.core(),
                signatures=tuple(sorted((history_signature(x) for x in responses), key=lambda s: s.key_id)),
            )
            for r, responses in self.signed.values()
            if responses and r.expires_at > now - 2 * DAY
        ]

    def new_request(self, now: int) -> SpendRequest:
        self.built += 1
        history = self.entries(now)
        if self.rng.random() < 0.15 and history:  # omit: keep a random part, maybe nothing
            history = self.rng.sample(history, self.rng.randrange(len(history)))
        return SpendRequest(
            request_id=self.built.to_bytes(16, "big"),
            vault_id=self.vault.vault_id,
            policy_digest=self.vault.digest(),
            created_at=now - MINUTE,
            expires_at=now - MINUTE + self.vault.rules.max_request_lifetime_seconds,
            action=replace(SPEND, amount=self.rng.choice((50, 50, 50, 50, 20))),  # mostly the most allowed
            history=tuple(sorted(history, key=lambda e: e.request.digest())),
        )

    def wire(self, request: SpendRequest) -> bytes:
        """The request's bytes, sometimes with its history reordered or an entry duplicated."""
        data = cbor2.loads(request.to_cbor())
        trick = self.rng.random()
        if trick < 0.05 and len(data["history"]) > 1:
            self.rng.shuffle(data["history"])
        elif trick < 0.1 and data["history"]:
            data["history"].append(data["history"][0])
        return cbor2.dumps(data, canonical=True)

    def keep(self, request: SpendRequest, response: SignatureResponse | None) -> None:
        held = self.signed.setdefault(request.digest(), (request, []))[1]
        if response is not None:
            held.append(response)


def finalized_times(host: HostileHost, threshold: int) -> list[tuple[int, int]]:
    """(when the quorum was reached, amount) of every spend with a quorum of signatures."""
    out = []
    for request, responses in host.signed.values():
        times = sorted(r.approved_at for r in responses)
        if len(times) >= threshold:
            assert isinstance(request.action, Withdraw)
            out.append((times[threshold - 1], request.action.amount))
    return sorted(out)


def attack(
    v: VaultDefinition, keys: list[SoftKey], seed: int, steps: int, kind: type[Station] = Station
) -> tuple[HostileHost, list[Station]]:
    rng = random.Random(seed)
    stations = [kind(k, VaultState(vault_id=v.vault_id, installed_at=T0 - DAY)) for k in keys]
    host = HostileHost(v, rng)
    quorums = itertools.cycle(itertools.combinations(range(len(keys)), v.threshold))
    now = T0
    pending: list[SpendRequest] = []
    for _ in range(steps):
        # mostly as fast as the cooldown allows, sometimes faster, sometimes a long pause
        now += rng.choice((61 * MINUTE,) * 6 + (MINUTE, 10 * MINUTE, 9 * HOUR))
        if pending and rng.random() < 0.2:  # complete a request one station signed earlier
            request = rng.choice(pending)
            signers = [i for i in range(len(keys)) if i not in _signers(host, request, keys)]
        else:
            request = host.new_request(now)
            pending.append(request)
            signers = list(next(quorums))
            if rng.random() < 0.1:
                signers = signers[:1]  # one signature now, the rest later (or never)
        for i in signers:
            host.keep(request, stations[i].handle(v, host.wire(request), now))
        pending = [p for p in pending if p.expires_at > now]
    return host, stations


def _signers(host: HostileHost, request: SpendRequest, keys: list[SoftKey]) -> set[int]:
    held = host.signed.get(request.digest(), (request, []))[1]
    ids = [k.vault_key.key_id for k in keys]
    return {ids.index(r.key_id) for r in held}


VAULTS = [
    ("2-of-3", 2, 3),
    ("3-of-5", 3, 5),
    ("2-of-5, quorums need not overlap", 2, 5),
]


@pytest.mark.parametrize(("name", "threshold", "n"), VAULTS, ids=[v[0] for v in VAULTS])
@pytest.mark.parametrize("seed", [1, 2])
def test_attack_2_rotating_quorums_never_exceed_the_window(
    name: str, threshold: int, n: int, seed: int
) -> None:
    keys = [SoftKey(i, f"b{i}") for i in range(1, n + 1)]
    rules = replace(RULES, max_per_spend=50, window_max=100, window_count=10, cooldown_seconds=HOUR)
    v = vault(threshold=threshold, keys=keys, rules=rules)
    host, stations = attack(v, keys, seed, steps=160)
    spends = finalized_times(host, threshold)
    assert len(spends) >= 8, "the attack must get real spends through, or it proves nothing"
    assert worst_window(spends) <= rules.window_max
    if v.quorums_overlap:
        gaps = [b - a for (a, _), (b, _) in itertools.pairwise(spends)]
        assert min(gaps) >= rules.cooldown_seconds
    # the host's tricks were caught, each for what it was
    refused = {code for s in stations for code in s.refusals}
    assert Code.HISTORY_INCOMPLETE in refused and Code.HISTORY_INVALID in refused
    assert refused & {Code.WINDOW, Code.COOLDOWN}


def worst_window(spends: list[tuple[int, int]]) -> int:
    return max(sum(amount for t, amount in spends if end - DAY < t <= end) for end, _ in spends)


def test_the_attack_beats_stations_that_count_only_their_own_signatures() -> None:
    """The same attack against stations as they were: it leaks, so the test above can fail."""
    keys = [SoftKey(i, f"b{i}") for i in range(1, 4)]
    rules = replace(RULES, max_per_spend=50, window_max=100, window_count=10, cooldown_seconds=HOUR)
    v = vault(threshold=2, keys=keys, rules=rules)
    host, _ = attack(v, keys, seed=1, steps=160, kind=LocalOnlyStation)
    assert worst_window(finalized_times(host, 2)) == 150


def test_attack_2_the_reported_scenario_is_refused_at_the_third_quorum() -> None:
    """The exact report: b1+b2, b1+b3 and b2+b3 within 2 h 10 min, 50 each, 100 a day."""
    keys = [SoftKey(i, f"b{i}") for i in range(1, 4)]
    rules = replace(RULES, max_per_spend=50, window_max=100, window_count=10, cooldown_seconds=HOUR)
    v = vault(threshold=2, keys=keys, rules=rules)
    stations = [Station(k, VaultState(vault_id=v.vault_id, installed_at=T0 - DAY)) for k in keys]
    host = HostileHost(v, random.Random(0))
    for step, quorum in enumerate(((0, 1), (0, 2), (1, 2))):
        now = T0 + step * (HOUR + 5 * MINUTE)
        request = host.new_request(now) if step == 0 else _honest(host, now)
        for i in quorum:
            host.keep(request, stations[i].handle(v, request.to_cbor(), now))
    assert [t for t, _ in finalized_times(host, 2)] == [T0, T0 + HOUR + 5 * MINUTE]
    assert stations[1].refusals == [Code.WINDOW] and stations[2].refusals == [Code.WINDOW]


def _honest(host: HostileHost, now: int) -> SpendRequest:
    host.built += 1
    return SpendRequest(
        request_id=host.built.to_bytes(16, "big"),
        vault_id=host.vault.vault_id,
        policy_digest=host.vault.digest(),
        created_at=now - MINUTE,
        expires_at=now - MINUTE + host.vault.rules.max_request_lifetime_seconds,
        action=SPEND,
        history=tuple(sorted(host.entries(now), key=lambda e: e.request.digest())),
    )
