"""Shared fixtures: vector loading, seeded randomness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run and machine: failures reproduce.
settings.register_profile("deterministic", derandomize=True, deadline=None, database=None)
settings.load_profile("deterministic")

VECTORS = Path(__file__).parent / "vectors"


def load_vectors(name: str) -> Any:
    """A vector file under tests/vectors, parsed as JSON."""
    return json.loads((VECTORS / name).read_text())


@pytest.fixture
def vectors() -> Any:
    return load_vectors
