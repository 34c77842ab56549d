"""The station's display, behind a small interface: a terminal here, a window in ``appliance.window``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from airgap.ur.ur import UR
from appliance.troubles import explain

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class Screen(Protocol):
    def say(self, text: str) -> None: ...

    def review(self, lines: Sequence[str]) -> None: ...

    def confirm(self, question: str) -> bool:
        """The custodians' answer to ``question``; False means stop."""
        ...

    def step(self, text: str) -> None:
        """A signing step as it happens (HSM login, seal checks, signing, logging)."""
        ...

    def trouble(self, error: Exception) -> None:
        """A station fault: what it means and what to do, before the refusal that follows it."""
        ...

    def show_answer(self, title: str, ur: UR) -> None: ...


def save_answer(folder: Path, number: int, ur: UR, frames: Sequence[npt.NDArray[np.uint8]]) -> Path:
    """An answer as CBOR and PNG frames under ``folder``, numbered in the order shown."""
    from airgap.qr.sinks import write_png_folder

    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{number:03d}-{ur.type}"
    stem.with_suffix(".cbor").write_bytes(ur.cbor)
    write_png_folder(frames, stem)
    return stem


class TerminalScreen:
    """Text on a terminal; answers as animated QR frames on disk, a window, or terminal blocks.

    ``confirm`` asks the custodians to type ``approve``; with ``auto_confirm``
    (the ``--approve-with-cards`` mode) it records that the review was shown
    and answers yes without asking.
    """

    def __init__(
        self,
        out: TextIO,
        *,
        ask: Callable[[str], str] = input,
        auto_confirm: bool = False,
        answers: Path | None = None,
        show: str = "none",
        fps: float = 10.0,
    ) -> None:
        self.out = out
        self.ask = ask
        self.auto_confirm = auto_confirm
        self.answers = answers
        self.show = show
        self.fps = fps
        self.shown: list[Path] = []
        self._count = 0

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def review(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.say(line)

    def confirm(self, question: str) -> bool:
        if self.auto_confirm:
            self.say(f"{question} [approved by --approve-with-cards]")
            return True
        return (
            self.ask(f"{question} Type 'approve' to continue, anything else to refuse: ").strip() == "approve"
        )

    def step(self, text: str) -> None:
        self.say(f"  - {text}")

    def trouble(self, error: Exception) -> None:
        trouble = explain(error)
        self.say(f"{trouble.title.upper()}: {trouble.meaning}")
        self.say(f"  what to do: {trouble.action}")

    def show_answer(self, title: str, ur: UR) -> None:
        from airgap.link_defaults import DEFAULT_ANIMATION_PASSES, DEFAULT_MODULE_PX, WEBCAM_MAX_FRAGMENT
        from airgap.qr.render import RenderSettings, qr_matrix, render_frames
        from airgap.qr.sinks import print_terminal, show_window
        from airgap.ur.ur import parts_for_message

        # The host reads answers with a webcam: the denser 720p fragment size applies.
        texts = parts_for_message(ur, WEBCAM_MAX_FRAGMENT, passes=DEFAULT_ANIMATION_PASSES)
        self._count += 1
        self.say(f"{title}: {len(set(texts))} QR part(s)")
        frames = render_frames(texts, RenderSettings(module_px=DEFAULT_MODULE_PX))
        if self.answers is not None:
            stem = save_answer(self.answers, self._count, ur, frames)
            self.shown.append(stem)
            self.say(f"answer written to {stem}.cbor and {stem}/ ({len(frames)} frames)")
        if self.show == "terminal":
            for text in dict.fromkeys(texts):
                print_terminal(qr_matrix(text), self.out)
        elif self.show == "window":
            show_window(frames, self.fps, title=title)
