"""The station window driven as custodians would: keys, typed cards, and what each screen says."""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer

from airgap.qr.decode import located_payloads, payloads_in_image
from airgap.ur.ur import UR, URDecoder
from appliance.card_files import card_words, read_card_file
from appliance.ceremony import Ceremony, Outcome
from appliance.cli import main
from appliance.errors import PinLockedError
from appliance.run_loop import run
from appliance.seal import LogRollbackError
from appliance.window.sitting import identity
from appliance.window.station_window import StationWindow
from appliance.window.window_screen import WindowOptions, WindowScreen
from custody.schemas.policy_toml import render_policy
from custody.schemas.request import Withdraw
from custody.schemas.response import RESPONSE_UR_TYPE, Refusal, SignatureResponse
from tests.appliance.conftest import requires_softhsm
from tests.appliance.kit import (
    ALLOWED,
    XCH,
    Clock,
    SimStation,
    camera_frames,
    frames_folder,
    install,
    make_request,
    make_station,
    policy_for,
    vault_of,
)

ELSEWHERE = "xch1" + "q" * 58
REQUEST_ID = bytes(range(16))


@dataclass
class Custodians:
    """Presses keys on whatever screen is up, as people at the station would, and notes what each
    screen said the first time it came up."""

    window: StationWindow
    qtbot: Any
    cards: list[tuple[str, str]] = field(default_factory=list)  # (number, words) to type in turn
    approve: bool = True
    seen: dict[str, str] = field(default_factory=dict)
    tried_early: bool = False

    def start(self) -> QTimer:
        timer = QTimer()
        timer.timeout.connect(self.tick)
        timer.start(20)
        return timer

    def note(self, name: str) -> None:
        if name in self.seen:
            return
        page = self.window.pages[name]
        body = getattr(page, "text", None)
        steps = getattr(page, "steps", None)
        results = getattr(page, "results", None)
        parts = [page.title.text(), page.status.text(), page.keys.text()]
        if body is not None:
            parts.append(body.toPlainText())
        for widget in (steps, results):
            if widget is not None:
                parts += [widget.item(i).text() for i in range(widget.count())]
        if name == "scanning":
            parts.append(self.window.scanning.identity.text())
        self.seen[name] = "\n".join(parts)

    def tick(self) -> None:
        name = self.window.current
        if name not in ("cards", "signing"):
            self.note(name)
        if self.window._loop is None:  # nothing asked yet
            return
        if name == "review":
            page = self.window.review
            if not self.tried_early and not page.read_to_end():
                self.tried_early = True
                self.qtbot.keyClick(self.window, Qt.Key.Key_A)  # too early: the last line not shown
                self.seen["review-too-early"] = page.status.text()
                return
            if not self.approve:
                self.qtbot.keyClick(self.window, Qt.Key.Key_R)
                return
            if not page.read_to_end():
                self.qtbot.keyClick(page.text, Qt.Key.Key_PageDown)
                return
            self.qtbot.keyClick(self.window, Qt.Key.Key_A)
        elif name == "cards":
            page = self.window.cards
            if self.cards and not page.number.text():
                number, _ = self.cards[0]
                page.number.setText(number)
                self.qtbot.keyClick(page.number, Qt.Key.Key_Return)  # Enter after the number: on to the words
            elif self.cards:
                assert page.words.hasFocus() or not self.window.isActiveWindow()
                _, words = self.cards.pop(0)
                page.words.setText(words)
                self.qtbot.keyClick(page.words, Qt.Key.Key_Return)
            else:
                self.note("cards")
                self.qtbot.keyClick(self.window, Qt.Key.Key_Escape)
        elif name in ("answer", "refused", "error"):
            self.note(name)
            self.qtbot.keyClick(self.window, Qt.Key.Key_D)


def typed(station: SimStation, number: int) -> tuple[str, str]:
    card = read_card_file(station.cards_dir / f"card-{number}.txt").card
    assert card is not None
    return str(number), " ".join(card_words(card))


