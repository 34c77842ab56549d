"""The other coordinators' envelopes a station reads, by UR type, and how each becomes its own request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from appliance import eth_sign, psbt_sign
from appliance.wallet_requests import Translated
from custody.chains.bitcoin.ur import PSBT_UR_TYPES
from custody.chains.evm.erc4527 import SIGN_REQUEST_UR_TYPE

WALLET_ENVELOPES: dict[str, Callable[[Path, str, bytes, int], Translated]] = {
    SIGN_REQUEST_UR_TYPE: eth_sign.translate,
    **{ur_type: psbt_sign.translate for ur_type in PSBT_UR_TYPES},
}
