"""Anomalies over a station's history: bursts, amounts far from usual, new destinations (issue 12, 10)."""

from __future__ import annotations

from custody.schemas.request import Withdraw
from host.anomalies import anomalies
from tests.custody.schemas.fixtures import RULES, T0, request, vault

HOUR = 3600
V = vault()


def spend(n: int, at: int, amount: int = 40, destination: str = "xch1dest") -> tuple[int, int, object]:
    r = request(
        V, request_id=bytes([n]) * 16, action=Withdraw(asset="XCH", amount=amount, destination=destination)
    )
    return (n, at, r.core())


def kinds(items: list[tuple[int, int, object]]) -> list[str]:
    return [a.kind for a in anomalies(items, lambda _: RULES)]  # type: ignore[arg-type]


def test_an_honest_history_has_none() -> None:
    assert kinds([spend(n, T0 + n * 2 * HOUR, 40 + n) for n in range(1, 8)]) == []


def test_attack_10_identical_small_withdrawals_every_cooldown_stand_out() -> None:
    """Issue 12, defect 10: 1-base-unit withdrawals repeated every cooldown were all signed. The
    policy's minimum now refuses them; the audit also names the pattern."""
    usual = [spend(n, T0 + n * 2 * HOUR, 40) for n in range(1, 5)]
    probes = [spend(10 + n, T0 + 20 * HOUR + n * HOUR, 1) for n in range(3)]
    found = anomalies(usual + probes, lambda _: RULES)
    assert [a.kind for a in found].count("amount") == 3
    assert all("median of 40" in a.text for a in found if a.kind == "amount")


def test_a_burst_within_one_cooldown_is_named_once() -> None:
    items = [spend(n, T0 + n * 600, 40) for n in range(1, 5)]  # four in 40 minutes; cooldown 1 h
    assert kinds(items) == ["burst"]


def test_a_new_destination_after_a_baseline_is_named() -> None:
    items = [spend(1, T0, 40), spend(2, T0 + 2 * HOUR, 40), spend(3, T0 + 4 * HOUR, 40, "xch1new")]
    assert kinds(items) == ["destination"]
