"""Fuzz target for a PSBT: as a ``crypto-psbt`` UR from Sparrow or Specter, and as the payload of
the station's own request, each judged as the station does."""

from __future__ import annotations

from fuzz_chains import ENVELOPE_REFUSALS, judge_translated, split_mode, state_dir
from fuzz_common import REFUSALS, judge, policy, require, station_now, template, with_payload

from appliance.psbt_sign import translate
from custody.chains.bitcoin.psbt import read
from custody.chains.bitcoin.ur import decode_psbt_ur, encode_psbt_ur


def psbt(data: bytes) -> None:
    """Low bit of the first byte set: the rest is the PSBT itself, wrapped in its UR's CBOR here."""
    inner, rest = split_mode(data)
    cbor = encode_psbt_ur(rest) if inner else rest
    try:
        raw = decode_psbt_ur(cbor)
    except REFUSALS:
        return
    require(encode_psbt_ur(raw) == cbor, "the PSBT UR re-encodes")
    try:
        parsed = read(raw)
    except REFUSALS:
        return
    require(parsed.encode() == raw, "the PSBT re-encodes from its maps")
    now = station_now(template("bitcoin"))
    try:
        translated = translate(state_dir(), "crypto-psbt", cbor, now)
    except REFUSALS + ENVELOPE_REFUSALS:
        pass
    else:
        judge_translated(translated)
    try:
        request = with_payload("bitcoin", raw)
    except REFUSALS:
        return
    judge(policy("bitcoin"), request)
