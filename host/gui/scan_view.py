"""The third screen: what the camera sees, how far the current answer has come, and each verdict.

The operator holds a station's screen up to the camera; the preview outlines
every code found, so a code the camera cannot read is visible as one without
an outline, and each answer's line is the one ``host collect`` prints.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PySide6.QtWidgets import QApplication, QHBoxLayout, QPlainTextEdit, QVBoxLayout, QWidget

from airgap.qr.decode import Quad
from airgap.ur.ur import Progress
from airgap.window.app import label, set_state
from airgap.window.preview import CameraPreview, ScanProgress
from host.collect import Judgement, Status
from host.commands.collecting import answer_line

KEYS = "Keys: Esc stop scanning · Esc again back to the requests"


class ScanView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = label("Scanning answers", "title")
        self.preview = CameraPreview()
        self.progress = ScanProgress()
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setPlaceholderText("each answer read appears here, accepted or rejected with its reason")
        self.status = label("", "status")
        self.stopping = False
        row = QHBoxLayout()
        row.addWidget(self.preview, 1)
        row.addWidget(self.log, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(row, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(label(KEYS, "keys"))

    def start(self, spec: str) -> None:
        self.stopping = False
        self.title.setText(f"Scanning answers from {spec}")
        self.log.clear()
        self.progress.reset()
        self.status.setText("SCANNING: hold each station's answer up to the camera")
        set_state(self.status, "wait")

    def frame(self, image: npt.NDArray[np.uint8], quads: list[Quad]) -> None:
        """Called for every frame decoded: the preview follows the camera while the scan runs."""
        self.preview.show_frame(image, quads)
        QApplication.processEvents()

    def advanced(self, progress: Progress) -> None:
        self.progress.update_progress(progress)
        QApplication.processEvents()

    def answer(self, judgement: Judgement) -> None:
        self.log.appendPlainText(answer_line(judgement))
        self.progress.reset()
        QApplication.processEvents()

    def finish(self, judgements: list[Judgement], summary: list[str]) -> None:
        """The sitting's verdict in words and colour: rejected answers are bad, nothing read is still
        waiting for something."""
        ok = accepted(judgements)
        word = "DONE" if ok else "DONE, WITH REJECTED ANSWERS"
        self.status.setText(f"{word}: {summary[0]}" if summary else word)
        set_state(self.status, "wait" if not judgements else "good" if ok else "bad")
        self.progress.text.setText("stopped" if self.stopping else "the frames ended")
        if len(summary) > 1:
            self.log.appendPlainText("\n".join(summary[1:]))

    def failed(self, text: str) -> None:
        """The source could not be read (no such camera or folder): said, in the operator's words."""
        self.status.setText(text)
        set_state(self.status, "bad")
        self.progress.text.setText("nothing more can be read from this source")


def accepted(judgements: list[Judgement]) -> bool:
    """A sitting holds when nothing was rejected, as ``host collect``'s exit code says."""
    return not any(j.status is Status.REJECTED for j in judgements)
