"""The first screen: the vaults with their balances, and the requests still open, per station.

An operator walking to the vault room needs to know which stations still have
to sign; so each request's row names every station of its vault and says, in
words, whether it signed, refused (and why) or has not answered yet.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from airgap.window.app import label, set_state
from host.gui.actions import Outcome, RequestLine, VaultLine

#: The buttons of this screen, their keys, and the action each performs.
BUTTONS = (
    ("show", "[S] Show"),
    ("scan", "[C] Scan"),
    ("finalize", "[F] Finalize"),
    ("verify", "[V] Verify"),
    ("refresh", "[R] Refresh"),
    ("quit", "[Esc] Quit"),
)
KEYS = "Keys: Up/Down choose a request · S show · C scan · F finalize · V verify · R refresh · Esc quit"


def _table(headers: list[str], stretch: int) -> QTableWidget:
    """A read-only table of whole rows; column ``stretch`` takes the room left (and elides), the others
    fit their contents."""
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


def _fill(table: QTableWidget, rows: list[list[str]], fit: int = 0) -> None:
    """``rows`` into ``table``; with ``fit``, the table is no taller than that many rows need, so the
    room goes to the stations' answers."""
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            table.setItem(r, c, QTableWidgetItem(text))
    if fit:
        shown = max(1, min(fit, len(rows)))
        height = table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
        height += shown * table.verticalHeader().defaultSectionSize()
        table.setMaximumHeight(height + table.horizontalScrollBar().sizeHint().height())


class RequestsView(QWidget):
    """Vaults, requests, the chosen request's stations, the action buttons and the last result."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vaults = _table(["vault", "quorum", "chain", "balance"], 2)
        self.requests = _table(["request", "vault", "what", "signed", "state"], 2)
        self.requests.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.requests.itemSelectionChanged.connect(self._chosen)
        self.stations = _table(["station", "answer"], 1)
        self.stations.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.stations_title = label("Stations", "title")
        self.buttons = {name: QPushButton(text) for name, text in BUTTONS}
        self.status = label("Choose a request (Up/Down), then press a key.", "status")
        set_state(self.status, "wait")
        self.result = QPlainTextEdit(readOnly=True)
        self.result.setPlaceholderText("the result of the last action appears here")
        self.lines: list[RequestLine] = []
        buttons = QGridLayout()
        for i, button in enumerate(self.buttons.values()):
            buttons.addWidget(button, i // 3, i % 3)
        layout = QVBoxLayout(self)
        layout.addWidget(label("Vaults", "title"))
        layout.addWidget(self.vaults, 1)
        layout.addWidget(label("Requests", "title"))
        layout.addWidget(self.requests, 2)
        layout.addWidget(self.stations_title)
        layout.addWidget(self.stations, 3)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.result, 1)
        layout.addWidget(label(KEYS, "keys"))

    def show_vaults(self, vaults: list[VaultLine]) -> None:
        rows = [[v.vault_id, v.quorum, v.chain, v.balance.headline] for v in vaults]
        _fill(self.vaults, rows or [["no vault in the registry", "", "", ""]], fit=4)

    def show_requests(self, lines: list[RequestLine], select: str | None = None) -> None:
        """Fill the list, keeping the chosen request (``select``, an id) chosen."""
        select = select or self.selected()
        self.lines = lines
        rows = [
            [line.request_id[:8], line.vault_id, line.summary, line.signatures, line.state] for line in lines
        ]
        _fill(self.requests, rows, fit=6)
        index = next((i for i, line in enumerate(lines) if line.request_id == select), 0)
        if lines:
            self.requests.selectRow(index)
            self._chosen()
        else:
            _fill(self.stations, [])
            self.say(Outcome.of(False, ["No open request: build one with 'host request …'."]), "wait")

    def _chosen(self) -> None:
        """The chosen request's stations, each signed, refused (with why) or not yet, in words."""
        row = self.requests.currentRow()
        if not 0 <= row < len(self.lines):
            return
        line = self.lines[row]
        self.stations_title.setText(f"Stations, request {line.request_id[:8]}")
        _fill(self.stations, [[station, what] for station, what in line.stations])

    def selected(self) -> str | None:
        """The chosen request's id, or None when the list is empty."""
        row = self.requests.currentRow()
        return self.lines[row].request_id if 0 <= row < len(self.lines) else None

    def say(self, outcome: Outcome, state: str | None = None) -> None:
        """An action's result: its headline in the status line (coloured and in words), all its lines
        below."""
        self.status.setText(outcome.headline)
        set_state(self.status, state or ("good" if outcome.ok else "bad"))
        self.result.setPlainText("\n".join(outcome.lines))
