"""ERC-4527 wire formats: what a coordinator sends parses to the same SafeTx, and nothing else does."""

from __future__ import annotations

import json
import random

import cbor2
import pytest
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from custody.chains.base import ChainError
from custody.chains.evm.build import transfer
from custody.chains.evm.erc4527 import (
    EthSignRequest,
    encode_sign_request,
    encode_signature,
    parse_sign_request,
    parse_signature,
    typed_data_json,
    typed_data_safe_tx,
)
from custody.schemas.chain_evm import EvmBinding
from tests.custody.chains.evm.kit import DEST, ETH, addr

BINDING = EvmBinding(chain_id=1, safe=b"\x11" * 20, version="1.4.1", first_nonce=0)
TX = transfer(BINDING, 7, "ETH", addr(DEST), ETH)


def test_typed_data_round_trips_and_hashes_as_eth_account_hashes_the_json_itself() -> None:
    data = typed_data_json(TX)
    assert typed_data_safe_tx(data, None) == TX
    assert typed_data_safe_tx(data, 1) == TX
    signable = encode_typed_data(full_message=json.loads(data))
    assert keccak(b"\x19" + signable.version + signable.header + signable.body) == TX.safe_tx_hash()
    wire = EthSignRequest(bytes(16), data, 2, None, "", b"", "Rabby")
    parsed = parse_sign_request(encode_sign_request(wire))
    assert (parsed.request_id, parsed.safe_tx(), parsed.keypath) == (bytes(16), TX, "m/44'/60'/0'/0/0")
    request_id, signature = parse_signature(encode_signature(bytes(16), bytes(64) + b"\x1b"))
    assert request_id == bytes(16) and signature[64] == 27


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(primaryType="Permit"),
        lambda d: d["types"]["SafeTx"].pop(),
        lambda d: d["types"].update(Extra=[]),
        lambda d: d["domain"].update(name="Safe"),  # a pre-1.3.0 style domain, or any other
        lambda d: d["message"].update(operation="2"),
        lambda d: d["message"].update(value="-1"),
        lambda d: d["message"].update(value=True),
        lambda d: d["message"].update(to="0x1234"),
        lambda d: d["message"].update(data="0xabc"),
        lambda d: d["message"].update(extra="1"),
        lambda d: d["domain"].update(chainId=2),  # with the request's chain id 1
    ],
)
def test_typed_data_that_is_not_exactly_a_safe_tx_is_refused(change: object) -> None:
    doc = json.loads(typed_data_json(TX))
    change(doc)  # type: ignore[operator]
    with pytest.raises(ChainError):
        typed_data_safe_tx(json.dumps(doc).encode(), 1)


def test_hostile_sign_requests_are_refused_with_the_chains_error_only() -> None:
    good = encode_sign_request(EthSignRequest(bytes(16), typed_data_json(TX), 2, 1, "", b"", ""))
    rng = random.Random(4527)
    cases = [
        b"",
        b"\xff",
        cbor2.dumps([1, 2]),
        cbor2.dumps({1: b"x" * 16, 2: b"", 3: 2, 5: 0}),
        b"\x9f" * 5000,
    ]
    cases += [cbor2.dumps({**cbor2.loads(good), 8: 1}), cbor2.dumps({**cbor2.loads(good), 4: -1})]
    for _ in range(300):
        mutated = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        cases.append(bytes(mutated))
    refused = 0
    for data in cases:  # any exception but ChainError fails the test
        try:
            parse_sign_request(data).safe_tx()
        except ChainError:
            refused += 1
    assert refused >= 7 + 250  # the hand-made cases all, and nearly every mutation
