"""The station window's screens, one widget each; they draw, the station window decides.

Large type and high contrast come from the shared style. Every state is
also written in words (REFUSED, ACCEPTED, done), never colour alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from airgap.ur.ur import UR
from airgap.window.app import label, set_state
from airgap.window.preview import CameraPreview, ScanProgress
from airgap.window.qr_view import AnimatedQr, Rendered
from appliance.troubles import Trouble
from appliance.window.reading import grouped


class Page(QWidget):
    """A screen: a title, a status line in words, its body, and the keys that work on it."""

    def __init__(self, name: str, title: str, keys: str) -> None:
        super().__init__()
        self.name = name
        self.title = label(title, "title")
        self.status = label("", "status")
        self.keys = label(keys, "keys")
        self.body = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.status)
        layout.addLayout(self.body, 1)
        layout.addWidget(self.keys)

    def set_status(self, text: str, state: str) -> None:
        self.status.setText(text)
        set_state(self.status, state)


def _text_view() -> QPlainTextEdit:
    view = QPlainTextEdit()
    view.setReadOnly(True)
    view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
    view.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
    return view


class ScanningPage(Page):
    """The camera's view with found codes outlined, the decoder's progress, and who this station is."""

    def __init__(self) -> None:
        super().__init__("scanning", "SCANNING for a spend request", "Esc: end the sitting")
        self.identity = label("", wrap=True)
        self.preview = CameraPreview()
        self.progress = ScanProgress()
        row = QHBoxLayout()
        row.addWidget(self.preview, 3)
        row.addWidget(self.identity, 2)
        self.body.addLayout(row, 1)
        self.body.addWidget(self.progress)
        self.set_status("WAITING: hold the host's screen in front of the camera", "wait")


class ReviewPage(Page):
    """Every line of the request and every rule's result; approval only once the last line was shown."""

    def __init__(self, name: str = "review") -> None:
        keys = "A: approve (after the last line)  ·  R or Esc: refuse  ·  PgUp/PgDn: scroll"
        title = "REVIEW: read every line aloud" if name == "review" else "REFUSED: nothing will be signed"
        super().__init__(name, title, keys)
        self.text = _text_view()
        self.body.addWidget(self.text, 1)

    def show_lines(self, lines: Sequence[str]) -> None:
        self.text.setPlainText("\n".join(grouped(line) for line in lines))
        self.text.verticalScrollBar().setValue(0)

    def read_to_end(self) -> bool:
        bar = self.text.verticalScrollBar()
        return bar.value() >= bar.maximum()


class CardsPage(Page):
    """Each card accepted or refused by number as it is presented, and how many more are needed."""

    def __init__(self) -> None:
        super().__init__(
            "cards",
            "CARDS: present this station's custodian cards",
            "Show a card's QR to the camera, or type its number and words, then Enter  ·  Esc: stop",
        )
        self.preview = CameraPreview()
        self.results = QListWidget()
        self.number = QLineEdit()
        self.number.setPlaceholderText("card number")
        self.words = QLineEdit()
        self.words.setPlaceholderText("the card's words (not shown)")
        self.words.setEchoMode(QLineEdit.EchoMode.Password)
        typed = QHBoxLayout()
        typed.addWidget(self.number, 1)
        typed.addWidget(self.words, 4)
        row = QHBoxLayout()
        row.addWidget(self.preview, 2)
        row.addWidget(self.results, 3)
        self.body.addLayout(row, 1)
        self.body.addLayout(typed)

    def start(self, needed: int, count: int) -> None:
        self.results.clear()
        self.number.clear()
        self.words.clear()
        self.preview.setText("no card camera")
        self.set_status(f"{needed} card(s) of {count} needed; none presented yet", "wait")

    def record(self, text: str) -> None:
        self.results.addItem(text)
        self.results.scrollToBottom()


class SigningPage(Page):
    """The steps inside the HSM session as they happen; each earlier one marked done."""

    def __init__(self) -> None:
        super().__init__("signing", "SIGNING", "Nothing to press: the HSM is working")
        self.steps = QListWidget()
        self.body.addWidget(self.steps, 1)
        self._texts: list[str] = []

    def start(self) -> None:
        self._texts = []
        self.steps.clear()
        self.set_status("WORKING: do not remove the HSM", "wait")

    def add(self, text: str) -> None:
        self._texts.append(text)
        self._draw(len(self._texts) - 1)

    def finish(self) -> None:
        self._draw(len(self._texts))
        self.set_status("DONE: signed, logged and sealed", "good")

    def _draw(self, done: int) -> None:
        self.steps.clear()
        for number, step in enumerate(self._texts):
            self.steps.addItem(f"{'done' if number < done else 'now '}   {step}")


class AnswerPage(Page):
    """The animated answer QR, as large as the screen allows."""

    def __init__(self) -> None:
        super().__init__(
            "answer",
            "SIGNED: show this to the host's camera",
            "D or Enter: done  ·  Up/Down: density  ·  Left/Right: frame rate",
        )
        self.qr = AnimatedQr(density=1500)
        self.body.addWidget(self.qr, 1)

    def show_message(self, title: str, ur: UR, rendered: Rendered | None = None) -> None:
        self.set_status(f"{title.upper()}: logged and sealed before it was shown", "good")
        self.qr.show_message(ur, rendered)
        self.qr.setFocus()


class OutcomePage(Page):
    """A refusal (``refused``) or a station fault (``error``): what happened, what it means, what to do,
    and the refusal's QR for the host."""

    def __init__(self, name: str) -> None:
        title = "REFUSED: nothing was signed" if name == "refused" else "STATION ERROR: nothing was signed"
        super().__init__(name, title, "D or Enter: done  ·  PgUp/PgDn: scroll")
        self.text = _text_view()
        self.qr = AnimatedQr(density=1500)
        row = QHBoxLayout()
        row.addWidget(self.text, 3)
        row.addWidget(self.qr, 2)
        self.body.addLayout(row, 1)

    def show_refusal(self, reason: str, lines: Sequence[str]) -> None:
        self.set_status(f"REFUSED {reason}" if reason.startswith("(") else f"REFUSED: {reason}", "bad")
        self.text.setPlainText("\n".join(grouped(line) for line in lines))

    def show_trouble(self, trouble: Trouble) -> None:
        self.title.setText(f"STATION ERROR: {trouble.title}")
        self.set_status(f"{trouble.title.upper()}: nothing was signed", "bad")
        self.text.setPlainText(
            f"What it means:\n  {trouble.meaning}\n\n"
            f"What to do:\n  {trouble.action}\n\n"
            f"Detail:\n  {trouble.detail}"
        )

    def show_answer(self, ur: UR, rendered: Rendered | None = None) -> None:
        self.qr.show_message(ur, rendered)
        self.qr.setFocus()
