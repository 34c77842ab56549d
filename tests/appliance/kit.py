"""Building blocks for ceremony tests: SoftHSM stations, vaults over their keys, requests as camera frames."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airgap.camera.frames import Frame
from airgap.camera.simulator import PROFILES, CameraSimulator
from airgap.link_defaults import DEFAULT_MAX_FRAGMENT
from airgap.qr.render import RenderSettings, render_frames
from airgap.qr.sinks import write_png_folder
from airgap.ur.ur import UR, parts_for_message
from appliance.card_files import read_card_file
from appliance.cards import PresentedCard
from appliance.ceremony import Answer, Ceremony, Outcome
from appliance.key_ceremony import generate_key, initialise
from appliance.policy_install import install_policy
from appliance.station import Station
from custody.policy.history import history_signature
from custody.schemas.history import HistoryEntry
from custody.schemas.key_record import Algorithm, KeyRecord
from custody.schemas.request import UR_TYPE, Action, SpendRequest
from custody.schemas.response import SignatureResponse
from custody.schemas.vault import Asset, Rules, StationPolicy, VaultDefinition, VaultKey
from tests.appliance.conftest import token_uri

T0 = 1_790_000_000  # 2026-09-22, a fixed start for every test clock
HOUR, DAY = 3600, 86400
ASSET = Asset(code="XCH", decimals=12)
XCH = 10**12
ALLOWED = "xch1allowed0000000000000000000000000000000000000000000000000000"
OTHER = "xch1other000000000000000000000000000000000000000000000000000000"


class Clock:
    def __init__(self, t: int = T0) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t

    def advance(self, seconds: int) -> None:
        self.t += seconds


@dataclass
class RecordingScreen:
    """A screen that remembers what it showed, and answers the custodians' question as told."""

    confirm_answer: bool = True
    lines: list[str] = field(default_factory=list)
    answers: list[UR] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.lines.append(text)

    def review(self, lines: Any) -> None:
        self.lines.extend(lines)

    def confirm(self, question: str) -> bool:
        self.lines.append(question)
        return self.confirm_answer

    def step(self, text: str) -> None:
        self.lines.append(f"  - {text}")

    def trouble(self, error: Exception) -> None:
        self.lines.append(f"trouble: {type(error).__name__}: {error}")

    def show_answer(self, title: str, ur: UR) -> None:
        self.answers.append(ur)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Ledger:
    """What an honest host holds: every request signed so far, with its signatures.

    Requests built through it carry all of them as their vault history, as
    ``host request`` does, so the stations can count the vault's limits."""

    signed: dict[bytes, tuple[SpendRequest, list[SignatureResponse]]] = field(default_factory=dict)

    def add(self, request: SpendRequest, response: SignatureResponse) -> None:
        held = self.signed.setdefault(request.digest(), (request, []))[1]
        if all(r.key_id != response.key_id for r in held):
            held.append(response)

    def history(self) -> tuple[HistoryEntry, ...]:
        entries = [
            HistoryEntry(
                request=r.core(),
                signatures=tuple(sorted((history_signature(x) for x in responses), key=lambda s: s.key_id)),
            )
            for r, responses in self.signed.values()
        ]
        return tuple(sorted(entries, key=lambda e: e.request.digest()))


@dataclass
class SimStation:
    name: str
    state: Path
    cards_dir: Path
    record: KeyRecord
    clock: Clock
    ledger: Ledger = field(default_factory=Ledger)

    def card_paths(self, *numbers: int) -> list[Path]:
        return [self.cards_dir / f"card-{n}.txt" for n in numbers or (1, 2)]

    def cards(self, *numbers: int) -> list[PresentedCard]:
        return [read_card_file(path) for path in self.card_paths(*numbers)]

    def key(self) -> VaultKey:
        return VaultKey(station=self.name, algorithm=self.record.algorithm, public_key=self.record.public_key)

    def open(self) -> Station:
        return Station(self.state, clock=self.clock)

    def ceremony(
        self, screen: RecordingScreen | None = None, *, cards: tuple[int, ...] = (1, 2), **kw: Any
    ) -> Ceremony:
        return Ceremony(
            self.open(), screen=screen or RecordingScreen(), cards=lambda _: self.cards(*cards), **kw
        )

    def handle(self, request: SpendRequest | bytes, screen: RecordingScreen | None = None) -> Answer:
        """The ceremony on ``request``; a signature goes into this station's ledger."""
        payload = request if isinstance(request, bytes) else request.to_cbor()
        ceremony = self.ceremony(screen)
        try:
            answer = ceremony.handle(UR(UR_TYPE, payload))
        finally:
            ceremony.station.close()
        if answer.outcome is not Outcome.REFUSED and isinstance(request, SpendRequest):
            self.ledger.add(request, SignatureResponse.from_cbor(answer.ur.cbor))
        return answer

    def request(self, vault: VaultDefinition, action: Action, now: int, **kw: Any) -> SpendRequest:
        """A request carrying this station's ledger as its vault history."""
        return make_request(vault, action, now, history=self.ledger.history(), **kw)


