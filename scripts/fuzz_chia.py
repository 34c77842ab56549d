"""Fuzz target for a Chia spend: the zlib payload a request carries, judged as the station does."""

from __future__ import annotations

import zlib

from fuzz_chains import split_mode
from fuzz_common import REFUSALS, judge, policy, require, with_payload

from custody.chains.chia.payload import inflate, parse_payload


def chia_spend(data: bytes) -> None:
    """Low bit of the first byte set: the rest is the payload's CBOR, compressed here first."""
    inner, rest = split_mode(data)
    payload = zlib.compress(rest, 1) if inner else rest
    try:
        parsed = parse_payload(payload)
        request = with_payload("chia", payload)
    except REFUSALS:
        return
    require(zlib.decompress(parsed.to_bytes()) == inflate(payload), "chia payload re-encodes")
    judge(policy("chia"), request)
