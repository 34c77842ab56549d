"""The scripted sequence the power-cut campaign runs, one cycle per vault, and how the host builds each step.

A cycle is one fresh 1-of-1 statement vault over the station's key ``vault-1``:
installed, spent up to its rolling-window limits (and refused past them),
switched to two-phase rules by a rules-only policy change, announced,
executed, announced and cancelled, then rekeyed to ``vault-2`` and used under
the new key. Every refusal a custodian can meet is in it: cooldown, window
total, window count, destination, replay, a declined review, a wrong card,
announce-required, too early, a closed announcement. The clock is simulated
and moves by each step's ``advance`` only, so windows and delays fall on the
same instants whatever the machine's speed.

The host side (``host_request``, ``rekey_bundle``) uses only what a host holds:
the requests it built and the signatures the station showed.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from custody.policy.history import history_signature
from custody.schemas.bundle import SignedBundle
from custody.schemas.history import HistoryEntry
from custody.schemas.key_record import Algorithm
from custody.schemas.request import Action, Announce, Cancel, Execute, Rekey, SpendRequest, Withdraw
from custody.schemas.response import SignatureResponse
from custody.schemas.vault import Asset, Rules, StationPolicy, VaultDefinition, VaultKey

T0 = 1_790_000_000  # 2026-09-22, the campaign's simulated start
MINUTE, HOUR, DAY = 60, 3600, 86400
XCH = 10**12
ASSET = Asset(code="XCH", decimals=12)
ALLOWED = "xch1allowed0000000000000000000000000000000000000000000000000000"
OTHER = "xch1other000000000000000000000000000000000000000000000000000000"
STATION = "powercut"
KEY_LABELS = ("vault-1", "vault-2")
WINDOW_SECONDS, WINDOW_MAX, WINDOW_COUNT = DAY, 100 * XCH, 3
SIGNED = "signed"
INSTALLED = "installed"


@dataclass(frozen=True, slots=True)
class Step:
    """One ceremony of a cycle. ``kind`` is ``sign`` (a request) or ``install`` (a policy)."""

    name: str
    advance: int  # seconds the clock moves before this step
    kind: str
    expect: str  # SIGNED, INSTALLED or the refusal code
    action: str = ""  # withdraw | announce | execute | cancel | rekey | replay
    amount: int = 0
    destination: str = ALLOWED
    ref: str = ""  # the step whose request this one names (execute, cancel, replay, the rekey's bundle)
    confirm: bool = True
    cards: tuple[int, ...] = (1, 2)
    two_phase: bool = False  # install: the rules it installs
    key: int = 0  # index into KEY_LABELS: the key the vault is over after this step


def _w(name: str, advance: int, amount: int, expect: str = SIGNED, **kw: object) -> Step:
    return Step(name, advance, "sign", expect, "withdraw", amount * XCH, **kw)  # type: ignore[arg-type]


CYCLE: tuple[Step, ...] = (
    Step("install", HOUR, "install", INSTALLED),
    _w("withdraw-40", 2 * HOUR, 40),
    _w("cooldown", 30 * MINUTE, 10, "cooldown"),
    _w("withdraw-40b", HOUR, 40),
    _w("over-window", 2 * HOUR, 30, "over-window-limit"),
    _w("wrong-destination", 0, 20, "destination-not-allowed", destination=OTHER),
    _w("withdraw-5", 0, 5),
    _w("over-count", 2 * HOUR, 5, "over-window-count"),
    Step("replay", 0, "sign", "replay", "replay", 40 * XCH, ref="withdraw-40"),
    _w("declined", DAY, 10, "declined", confirm=False),
    _w("wrong-card", 0, 10, "cards-refused", cards=(1, 1)),
    _w("withdraw-10", 0, 10),
    Step("install-two-phase", HOUR, "install", INSTALLED, two_phase=True),
    _w("announce-required", 2 * HOUR, 10, "announce-required"),
    Step("announce-30", 0, "sign", SIGNED, "announce", 30 * XCH),
    Step("too-early", HOUR, "sign", "too-early", "execute", ref="announce-30"),
    Step("execute-30", DAY, "sign", SIGNED, "execute", ref="announce-30"),
    Step("announce-20", 2 * HOUR, "sign", SIGNED, "announce", 20 * XCH),
    Step("cancel-20", HOUR, "sign", SIGNED, "cancel", ref="announce-20"),
    Step("closed", DAY + HOUR, "sign", "announcement-closed", "execute", ref="announce-20"),
    Step("rekey", DAY, "sign", SIGNED, "rekey"),
    Step("install-rekey", 0, "install", INSTALLED, ref="rekey", two_phase=True, key=1),
    Step("announce-10", 2 * HOUR, "sign", SIGNED, "announce", 10 * XCH, key=1),
    Step("execute-10", DAY + HOUR, "sign", SIGNED, "execute", ref="announce-10", key=1),
)


def vault_id(cycle: int) -> str:
    return f"pc-{cycle:05d}"


def rules(two_phase: bool) -> Rules:
    return Rules(
        destinations=(ALLOWED,),
        min_per_spend=XCH,
        max_per_spend=50 * XCH,
        window_max=WINDOW_MAX,
        window_count=WINDOW_COUNT,
        max_fee=0,
        window_seconds=WINDOW_SECONDS,
        cooldown_seconds=HOUR,
        announce_delay_seconds=DAY if two_phase else 0,
        announce_expiry_seconds=2 * DAY if two_phase else 0,
        rekey_delay_seconds=DAY,
        max_request_lifetime_seconds=HOUR,
    )


def vault_key(public_keys: Mapping[str, bytes], label: str) -> VaultKey:
    return VaultKey(station=STATION, algorithm=Algorithm.P256, public_key=public_keys[label])


def definition(cycle: int, step: Step, public_keys: Mapping[str, bytes]) -> VaultDefinition:
    """The vault as it stands at ``step``: which key, which rules, which generation."""
    return VaultDefinition(
        vault_id=vault_id(cycle),
        generation=1 + step.key,
        asset=ASSET,
        threshold=1,
        keys=(vault_key(public_keys, KEY_LABELS[step.key]),),
        rules=rules(step.two_phase or _two_phase_at(step)),
    )


def _two_phase_at(step: Step) -> bool:
    """Requests after the two-phase install are built against the two-phase definition."""
    names = [s.name for s in CYCLE]
    return names.index(step.name) > names.index("install-two-phase")


def station_policy(
    cycle: int, step: Step, public_keys: Mapping[str, bytes], key_ids: Mapping[str, bytes]
) -> StationPolicy:
    label = KEY_LABELS[step.key]
    return StationPolicy(vault=definition(cycle, step, public_keys), key_label=label, key_id=key_ids[label])


def history(requests: Mapping[str, SpendRequest], shown: Mapping[bytes, bytes]) -> tuple[HistoryEntry, ...]:
    """Every request of this vault whose signature the station showed, as ``host request`` sends it."""
    entries = [
        HistoryEntry(
            request=r.core(),
            signatures=(history_signature(SignatureResponse.from_cbor(shown[r.digest()])),),
        )
        for r in requests.values()
        if r.digest() in shown
    ]
    return tuple(sorted(entries, key=lambda e: e.request.digest()))


def _action(step: Step, requests: Mapping[str, SpendRequest], public_keys: Mapping[str, bytes]) -> Action:
    if step.action == "withdraw":
        return Withdraw(asset="XCH", amount=step.amount, destination=step.destination)
    if step.action == "announce":
        return Announce(asset="XCH", amount=step.amount, destination=step.destination)
    if step.action in ("execute", "cancel"):
        announced = requests[step.ref]
        if step.action == "cancel":
            return Cancel(announce_id=announced.request_id)
        a = announced.action
        assert isinstance(a, Announce)
        return Execute(
            announce_id=announced.request_id, asset=a.asset, amount=a.amount, destination=a.destination
        )
    if step.action == "rekey":
        return Rekey(keys=(vault_key(public_keys, KEY_LABELS[1]),), threshold=1)
    raise ValueError(f"no action {step.action!r}")


def host_request(
    cycle: int,
    step: Step,
    now: int,
    requests: Mapping[str, SpendRequest],
    shown: Mapping[bytes, bytes],
    public_keys: Mapping[str, bytes],
) -> SpendRequest:
    """The request the host builds for ``step`` at ``now``; a replay reuses an earlier request's id."""
    vault = definition(cycle, step, public_keys)
    if step.action == "replay":
        action: Action = Withdraw(asset="XCH", amount=step.amount, destination=step.destination)
        request_id = requests[step.ref].request_id
    else:
        action, request_id = _action(step, requests, public_keys), secrets.token_bytes(16)
    return SpendRequest(
        request_id=request_id,
        vault_id=vault.vault_id,
        policy_digest=vault.digest(),
        created_at=now - MINUTE,
        expires_at=now + 9 * MINUTE,
        action=action,
        history=history(requests, shown),
    )


def rekey_bundle(requests: Mapping[str, SpendRequest], shown: Mapping[bytes, bytes], ref: str) -> bytes:
    """The signed rekey bundle that authorizes the next generation: the request and the shown signature."""
    request = requests[ref]
    response = SignatureResponse.from_cbor(shown[request.digest()])
    return SignedBundle(request=request, responses=(response,)).to_cbor()
