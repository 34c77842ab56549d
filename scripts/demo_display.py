"""The demo's windows: a virtual X display (Xvfb) for them, and their screenshots gathered in one place.

``scripts/demo --ui window`` shows every station's ceremony, and the host's
scanning of the answers, in the real windows on Xvfb, the X server the
machine's set-up installs. Each run writes its own screenshots; the first of
each screen is kept under DIR/screens/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from demo_transcript import Transcript, contains

#: The virtual screen: the station window fills it, so screenshots are this size.
SCREEN = "1280x800x24"
DISPLAYS = range(90, 130)


class DisplayUnavailable(RuntimeError):
    """No X server for the windows: Xvfb is missing or would not start."""


def _free_display() -> int:
    for number in DISPLAYS:
        if not Path(f"/tmp/.X{number}-lock").exists() and not Path(f"/tmp/.X11-unix/X{number}").exists():
            return number
    raise DisplayUnavailable(f"no free X display number in :{DISPLAYS.start}..:{DISPLAYS.stop - 1}")


@contextmanager
def virtual_display() -> Iterator[str]:
    """An Xvfb display for the duration, as DISPLAY with Qt on xcb; stopped and the environment restored
    after."""
    if shutil.which("Xvfb") is None:
        raise DisplayUnavailable("Xvfb is not installed (scripts/setup installs it)")
    number = _free_display()
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", SCREEN, "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    saved = {name: os.environ.get(name) for name in ("DISPLAY", "QT_QPA_PLATFORM")}
    try:
        socket = Path(f"/tmp/.X11-unix/X{number}")
        deadline = time.monotonic() + 15
        while not socket.exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise DisplayUnavailable(f"Xvfb :{number} did not start")
            time.sleep(0.05)
        os.environ["DISPLAY"] = f":{number}"
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        yield f":{number}"
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class Screens:
    """Each window run's screenshots in a folder of its own; the first of each screen kept in DIR/screens."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.runs = folder / "runs"
        self.count = 0

    def args(self) -> list[str]:
        """What a run is given: its own screenshot folder."""
        self.count += 1
        return ["--screenshots", str(self.runs / f"{self.count:03d}")]

    def gather(self) -> list[str]:
        """The new screens of the last run, copied up if no earlier run showed them; their names."""
        new = []
        for shot in sorted((self.runs / f"{self.count:03d}").glob("*.png")):
            kept = self.folder / shot.name
            if not kept.exists():
                shutil.copyfile(shot, kept)
                new.append(shot.stem)
        return new


class _Demo(Protocol):
    screens: Screens | None
    t: Transcript

    def host(
        self, argv: Sequence[str], lines: list[str], show: Callable[[str], bool] | None = None
    ) -> str: ...


def host_window_show(demo: _Demo, request_id: str, name: str) -> None:
    """The host's window lists the requests and shows this one's QR full screen (once per demo)."""
    screens = demo.screens
    if screens is None or (screens.folder / "show.png").exists():
        return
    with demo.t.step("host", f"the host's window lists the requests and shows the {name}") as lines:
        demo.host(
            ["gui", "--request", request_id[:8], "--script", "show", *screens.args()],
            lines,
            show=contains("show:"),
        )
        lines.append(f"the window's screens kept in screens/: {', '.join(screens.gather()) or 'none new'}")


def host_window_scan(demo: _Demo, sources: Sequence[str]) -> str:
    """The host's window scans each answer with its preview and progress, judged as ``collect`` does."""
    screens = demo.screens
    assert screens is not None
    texts = []
    with demo.t.step("host", f"scan the {len(sources)} answers back in the host's window") as lines:
        for source in sources:
            texts.append(
                demo.host(
                    ["gui", "--source", source, "--script", "scan", *screens.args()],
                    lines,
                    show=contains("ACCEPTED", "REFUS", "REJECTED"),
                )
            )
            screens.gather()
    return "\n".join(texts)
