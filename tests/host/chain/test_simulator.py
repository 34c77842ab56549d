"""The embedded chain: a seeded Simulator persisted as the log of what was done to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from chia_wallet_sdk import Coin, CoinSpend, Signature, SpendBundle

from custody.chains.chia.custody import custody_hash, p2_puzzle_hash
from host.chain.backend import current_vault
from host.chain.simulator import SimulatorBackend
from host.errors import ChainRejected, ChainUnavailable
from tests.custody.chains.chia.kit import T0, XCH, keys

CUSTODY = custody_hash(tuple(k.vault_key for k in keys(3)), 2)


def test_separate_commands_see_one_chain(tmp_path: Path) -> None:
    log = tmp_path / "sim.cbor"
    launcher = SimulatorBackend(log, T0).mint(CUSTODY, [60 * XCH, 40 * XCH])
    SimulatorBackend(log, T0 + 60).fund(p2_puzzle_hash(launcher), 5 * XCH, launcher)
    later = SimulatorBackend(log, T0 + 120)
    assert sorted(c.amount for c in later.coins(p2_puzzle_hash(launcher))) == [5 * XCH, 40 * XCH, 60 * XCH]
    assert current_vault(later, launcher, [CUSTODY]).custody == CUSTODY
    assert later.now() >= T0 + 120


def test_a_refused_spend_is_not_logged(tmp_path: Path) -> None:
    log = tmp_path / "sim.cbor"
    SimulatorBackend(log, T0).mint(CUSTODY, [XCH])
    before = log.read_bytes()
    stray = SpendBundle([CoinSpend(Coin(bytes(32), bytes(32), 1), b"\x80", b"\x80")], Signature.infinity())
    with pytest.raises(ChainRejected):
        SimulatorBackend(log, T0).push(stray)
    assert log.read_bytes() == before


@pytest.mark.parametrize("damage", ["truncated", "garbage", "unknown-op", "short-op"])
def test_attack_a_damaged_log_is_a_clear_error(tmp_path: Path, damage: str) -> None:
    log = tmp_path / "sim.cbor"
    SimulatorBackend(log, T0).mint(CUSTODY, [XCH])
    data = log.read_bytes()
    log.write_bytes(
        {
            "truncated": data[:-5],
            "garbage": data + b"\xff\x00",
            "unknown-op": data + bytes.fromhex("8263666f6f01"),  # ["foo", 1]
            "short-op": data + bytes.fromhex("82646d696e7401"),  # ["mint", 1]: no arguments
        }[damage]
    )
    with pytest.raises(ChainUnavailable, match=r"damaged at op [12]"):
        SimulatorBackend(log, T0)
