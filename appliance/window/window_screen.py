"""The ceremony's ``Screen`` drawn in the station window, with its cards and its camera.

The ceremony decides; this only shows and asks. A refusal is on screen
before any card is asked for, approval takes a deliberate key once the last
line of the review has been shown, each card is checked by number as it is
presented, and every answer is written (``--answers``) before it is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import Qt

from airgap.camera.frames import Frame, FrameSource
from airgap.errors import AirgapError, DecodeError
from airgap.qr.decode import Quad
from airgap.ur.ur import UR, Progress
from airgap.window.qr_view import Rendered
from appliance.card_files import card_from_payloads, parse_words
from appliance.cards import CardSet, PresentedCard, card_problem
from appliance.screen import TerminalScreen
from appliance.troubles import explain
from appliance.window.station_window import StationWindow, pump
from custody.errors import CustodyError
from custody.schemas.response import REFUSAL_UR_TYPE

Located = Callable[[npt.NDArray[np.uint8]], tuple[list[str], list[Quad]]]
DONE_KEYS = (Qt.Key.Key_D, Qt.Key.Key_Return, Qt.Key.Key_Enter)
#: Cards refused in one sitting before the window stops asking (the ceremony then refuses).
MAX_REFUSED_CARDS = 5


@dataclass
class WindowOptions:
    """How an unattended sitting (``--approve-with-cards``) differs, and where files go."""

    auto: bool = False  # confirmation answered by the automation; the review is still shown
    card_files: Sequence[PresentedCard] = ()  # presented first, one by one
    card_source: FrameSource | None = None  # a camera (or folder) that sees card QR codes
    answer_seconds: float | None = None  # how long an answer stays; None: until the done key
    answers: Path | None = None


class WindowScreen:
    def __init__(
        self,
        window: StationWindow,
        card_set: CardSet,
        identity: Callable[[], str],
        options: WindowOptions,
        log_refused_card: Callable[[str], None] = lambda reason: None,
        echo: TerminalScreen | None = None,
    ) -> None:
        self.window = window
        self.card_set = card_set
        self.identity = identity
        self.options = options
        self.log_refused_card = log_refused_card
        self.echo = echo  # a record of what the window showed, as the terminal would print it
        self._refusal = ""
        self._count = 0

    # -- scanning ---------------------------------------------------------------

    def scanning(self) -> None:
        if self.window.current != "scanning":
            self.window.scanning.progress.reset()
            self.window.show_page("scanning")
        self.window.scanning.identity.setText(self.identity())

    def frames(self, source: FrameSource) -> FrameSource:
        """``source`` with the window kept live between frames; it ends when the window closes."""
        return _LiveSource(source, self)

    def decoder(self, located: Located) -> Callable[[npt.NDArray[np.uint8]], list[str]]:
        """A frame decoder that also draws the frame, outlining the codes it found."""

        def decode(image: npt.NDArray[np.uint8]) -> list[str]:  # frames come through frames(): page up
            preview = self.window.scanning.preview
            try:
                texts, quads = located(image)
            except DecodeError:
                preview.show_frame(image, [])
                raise
            preview.show_frame(image, quads)
            pump()
            return texts

        return decode

    def progress(self, progress: Progress) -> None:
        page = self.window.scanning
        page.progress.update_progress(progress)
        page.set_status(f"READING: {progress.fraction:.0%} of the request", "wait")
        if progress.fraction > 0.3:
            self.window.screenshot("scanning")
        pump()

    # -- the ceremony's Screen --------------------------------------------------

    def say(self, text: str) -> None:
        if self.echo is not None:
            self.echo.say(text)
        if text.startswith("REFUSED: "):
            self._refusal = text.removeprefix("REFUSED: ")
        page = self.window.pages.get(self.window.current)
        if page is not None and self.window.current in ("scanning", "signing"):
            page.keys.setText(text[:200])
        pump()

    def review(self, lines: Sequence[str]) -> None:
        if self.echo is not None:
            self.echo.review(lines)
        self._refusal = ""
        verdict = next((line for line in reversed(lines) if "REFUSED" in line), None)
        if verdict is not None:
            page = self.window.refused
            page.show_refusal(verdict.split("REFUSED", 1)[1].strip(), lines)
            self.window.show_page("refused")
            return
        self.window.review.show_lines(lines)
        self.window.review.set_status("EVERY RULE PASSES: approval still needs the custodians' cards", "good")
        self.window.show_page("review")

    def confirm(self, question: str) -> bool:
        page = self.window.review
        page.set_status(f"EVERY RULE PASSES. {question}  A: approve · R: refuse", "wait")
        self.window.screenshot("review")
        if self.options.auto:
            page.keys.setText("[approved by --approve-with-cards: the review was shown]")
            self._echo(f"{question} [approved by --approve-with-cards]")
            pump()
            return True

        def readable(key: Qt.Key) -> bool:
            if key == Qt.Key.Key_A and not page.read_to_end():
                page.set_status("Read to the last line first (PgDn), then press A to approve", "wait")
                return False
            return True

        self.window.key_filter = readable
        try:
            pressed = self.window.wait_for((Qt.Key.Key_A, Qt.Key.Key_R, Qt.Key.Key_Escape))
        finally:
            self.window.key_filter = lambda key: True
        self._echo(f"{question} [{'approved with A' if pressed == Qt.Key.Key_A else 'refused'}]")
        return pressed == Qt.Key.Key_A

    def _echo(self, text: str) -> None:
        if self.echo is not None:
            self.echo.say(text)

    def step(self, text: str) -> None:
        if self.echo is not None:
            self.echo.step(text)
        if self.window.current != "signing":
            self.window.signing.start()
            self.window.show_page("signing")
        self.window.signing.add(text)
        pump()

    def trouble(self, error: Exception) -> None:
        if self.echo is not None:
            self.echo.trouble(error)
        self.window.error.show_trouble(explain(error))
        self.window.show_page("error")

    def show_answer(self, title: str, ur: UR) -> None:
        from airgap.qr.render import animation_frames

        self._count += 1
        rendered: Rendered | None = None
        if self.options.answers is not None:
            from airgap.link_defaults import WEBCAM_MAX_FRAGMENT
            from appliance.screen import save_answer

            frames = animation_frames(ur, WEBCAM_MAX_FRAGMENT)
            stem = save_answer(self.options.answers, self._count, ur, frames)
            self._echo(f"answer written to {stem}.cbor and {stem}/ ({len(frames)} frames)")
            # the answer screen shows these same frames, unless the keys changed its density
            rendered = (WEBCAM_MAX_FRAGMENT, frames)
        if ur.type == REFUSAL_UR_TYPE:
            name = "error" if self.window.current == "error" else "refused"
            page = self.window.error if name == "error" else self.window.refused
            if name == "refused" and self.window.current != "refused":
                page.show_refusal(self._refusal, [f"REFUSED: {self._refusal}"])
            page.show_answer(ur, rendered)
        else:
            if self.window.current == "signing":
                self.window.signing.finish()
                self.window.screenshot("signing")
            name = "answer"
            self.window.answer.show_message(title, ur, rendered)
        self.window.show_page(name)
        self.window.screenshot(name)
        if self.options.answer_seconds is not None or self.options.auto:
            self.window.pause(self.options.answer_seconds or 0.0)
        else:
            self.window.wait_for(DONE_KEYS)
        self.window.answer.qr.stop()
        self.window.refused.qr.stop()
        self.window.error.qr.stop()

    # -- cards ------------------------------------------------------------------

    def collect_cards(self, needed: int) -> list[PresentedCard]:
        """Cards as presented, each checked by number at once; only accepted ones are returned."""
        page = self.window.cards
        page.start(needed, self.card_set.count)
        self.window.show_page("cards")
        accepted: dict[int, PresentedCard] = {}
        refused = 0

        def present(offered: PresentedCard) -> None:
            nonlocal refused
            problem = card_problem(offered, self.card_set, tuple(accepted))
            if problem is None and offered.card is not None:
                accepted[offered.card.index] = offered
                page.record(f"ACCEPTED  card {offered.card.index}")
            else:
                refused += 1
                page.record(f"REFUSED   {problem}")
                self.log_refused_card(problem or "refused")
            left = needed - len(accepted)
            state = "good" if left <= 0 else "wait"
            page.set_status(
                f"{len(accepted)} accepted, {refused} refused; "
                + (f"{left} more card(s) needed" if left > 0 else "enough cards: going on to the HSM"),
                state,
            )
            pump()

        def done() -> bool:
            return len(accepted) >= needed or refused >= MAX_REFUSED_CARDS or self.window.closed

        for offered in self.options.card_files:
            if done():
                break
            present(offered)
        if not done() and self.options.card_source is not None:
            self._scan_cards(present, done)
        if not done() and not self.options.auto:
            self._type_cards(present, done)
        self.window.screenshot("cards")
        return list(accepted.values())

    def _scan_cards(self, present: Callable[[PresentedCard], None], done: Callable[[], bool]) -> None:
        from airgap.qr.decode import located_payloads

        assert self.options.card_source is not None
        seen: set[bytes] = set()
        for frame in self.options.card_source.frames():
            if done():
                return
            pump()
            if frame.image is None:
                continue
            try:
                texts, quads = located_payloads(frame.image)
            except AirgapError:
                continue
            self.window.cards.preview.show_frame(frame.image, quads)
            offered = card_from_payloads(texts, None)
            if offered.card is not None and offered.card.to_cbor() not in seen:
                seen.add(offered.card.to_cbor())
                present(offered)

    def _type_cards(self, present: Callable[[PresentedCard], None], done: Callable[[], bool]) -> None:
        page = self.window.cards
        page.number.setFocus()
        while not done():
            pressed = self.window.wait_for((Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape))
            if pressed in (None, Qt.Key.Key_Escape):
                return
            number, words = page.number.text().strip(), page.words.text()
            if not words.strip():  # Enter after the number: on to its words
                page.words.setFocus()
                continue
            page.words.clear()
            page.number.clear()
            page.number.setFocus()
            claimed = int(number) if number.isdigit() else None
            try:
                present(PresentedCard(claimed, parse_words(words)))
            except (AirgapError, CustodyError) as exc:
                present(PresentedCard(claimed, None, f"words do not read back ({exc})"))


class _LiveSource:
    def __init__(self, source: FrameSource, screen: WindowScreen) -> None:
        self.source = source
        self.screen = screen

    def frames(self) -> Iterator[Frame]:
        for frame in self.source.frames():
            if self.screen.window.closed:
                return
            self.screen.scanning()
            pump()
            yield frame

    def close(self) -> None:
        self.source.close()