def make_station(
    root: Path,
    name: str,
    clock: Clock,
    *,
    label: str = "vault",
    algorithm: Algorithm = Algorithm.P256,
    ledger: Ledger | None = None,
) -> SimStation:
    state, cards_dir = root / name / "state", root / name / "cards"
    initialise(
        uri_text=token_uri(name),
        station=name,
        custodians=3,
        threshold=2,
        cards_out=cards_dir,
        state_dir=state,
        now=clock(),
    )
    presented = [read_card_file(cards_dir / f"card-{n}.txt") for n in (1, 2)]
    record = generate_key(state, presented, label=label, algorithm=algorithm, now=clock())
    return SimStation(name, state, cards_dir, record, clock, ledger if ledger is not None else Ledger())


def rules(**overrides: Any) -> Rules:
    values: dict[str, Any] = {
        "destinations": (ALLOWED,),
        "min_per_spend": XCH,
        "max_per_spend": 50 * XCH,
        "window_max": 120 * XCH,
        "window_count": 10,
        "max_fee": 0,
        "window_seconds": DAY,
        "cooldown_seconds": HOUR,
        "announce_delay_seconds": 0,
        "announce_expiry_seconds": 0,
        "rekey_delay_seconds": DAY,
        "max_request_lifetime_seconds": HOUR,
    }
    values.update(overrides)
    return Rules(**values)


def vault_of(
    keys: list[VaultKey],
    *,
    threshold: int,
    vault_id: str = "hot-ops",
    generation: int = 1,
    **rule_overrides: Any,
) -> VaultDefinition:
    return VaultDefinition(
        vault_id=vault_id,
        generation=generation,
        asset=ASSET,
        threshold=threshold,
        keys=tuple(keys),
        rules=rules(**rule_overrides),
    )


def policy_for(vault: VaultDefinition, station: SimStation) -> StationPolicy:
    return StationPolicy(vault=vault, key_label=station.record.label, key_id=station.record.key_id)


def install(station: SimStation, vault: VaultDefinition, authorization: bytes | None = None) -> StationPolicy:
    policy = policy_for(vault, station)
    with station.open() as opened:
        install_policy(opened, policy, station.cards(), screen=RecordingScreen(), authorization=authorization)
    return policy


def make_request(
    vault: VaultDefinition,
    action: Action,
    now: int,
    *,
    lifetime: int = 600,
    request_id: bytes | None = None,
    created_at: int | None = None,
    history: tuple[HistoryEntry, ...] = (),
) -> SpendRequest:
    created = now - 60 if created_at is None else created_at
    return SpendRequest(
        request_id=request_id or secrets.token_bytes(16),
        vault_id=vault.vault_id,
        policy_digest=vault.digest(),
        created_at=created,
        expires_at=created + lifetime,
        action=action,
        history=history,
    )


def camera_frames(
    payload: bytes,
    ur_type: str = UR_TYPE,
    *,
    seed: int = 7,
    seconds: float = 4.0,
    profile: str = "480p-appliance",
) -> list[Frame]:
    """The host's animated QR for ``payload`` as a station camera sees it."""
    texts = parts_for_message(UR(ur_type, payload), DEFAULT_MAX_FRAGMENT, passes=3)
    images = render_frames(texts, RenderSettings(module_px=4))
    sim = CameraSimulator(images, PROFILES[profile], seed)
    return [Frame(i, image=img) for i, (_, img) in enumerate(sim.capture(seconds))]


def frames_folder(frames: list[Frame], folder: Path) -> Path:
    write_png_folder([f.image for f in frames if f.image is not None], folder)
    return folder
