"""Fuzz targets for each chain payload, through what the station does with it: parse, derive the
facts it reviews, decide under the installed vault's policy, and draw the review.

A payload that arrives compressed or wrapped (a Chia spend is zlib, a PSBT a
CBOR byte string) is fuzzed both ways: the first byte's low bit says whether
the rest is the bytes as received, or the inner form, which the target
wraps first so that mutations reach the structure inside.

The chain SDKs are imported by the target that needs them only (fuzz_child
imports one of ``fuzz_chia``, ``fuzz_evm``, ``fuzz_bitcoin``), so that
each target starts quickly; this module holds what they share.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from fuzz_common import judge, policy

from appliance import policy_store
from appliance.wallet_requests import Translated, Untranslatable

#: An envelope the station cannot translate is refused with Untranslatable, its own reason and code.
ENVELOPE_REFUSALS = (Untranslatable,)


def split_mode(data: bytes) -> tuple[bool, bytes]:
    """(whether the rest is the inner form, the rest)."""
    return (bool(data[0] & 1), data[1:]) if data else (False, b"")


@cache
def state_dir() -> Path:
    """A station's state folder with the EVM and Bitcoin vaults installed, for the wallet envelopes
    (ERC-4527, crypto-psbt), which the station matches to an installed vault by what they carry."""
    folder = Path(tempfile.mkdtemp(prefix="fuzz-station-"))
    for name in ("evm", "bitcoin"):
        policy_store.save(folder, policy(name))
    return folder


def judge_translated(translated: Translated) -> None:
    """The station's own request made from an envelope goes through the same policy and review."""
    judge(translated.policy, translated.request)