def sitting(
    station: SimStation, qtbot: Any, payload: bytes, tmp_path: Path, **custodians: Any
) -> tuple[list[Any], Custodians, StationWindow]:
    window = StationWindow(station.name, tmp_path / "shots")
    qtbot.addWidget(window)
    people = Custodians(window, qtbot, **custodians)
    shown: list[str] = []
    show_page = window.show_page

    def showing(name: str) -> Any:
        shown.append(name)
        return show_page(name)

    window.show_page = showing  # type: ignore[method-assign]
    opened = station.open()
    try:
        screen = WindowScreen(window, opened.state.card_set, identity(opened), WindowOptions())
        window.open()
        timer = people.start()
        ceremony = Ceremony(opened, screen=screen, cards=screen.collect_cards)
        frames = camera_frames(payload)
        summary = run(
            ceremony,
            screen.frames(_Frames(frames)),
            decode_image=screen.decoder(located_payloads),
            max_requests=1,
            on_progress=screen.progress,
        )
        timer.stop()
        for name in shown:  # pages passed without a wait (cards, signing) keep their last content
            people.note(name)
    finally:
        opened.close()
    return summary.answers, people, window


@dataclass
class _Frames:
    items: list[Any]

    def frames(self) -> Any:
        return iter(self.items)

    def close(self) -> None:
        pass


pytestmark = [pytest.mark.hsm, requires_softhsm]


@pytest.fixture
def station(softhsm: Path, tmp_path: Path) -> Any:
    station = make_station(tmp_path, "st-w", Clock(int(time.time()) - 3600))
    vault = vault_of([station.key()], threshold=1, cooldown_seconds=0)
    install(station, vault)
    station.clock.t = int(time.time())
    return station, vault


def test_custodians_walk_the_whole_ceremony_through_the_window(
    station: Any, qtbot: Any, tmp_path: Path
) -> None:
    sim, vault = station
    request = make_request(
        vault, Withdraw(asset="XCH", amount=5 * XCH, destination=ALLOWED), sim.clock(), request_id=REQUEST_ID
    )
    number, words = typed(sim, 3)
    mistyped = (number, words.replace(words.split()[4], "zoom" if words.split()[4] != "zoom" else "yawn"))
    answers, people, window = sitting(
        sim, qtbot, request.to_cbor(), tmp_path, cards=[mistyped, typed(sim, 1), typed(sim, 2)]
    )
    assert [a.outcome for a in answers] == [Outcome.SIGNED]
    SignatureResponse.from_cbor(answers[0].ur.cbor).verify(sim.record.public_key)

    seen = people.seen
    assert "Station st-w" in seen["scanning"] and "Log head: entry" in seen["scanning"]
    assert "5 XCH" in seen["review"] and "EVERY RULE PASSES" in seen["review"]
    assert "xch1 allo wed0" in seen["review"]  # addresses grouped for reading aloud
    assert "Read to the last line first" in seen["review-too-early"]
    assert "REFUSED   card 3: words do not read back" in seen["cards"]
    assert "ACCEPTED  card 1" in seen["cards"] and "ACCEPTED  card 2" in seen["cards"]
    assert "enough cards" in seen["cards"]
    assert "HSM login with the PIN of 2 cards" in seen["signing"]
    assert "logged at entry" in seen["signing"] and "sealed in the HSM" in seen["signing"]
    assert "SIGNED" in seen["answer"]
    assert "refused" not in seen and "error" not in seen
    # the answer on screen is the logged response
    image = window.answer.qr.frames[0].toImage()
    path = tmp_path / "answer-frame.png"
    image.save(str(path))
    import cv2

    decoder = URDecoder(expected_types=frozenset({RESPONSE_UR_TYPE}))
    for text in payloads_in_image(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)):
        decoder.receive(text)
    assert decoder.result == answers[0].ur
    assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == [
        "answer.png",
        "cards.png",
        "review.png",
        "scanning.png",
        "signing.png",
    ]


def test_a_refusal_is_explained_before_any_card(station: Any, qtbot: Any, tmp_path: Path) -> None:
    sim, vault = station
    request = make_request(vault, Withdraw(asset="XCH", amount=5 * XCH, destination=ELSEWHERE), sim.clock())
    answers, people, _ = sitting(sim, qtbot, request.to_cbor(), tmp_path)
    assert [a.code for a in answers] == ["destination-not-allowed"]
    assert "REFUSED (destination-not-allowed)" in people.seen["refused"]
    assert "cards" not in people.seen and "review" not in people.seen  # no approve key was ever offered
    refusal = Refusal.from_cbor(answers[0].ur.cbor)
    assert refusal.code == "destination-not-allowed"
    assert (tmp_path / "shots" / "refused.png").is_file()


def test_custodians_decline_with_r(station: Any, qtbot: Any, tmp_path: Path) -> None:
    sim, vault = station
    request = make_request(vault, Withdraw(asset="XCH", amount=5 * XCH, destination=ALLOWED), sim.clock())
    answers, people, _ = sitting(sim, qtbot, request.to_cbor(), tmp_path, approve=False)
    assert [a.code for a in answers] == ["declined"]
    assert "cards" not in people.seen
    assert "declined" in people.seen["refused"]


