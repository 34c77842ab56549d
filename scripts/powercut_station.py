"""The station under test: it runs the scripted sequence from a durable cursor, and is killed at random.

Each run resumes at the cursor's step, with the same request bytes and the
same clock as the run that was cut, so a cut mid-ceremony is retried as a
custodian would: scan the same QR again. The cursor (``cursor.json``) is
replaced atomically: the step, the simulated clock, and every request the
host built in this cycle, saved before the station sees it.

The run reports where it is on a pipe, one line per progress point ("M
point"), step start ("S cycle index name"), step end ("D … outcome"), ready
("R") and failure ("E text"); what reached the pipe before a SIGKILL is still
read by the parent. Its screen appends each answer to the witness file and
fsyncs it before ``show_answer`` returns, with the last entry committed in
the audit database at that instant, read on a connection of its own.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from powercut_checks import SealView, Shown, read_witness, shown_signatures
from powercut_scenario import (
    CYCLE,
    INSTALLED,
    KEY_LABELS,
    SIGNED,
    STATION,
    T0,
    Step,
    host_request,
    rekey_bundle,
    station_policy,
)

from airgap.files import atomic_write
from airgap.ur.ur import UR
from appliance import station_state
from appliance.card_files import read_card_file
from appliance.cards import PresentedCard
from appliance.ceremony import Ceremony, Outcome
from appliance.key_ceremony import custodian_session, generate_key, initialise
from appliance.policy_install import install_policy
from appliance.seal import read_seal
from appliance.station import Station
from custody.schemas import strict
from custody.schemas.key_record import Algorithm
from custody.schemas.request import UR_TYPE, SpendRequest
from custody.schemas.response import Refusal, SignatureResponse

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN = "powercut"
Mark = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a campaign keeps its files: one folder, the token store included."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / "station"

    @property
    def cards(self) -> Path:
        return self.root / "cards"

    @property
    def cursor(self) -> Path:
        return self.root / "cursor.json"

    @property
    def witness(self) -> Path:
        return self.root / "witness.jsonl"

    @property
    def database(self) -> Path:
        return self.state / "audit.db"

    def card(self, number: int) -> PresentedCard:
        return read_card_file(self.cards / f"card-{number}.txt")


@dataclass(frozen=True, slots=True)
class Cursor:
    cycle: int = 0
    index: int = 0
    clock: int = T0 + CYCLE[0].advance
    requests: dict[str, str] = field(default_factory=dict)  # step name -> request CBOR (hex), this cycle

    @classmethod
    def load(cls, path: Path) -> Cursor:
        return cls(**json.loads(path.read_text())) if path.exists() else cls()

    def save(self, path: Path) -> None:
        atomic_write(path, json.dumps(asdict(self), sort_keys=True).encode())

    @property
    def step(self) -> Step:
        return CYCLE[self.index]

    def parsed(self) -> dict[str, SpendRequest]:
        return {name: SpendRequest.from_cbor(bytes.fromhex(h)) for name, h in self.requests.items()}

    def advanced(self) -> Cursor:
        if self.index + 1 < len(CYCLE):
            return replace(self, index=self.index + 1, clock=self.clock + CYCLE[self.index + 1].advance)
        return Cursor(self.cycle + 1, 0, self.clock + CYCLE[0].advance, {})


def _point(text: str) -> str:
    """A signing step's screen text, as a progress point."""
    for prefix, point in (
        ("HSM login", "hsm-login"),
        ("audit log checked", "seal-checked"),
        ("policy digest, clock and key", "key-checked"),
        ("signing the station's statement", "signing"),
        ("signature logged at entry", "sealed"),
    ):
        if text.startswith(prefix):
            return point
    return "step"


class WitnessScreen:
    """The station's screen as the campaign sees it: progress points, and every answer witnessed."""

    def __init__(self, mark: Mark, layout: Layout, cursor: Cursor, *, confirm: bool, policy: bool = False):
        self.mark, self.layout, self.cursor = mark, layout, cursor
        self.confirm_answer = confirm
        self.prefix = "policy-" if policy else ""

    def say(self, text: str) -> None:
        pass

    def review(self, lines: Sequence[str]) -> None:
        self.mark(self.prefix + "review")

    def confirm(self, question: str) -> bool:
        self.mark(self.prefix + "confirm")
        if self.prefix and self.confirm_answer:
            self.mark("policy-sealing")  # cards, login, seal check, entry, seal, policy file: no more screens
        return self.confirm_answer

    def step(self, text: str) -> None:
        self.mark(_point(text))

    def trouble(self, error: Exception) -> None:
        self.mark("trouble")

    def show_answer(self, title: str, ur: UR) -> None:
        self.mark("show")
        if ur.type == "x-signature-response":
            kind, digest = "signature", SignatureResponse.from_cbor(ur.cbor).request_digest
        else:
            kind, digest = "refusal", Refusal.from_cbor(ur.cbor).request_digest
        shown = Shown(
            self.cursor.cycle, self.cursor.step.name, kind, ur.cbor, digest, committed_head(self.layout)
        )
        fd = os.open(self.layout.witness, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, shown.to_line())
            os.fsync(fd)
        finally:
            os.close(fd)
        self.mark("shown")


def committed_head(layout: Layout) -> int:
    """The last entry committed in the audit database, on a read-only connection of our own."""
    db = sqlite3.connect(f"file:{layout.database}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT max(seq) FROM log").fetchone()
    finally:
        db.close()
    return int(row[0] or 0)


