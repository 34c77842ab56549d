"""The demo's virtual display: a real X server (Xvfb) the station window fills, stopped afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import demo_display  # scripts, found through the path above
from demo_display import Screens, virtual_display

needs_xvfb = pytest.mark.skipif(
    subprocess.run(["which", "Xvfb"], capture_output=True).returncode != 0,
    reason="Xvfb is not installed (scripts/setup installs it)",
)

WINDOW = """
import sys
from pathlib import Path
from appliance.window.station_window import StationWindow
from PySide6.QtGui import QGuiApplication
window = StationWindow("st-x", Path(sys.argv[1]))
window.open()
window.screenshot("scanning")
print(QGuiApplication.platformName(), window.isFullScreen())
"""


@needs_xvfb
def test_the_station_window_fills_a_real_x_display(tmp_path: Path) -> None:
    before = (os.environ.get("DISPLAY"), os.environ.get("QT_QPA_PLATFORM"))
    with virtual_display() as display:
        assert os.environ["DISPLAY"] == display and os.environ["QT_QPA_PLATFORM"] == "xcb"
        shown = subprocess.run(
            [sys.executable, "-c", WINDOW, str(tmp_path)], capture_output=True, text=True, timeout=120
        )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == ["xcb", "True"]
    with Image.open(tmp_path / "scanning.png") as shot:
        assert shot.size == (1280, 800)  # the whole virtual screen
    assert (os.environ.get("DISPLAY"), os.environ.get("QT_QPA_PLATFORM")) == before
    assert not Path(f"/tmp/.X11-unix/X{display[1:]}").exists()  # the server is gone


def test_no_xvfb_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_display.shutil, "which", lambda name: None)
    with pytest.raises(demo_display.DisplayUnavailable, match="Xvfb is not installed"), virtual_display():
        pass


def test_the_first_showing_of_each_screen_is_kept(tmp_path: Path) -> None:
    screens = Screens(tmp_path / "screens")
    for names in (("scanning", "review"), ("review", "refused")):
        folder = Path(screens.args()[1])
        folder.mkdir(parents=True)
        for name in names:
            (folder / f"{name}.png").write_text(f"run {screens.count}")
        screens.gather()
    kept = {p.name: p.read_text() for p in (tmp_path / "screens").glob("*.png")}
    assert kept == {"scanning.png": "run 1", "review.png": "run 1", "refused.png": "run 2"}
