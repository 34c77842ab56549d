"""Amounts as operators type them (whole units, '1,250.5 XCH') to base units, exactly; no floats."""

from __future__ import annotations

import re

from custody.schemas.vault import MAX_AMOUNT, Asset
from host.errors import UsageError

_AMOUNT = re.compile(r"^\s*(\d[\d,_]*)(?:\.(\d+))?(?:\s+([A-Za-z][A-Za-z0-9]*))?\s*$")


def parse_amount(text: str, asset: Asset, *, zero: bool = False) -> int:
    """``zero``: 0 is allowed (a fee cap), else an amount is positive."""
    match = _AMOUNT.match(text)
    if not match:
        raise UsageError(f"{text!r} is not an amount (write e.g. 1250.5 or '1,250.5 {asset.code}')")
    whole, frac, code = (
        match.group(1).replace(",", "").replace("_", ""),
        match.group(2) or "",
        match.group(3) or "",
    )
    if code and code.upper() != asset.code.upper():
        raise UsageError(f"{text!r} names {code}, but the vault holds {asset.code}")
    frac = frac.rstrip("0")
    if len(frac) > asset.decimals:
        raise UsageError(f"{text!r} has more decimals than {asset.code}'s {asset.decimals}")
    amount: int = int(whole) * 10**asset.decimals + (int(frac.ljust(asset.decimals, "0")) if frac else 0)
    if not (0 if zero else 1) <= amount <= MAX_AMOUNT:
        what = "non-negative" if zero else "positive"
        raise UsageError(f"{text!r}: an amount must be {what} and at most {MAX_AMOUNT} base units")
    return amount
