"""SoftHSM fixtures: every test gets its own token directory through SOFTHSM2_CONF.

SoftHSM reads its configuration at C_Initialize, and a PKCS#11 module is
loaded once per process, so the fixture points SOFTHSM2_CONF at a fresh
directory and re-initialises the module. Tests that need it are marked
``hsm`` and skip (never fail at import) where SoftHSM is not installed.
(pytest-docker cannot host SoftHSM here: these machines run no Docker engine.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the kit imports this module (token_uri): its names are imported where used
    from custody.schemas.vault import VaultDefinition
    from tests.appliance.kit import Clock, SimStation

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
HAVE_SOFTHSM = os.path.isfile(SOFTHSM_MODULE)

requires_softhsm = pytest.mark.skipif(not HAVE_SOFTHSM, reason="SoftHSM2 is not installed (scripts/setup)")


def token_uri(label: str) -> str:
    return f"pkcs11:token={label}?module-path={SOFTHSM_MODULE}"


@pytest.fixture
def softhsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private SoftHSM token directory, live for this test only."""
    if not HAVE_SOFTHSM:
        pytest.skip("SoftHSM2 is not installed")
    from appliance.hsm.pkcs11_signer import load_module

    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    load_module(SOFTHSM_MODULE).reinitialize()
    yield tokens
    load_module(SOFTHSM_MODULE).reinitialize()


@pytest.fixture
def raw_token(softhsm: Path) -> tuple[str, str, str]:
    """A token made with softhsm2-util and known PINs: (uri, user PIN, SO PIN)."""
    from appliance.hsm import softhsm as softhsm_tool
    from appliance.hsm.pkcs11_signer import load_module

    softhsm_tool.create_token("raw", so_pin="so-pin-1234", user_pin="user-pin-1234")
    load_module(SOFTHSM_MODULE).reinitialize()
    return token_uri("raw"), "user-pin-1234", "so-pin-1234"


@pytest.fixture
def clock() -> Clock:
    from tests.appliance.kit import Clock

    return Clock()


@pytest.fixture
def hot(softhsm: Path, tmp_path: Path, clock: Clock) -> tuple[SimStation, VaultDefinition]:
    """One real station holding a 1-of-1 hot vault: its own signatures are the vault's whole history."""
    from tests.appliance.kit import HOUR, install, make_station, vault_of

    a = make_station(tmp_path, "st-a", clock)
    vault = vault_of([a.key()], threshold=1)
    install(a, vault)
    clock.advance(2 * HOUR)
    return a, vault