def test_too_few_cards_then_escape_refuses_without_the_hsm(station: Any, qtbot: Any, tmp_path: Path) -> None:
    sim, vault = station
    request = make_request(vault, Withdraw(asset="XCH", amount=5 * XCH, destination=ALLOWED), sim.clock())
    answers, people, _ = sitting(sim, qtbot, request.to_cbor(), tmp_path, cards=[typed(sim, 1)])
    assert [a.code for a in answers] == ["cards-refused"]
    assert "1 more card(s) needed" in people.seen["cards"]
    assert "Cards refused" in people.seen["error"] and "What to do" in people.seen["error"]
    assert "signing" not in people.seen


def test_the_error_screen_says_what_it_means_and_what_to_do(qtbot: Any, tmp_path: Path) -> None:
    window = StationWindow("st-e", tmp_path / "shots")
    qtbot.addWidget(window)
    screen = WindowScreen(window, None, lambda: "", WindowOptions(auto=True))  # type: ignore[arg-type]
    for error, words in (
        (PinLockedError("CKR_PIN_LOCKED"), "HSM PIN locked"),
        (LogRollbackError("head 7 differs from the sealed head 9"), "Audit log rolled back"),
        (RuntimeError("surprise"), "Station error"),
    ):
        screen.trouble(error)
        assert window.current == "error"
        text = window.error.text.toPlainText()
        assert words in window.error.title.text() and "What to do" in text and "Traceback" not in text
    screen.show_answer("refused answer", UR("x-refusal", b"\xa0"))
    assert window.current == "error" and (tmp_path / "shots" / "error.png").is_file()


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err, ask=lambda _: "", ask_secret=lambda _: "")
    return code, out.getvalue(), err.getvalue()


def test_appliance_run_ui_window_unattended(softhsm: Path, tmp_path: Path) -> None:
    sim = make_station(tmp_path, "st-c", Clock(int(time.time()) - 3600))
    vault = vault_of([sim.key()], threshold=1, cooldown_seconds=0)
    toml = tmp_path / "hot.toml"
    toml.write_text(render_policy(policy_for(vault, sim)))
    state = ["--state", str(sim.state)]
    cards = [str(p) for p in sim.card_paths(1, 2)]
    assert cli(["policy", "install", str(toml), *state, "--approve-with-cards", *cards])[0] == 0
    request = make_request(
        vault, Withdraw(asset="XCH", amount=5 * XCH, destination=ALLOWED), int(time.time())
    )
    folder = frames_folder(camera_frames(request.to_cbor()), tmp_path / "camera")
    shots, answers = tmp_path / "shots", tmp_path / "answers"
    code, out, err = cli(
        [
            *("run", "--ui", "window", "--source", str(folder), *state, "--approve-with-cards", *cards),
            *("--answers", str(answers), "--screenshots", str(shots), "--in-process-decoder"),
        ]
    )
    assert code == 0, err
    assert "done: 1 signed" in out and "5 XCH" in out and "approved by --approve-with-cards" in out
    assert "HSM login" in out and "answer written to" in out  # the window's record, as a terminal shows
    assert {p.name for p in shots.iterdir()} == {
        f"{n}.png" for n in ("scanning", "review", "cards", "signing", "answer")
    }
    SignatureResponse.from_cbor(next(answers.glob("*.cbor")).read_bytes()).verify(sim.record.public_key)


def test_appliance_run_ui_window_without_a_display_is_a_clear_error(
    softhsm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_station(tmp_path, "st-d", Clock(int(time.time())))
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    folder = frames_folder(camera_frames(b"\xa0"), tmp_path / "camera")
    code, _, err = cli(
        ["run", "--ui", "window", "--source", str(folder), "--state", str(sim.state), "--approve-with-cards"]
        + [str(p) for p in sim.card_paths(1, 2)]
    )
    assert code == 1 and "no display" in err and "Traceback" not in err
    assert os.environ.get("QT_QPA_PLATFORM") is None


def test_screenshots_need_the_window(softhsm: Path, tmp_path: Path) -> None:
    sim = make_station(tmp_path, "st-f", Clock(int(time.time())))
    code, _, err = cli(
        [
            *("run", "--source", str(tmp_path), "--state", str(sim.state)),
            *("--screenshots", str(tmp_path / "s"), "--approve-with-cards"),
            *[str(p) for p in sim.card_paths(1, 2)],
        ]
    )
    assert code == 2 and "--ui window" in err
