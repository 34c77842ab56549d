"""A registry with a 3-of-5 statement vault, a withdrawal, and stations' answers, for the window's tests."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QTableWidget, QWidget

from custody.schemas.request import SpendRequest
from host.cli import create_parser
from host.context import Context
from host.gui.window import HostWindow, Options
from host.registry import Registry
from tests.custody.schemas.fixtures import T0
from tests.host.kit import HOUR, FakeStation, Host, answer_frames, create_vault, enrol_all, response_ur


def make_host(folder: Path, fleet: list[FakeStation]) -> Host:
    host = Host(folder, now=T0)
    enrol_all(host, folder, fleet)
    create_vault(host, fleet)
    host.now = T0 + 2 * HOUR  # past the cooldown that runs from the vault's creation
    return host


def withdraw(host: Host, amount: str = "10") -> SpendRequest:
    code, out, err = host("request", "withdraw", "cold", "--amount", amount, "--to", "xch1dest", "--json")
    assert code == 0, err
    with Registry(host.registry) as reg:
        return reg.find_request(json.loads(out)["request_id"]).request


@contextmanager
def window(host: Host, *argv: str) -> Iterator[tuple[HostWindow, Context]]:
    """The window as ``host gui ARGV`` opens it, on the offscreen display, closed afterwards."""
    args = create_parser().parse_args(["gui", *argv, f"--registry={host.registry}"])
    ctx = Context(args, io.StringIO(), io.StringIO(), lambda: host.now)
    win = HostWindow(ctx, Options.from_args(args))
    select = ctx.registry.find_request(args.request).request.request_id.hex() if args.request else None
    try:
        screen = QApplication.primaryScreen()
        assert screen is not None
        win.open_on(screen, select)
        yield win, ctx
    finally:
        win.close()
        ctx.close()


def pixels(widget: QWidget) -> npt.NDArray[np.uint8]:
    """What ``widget`` shows, as a grey image a QR decoder reads."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    data = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return data[:, : image.width()].copy()


def collect(
    host: Host, folder: Path, fleet: list[FakeStation], request: SpendRequest, who: tuple[int, ...]
) -> None:
    """Stations ``who`` (indexes into ``fleet``) sign ``request``, and ``host collect`` takes them."""
    urs = [response_ur(fleet[i].sign(request, host.now)) for i in who]
    code, out, err = host("collect", str(answer_frames(urs, folder)), "--in-process-decoder")
    assert code == 0, out + err


def cells(table: QTableWidget, row: int) -> list[str]:
    return [table.item(row, c).text() for c in range(table.columnCount())]
