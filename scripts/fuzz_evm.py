"""Fuzz targets for a Safe: the SafeTx a request carries, and MetaMask's and Rabby's ERC-4527
``eth-sign-request``, each judged as the station does."""

from __future__ import annotations

from dataclasses import replace

from fuzz_chains import ENVELOPE_REFUSALS, judge_translated, state_dir
from fuzz_common import REFUSALS, judge, policy, require, template, with_payload

from appliance.eth_sign import translate
from custody.chains.evm.erc4527 import (
    SIGN_REQUEST_UR_TYPE,
    EthSignRequest,
    encode_sign_request,
    parse_sign_request,
    typed_data_json,
)
from custody.chains.evm.safe_tx import parse_payload


def safe_tx(data: bytes) -> None:
    """A SafeTx payload (canonical CBOR): parsed, then decided and reviewed under the Safe vault."""
    try:
        tx = parse_payload(data)
        request = replace(with_payload("evm", data), sequence=tx.nonce)
    except REFUSALS:
        return
    require(tx.to_payload() == data, "SafeTx re-encodes")
    judge(policy("evm"), request)


def _components(keypath: str) -> list[int | bool]:
    """The crypto-keypath components of ``m/44'/60'/…`` as parsed."""
    out: list[int | bool] = []
    for step in keypath.removeprefix("m/").split("/") if keypath != "m/" else []:
        out += [int(step.rstrip("'")), step.endswith("'")]
    return out


def eth_sign_request(data: bytes) -> None:
    """An ``eth-sign-request`` translated by the station (its vault found by chain and Safe), then
    decided and reviewed. Not a canonical format (any CBOR map order): the value must round-trip."""
    try:
        wire = parse_sign_request(data)
    except REFUSALS:
        return
    components = _components(wire.keypath)
    back = parse_sign_request(encode_sign_request(wire, components))
    if not components:  # "m/" (no components, or a keypath map without key 1): the writer puts its default
        back = replace(back, keypath=wire.keypath)
    require(back == wire, "eth-sign-request writes and reads back")
    try:
        tx = replace(wire, chain_id=None).safe_tx()
    except REFUSALS:
        tx = None
    if tx is not None:
        retyped = EthSignRequest(b"", typed_data_json(tx), wire.data_type, None, "m/", b"", "")
        require(retyped.safe_tx() == tx, "the typed data writes and reads back")
    try:
        translated = translate(state_dir(), SIGN_REQUEST_UR_TYPE, data, template("evm").created_at + 60)
    except REFUSALS + ENVELOPE_REFUSALS:
        return
    judge_translated(translated)
