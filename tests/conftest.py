"""Shared fixtures: vector loading, seeded randomness."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run and machine: failures reproduce.
settings.register_profile("deterministic", derandomize=True, deadline=None, database=None)
settings.load_profile("deterministic")

# Windows render offscreen: the suite runs headless; the demo shows them on Xvfb.
os.environ["QT_QPA_PLATFORM"] = "offscreen"

VECTORS = Path(__file__).parent / "vectors"


def load_vectors(name: str) -> Any:
    """A vector file under tests/vectors, parsed as JSON."""
    return json.loads((VECTORS / name).read_text())


@pytest.fixture
def vectors() -> Any:
    return load_vectors


@pytest.fixture(scope="session")
def regtest(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One litecoind regtest node (Bitcoin's segwit v0 rules) on 127.0.0.1 for the whole run, stopped
    at its end; tests fund their own vault scripts on it, so they do not see each other's coins."""
    import shutil

    from host.chain.bitcoin_regtest import RegtestNode

    if shutil.which("litecoind") is None:
        pytest.skip("litecoind is not installed (scripts/setup)")
    node = RegtestNode(tmp_path_factory.mktemp("regtest"))
    node.start()
    try:
        yield node
    finally:
        node.stop()
