"""Run one ceremony and SIGKILL this process at a named point: ``python -m tests.appliance.crash_station
STATE CARDS_DIR REQUEST.cbor POINT NOW``. Used by the crash tests; not a test itself."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from airgap.ur.ur import UR
from appliance.card_files import read_card_file
from appliance.ceremony import Ceremony
from appliance.station import Station
from custody.schemas.request import UR_TYPE
from tests.appliance.kit import RecordingScreen


def main() -> None:
    state, cards_dir, request_file, point, now = sys.argv[1:6]

    def fault(reached: str) -> None:
        if reached == point:
            os.kill(os.getpid(), signal.SIGKILL)

    station = Station(Path(state), clock=lambda: int(now))
    cards = [read_card_file(Path(cards_dir) / f"card-{n}.txt") for n in (1, 2)]
    ceremony = Ceremony(station, screen=RecordingScreen(), cards=lambda _: cards, fault=fault)
    ceremony.handle(UR(UR_TYPE, Path(request_file).read_bytes()))
    print("ANSWER SHOWN")  # reached only if the kill point was never hit


if __name__ == "__main__":
    main()
