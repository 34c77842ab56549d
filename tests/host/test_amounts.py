from __future__ import annotations

import pytest

from custody.schemas.vault import Asset
from host.amounts import parse_amount
from host.errors import UsageError

XCH = Asset(code="XCH", decimals=12)


@pytest.mark.parametrize(
    ("text", "base"),
    [
        ("1", 10**12),
        ("1.5", 15 * 10**11),
        ("1,250.000000000001 XCH", 1_250_000_000_000_001),
        ("0.10", 10**11),
        ("7 xch", 7 * 10**12),
    ],
)
def test_amounts_convert_exactly(text: str, base: int) -> None:
    assert parse_amount(text, XCH) == base


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0.0000000000001", "more decimals"),
        ("1e3", "not an amount"),
        ("-1", "not an amount"),
        ("0", "positive"),
        ("5 BTC", "names BTC"),
        ("", "not an amount"),
    ],
)
def test_amounts_that_are_not_exact_are_refused(text: str, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        parse_amount(text, XCH)