def setup(layout: Layout) -> None:
    """A SoftHSM station with 3 cards (any 2 open it) and the two keys the cycle rekeys between."""
    initialise(
        uri_text=f"pkcs11:token={TOKEN}?module-path={MODULE}",
        station=STATION,
        custodians=3,
        threshold=2,
        cards_out=layout.cards,
        state_dir=layout.state,
        now=T0,
    )
    for label in KEY_LABELS:
        generate_key(
            layout.state, [layout.card(1), layout.card(2)], label=label, algorithm=Algorithm.P256, now=T0
        )


def read_seal_cbor(layout: Layout) -> bytes:
    """The seal on the token, read in a session opened with two cards, as canonical CBOR (or null)."""
    with custodian_session(layout.state, [layout.card(1), layout.card(2)]) as (_, session):
        seal = read_seal(session)
    if seal is None:
        return strict.encode(None)
    return strict.encode(
        {"log_seq": seal.log_seq, "log_head": seal.log_head, "policies": dict(seal.policies)}
    )


def seal_view(data: bytes) -> SealView | None:
    value = strict.decode(data, what="seal view")
    if value is None:
        return None
    return SealView(value["log_seq"], value["log_head"], dict(value["policies"]))


class StepFailed(Exception):
    """The station did not finish a ceremony as the script expects."""


class Runner:
    def __init__(self, layout: Layout, mark: Mark) -> None:
        self.layout, self.mark = layout, mark
        records = station_state.load(layout.state).keys
        self.public_keys = {label: r.public_key for label, r in records.items()}
        self.key_ids = {label: r.key_id for label, r in records.items()}
        self.cards = {n: layout.card(n) for n in (1, 2, 3)}
        self.shown = shown_signatures(read_witness(layout.witness))
        self._mend_witness()

    def _mend_witness(self) -> None:
        """A record torn by a cut ends its own line, so the next one is whole (it was never shown)."""
        path = self.layout.witness
        if path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            with path.open("ab") as f:
                f.write(b"\n")

    def run_step(self, cursor: Cursor) -> tuple[Cursor, str]:
        step = cursor.step
        self.mark("policy-prepare" if step.kind == "install" else "prepare")
        requests = cursor.parsed()
        if step.kind == "install":
            return cursor, self._install(cursor, step, requests)
        if step.name not in requests:
            request = host_request(cursor.cycle, step, cursor.clock, requests, self.shown, self.public_keys)
            cursor = replace(cursor, requests={**cursor.requests, step.name: request.to_cbor().hex()})
            cursor.save(self.layout.cursor)
            requests[step.name] = request
        request = requests[step.name]
        self.mark("scan")
        screen = WitnessScreen(self.mark, self.layout, cursor, confirm=step.confirm)
        with Station(self.layout.state, clock=lambda: cursor.clock) as station:
            ceremony = Ceremony(
                station,
                screen=screen,
                cards=lambda _: self._present(step.cards),
                fault=self.mark,
            )
            answer = ceremony.handle(UR(UR_TYPE, request.to_cbor()))
        self.mark("answered")
        if answer.outcome is not Outcome.REFUSED:
            self.shown[request.digest()] = answer.ur.cbor
        outcome = answer.outcome.value if answer.outcome is not Outcome.REFUSED else answer.code
        if step.expect == SIGNED:
            ok = answer.outcome is not Outcome.REFUSED or (
                answer.code == "replay" and request.digest() in self.shown  # shown before the cut
            )
        else:
            ok = answer.outcome is Outcome.REFUSED and answer.code == step.expect
        if not ok:
            raise StepFailed(f"{step.name}: expected {step.expect}, got {outcome} ({answer.text})")
        return cursor, outcome

    def _present(self, numbers: tuple[int, ...]) -> list[PresentedCard]:
        self.mark("cards")
        return [self.cards[n] for n in numbers]

    def _install(self, cursor: Cursor, step: Step, requests: dict[str, SpendRequest]) -> str:
        policy = station_policy(cursor.cycle, step, self.public_keys, self.key_ids)
        authorization = rekey_bundle(requests, self.shown, step.ref) if step.ref else None
        screen = WitnessScreen(self.mark, self.layout, cursor, confirm=True, policy=True)
        with Station(self.layout.state, clock=lambda: cursor.clock) as station:
            install_policy(
                station, policy, [self.cards[1], self.cards[2]], screen=screen, authorization=authorization
            )
        self.mark("policy-installed")
        return INSTALLED


def run(layout: Layout, out: int, max_steps: int | None = None) -> int:
    """Run steps from the cursor until killed (or ``max_steps`` done); report progress on fd ``out``."""

    def send(line: str) -> None:
        os.write(out, (line + "\n").encode())

    def mark(point: str) -> None:
        send(f"M {point}")

    mark("startup")
    runner = Runner(layout, mark)
    cursor = Cursor.load(layout.cursor)
    send("R")
    done = 0
    while max_steps is None or done < max_steps:
        step = cursor.step
        send(f"S {cursor.cycle} {cursor.index} {step.name}")
        try:
            cursor, outcome = runner.run_step(cursor)
        except Exception as exc:  # any failure is the campaign's finding: say what, then stop
            send(f"E {type(exc).__name__}: {exc}".replace("\n", " ")[:2000])
            return 3
        send(f"D {cursor.cycle} {cursor.index} {step.name} {outcome}")
        mark("cursor")
        cursor = cursor.advanced()
        cursor.save(layout.cursor)
        mark("idle")
        done += 1
    return 0
