"""The host window's tests share one host with a fleet of five software stations."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.host.gui.kit import make_host
from tests.host.kit import FakeStation, Host, stations


@pytest.fixture
def fleet() -> list[FakeStation]:
    return stations()


@pytest.fixture
def host(tmp_path: Path, fleet: list[FakeStation]) -> Host:
    return make_host(tmp_path, fleet)
