"""ERC-4527, the QR protocol MetaMask, Rabby and Safe{Wallet} speak to QR hardware wallets:
``ur:eth-sign-request`` in, ``ur:eth-signature`` out.

A station takes only EIP-712 typed data (data type 2) whose primary type is
a SafeTx, with exactly the Safe 1.3.0+ domain (chain id and verifying
contract) and the SafeTx's ten fields: that is what a Safe owner signs. The
typed data is parsed into the same ``SafeTx`` the station's own envelope
carries, so the same facts, policy and review apply. A request without a
chain id takes it from the domain; one with a chain id must agree with it.
Legacy and typed transactions and personal messages are refused: a station
is a Safe owner, not an account.

CBOR keys (ERC-4527's CDDL): eth-sign-request {1: request-id (tag 37 uuid),
2: sign-data, 3: data-type, 4: chain-id, 5: derivation-path (tag 304
crypto-keypath), 6: address, 7: origin}; eth-signature {1: request-id,
2: signature (r || s || v, 65 bytes), 3: origin}.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from custody.chains.base import ChainError
from custody.chains.evm.safe_tx import SAFE_TX_TYPES, SafeTx

SIGN_REQUEST_UR_TYPE = "eth-sign-request"
SIGNATURE_UR_TYPE = "eth-signature"
UUID_TAG = 37
KEYPATH_TAG = 304
TYPED_DATA = 2
DATA_TYPES = {1: "a legacy transaction", 2: "typed data", 3: "a personal message", 4: "a typed transaction"}
MAX_REQUEST_BYTES = 64 * 1024
MAX_ORIGIN = 256
DOMAIN_TYPES = [
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


@dataclass(frozen=True, slots=True)
class EthSignRequest:
    request_id: bytes  # 16 bytes; empty when the coordinator sent none
    sign_data: bytes
    data_type: int
    chain_id: int | None
    keypath: str  # the derivation path as sent, for the screen; an HSM key has no BIP32 path
    address: bytes  # the signer the coordinator means, 20 bytes, or empty
    origin: str

    def safe_tx(self) -> SafeTx:
        """The SafeTx the typed data is; ChainError for anything a Safe owner does not sign."""
        if self.data_type != TYPED_DATA:
            what = DATA_TYPES.get(self.data_type, f"data type {self.data_type}")
            raise ChainError(f"the request asks to sign {what}; a station signs only a Safe's typed data")
        return typed_data_safe_tx(self.sign_data, self.chain_id)


def _fail(detail: str) -> ChainError:
    return ChainError(f"eth-sign-request: {detail}")


def _keypath(value: Any) -> str:
    if not (
        isinstance(value, cbor2.CBORTag) and value.tag == KEYPATH_TAG and isinstance(value.value, Mapping)
    ):
        raise _fail("derivation-path is not a crypto-keypath (tag 304)")
    components = value.value.get(1, [])
    if not isinstance(components, list | tuple) or len(components) > 64 or len(components) % 2:
        raise _fail("derivation-path components are malformed")
    parts = []
    for index, hardened in zip(components[::2], components[1::2], strict=True):
        if not isinstance(index, int) or not 0 <= index < 2**31 or not isinstance(hardened, bool):
            raise _fail("derivation-path components are malformed")
        parts.append(f"{index}{chr(39) if hardened else ''}")
    return "m/" + "/".join(parts)


def _uuid(value: Any) -> bytes:
    """cbor2 turns tag 37 into a UUID; a tag it could not is refused."""
    if isinstance(value, uuid.UUID):
        return value.bytes
    raise _fail("request-id is not a uuid (tag 37 over 16 bytes)")


def parse_sign_request(data: bytes) -> EthSignRequest:
    if len(data) > MAX_REQUEST_BYTES:
        raise _fail(f"larger than {MAX_REQUEST_BYTES} bytes")
    try:
        value = cbor2.loads(data)
    except Exception as exc:  # cbor2 raises several types on hostile input
        raise _fail(f"not CBOR ({type(exc).__name__})") from None
    if not isinstance(value, dict) or not all(isinstance(k, int) for k in value):
        raise _fail("not a map with integer keys")
    unknown = set(value) - set(range(1, 8))
    if unknown:
        raise _fail(f"unknown key(s) {sorted(unknown)}")
    for required in (2, 3, 5):
        if required not in value:
            raise _fail(f"key {required} is missing")
    request_id = b""
    if 1 in value:
        request_id = _uuid(value[1])
    sign_data, data_type = value[2], value[3]
    chain_id, address, origin = value.get(4), value.get(6, b""), value.get(7, "")
    if not isinstance(sign_data, bytes) or not isinstance(data_type, int) or isinstance(data_type, bool):
        raise _fail("sign-data must be bytes and data-type an integer")
    if chain_id is not None and (
        not isinstance(chain_id, int) or isinstance(chain_id, bool) or chain_id <= 0
    ):
        raise _fail("chain-id must be a positive integer")
    if not isinstance(address, bytes) or len(address) not in (0, 20):
        raise _fail("address must be 20 bytes")
    if not isinstance(origin, str) or len(origin) > MAX_ORIGIN:
        raise _fail(f"origin must be text of at most {MAX_ORIGIN} characters")
    return EthSignRequest(request_id, sign_data, data_type, chain_id, _keypath(value[5]), address, origin)


def encode_sign_request(request: EthSignRequest, components: list[int | bool] | None = None) -> bytes:
    """What a coordinator sends (used by the tests and the host's interop check)."""
    value: dict[int, Any] = {
        2: request.sign_data,
        3: request.data_type,
        5: cbor2.CBORTag(KEYPATH_TAG, {1: components or [44, True, 60, True, 0, True, 0, False, 0, False]}),
    }
    if request.request_id:
        value[1] = cbor2.CBORTag(UUID_TAG, request.request_id)
    if request.chain_id is not None:
        value[4] = request.chain_id
    if request.address:
        value[6] = request.address
    if request.origin:
        value[7] = request.origin
    return cbor2.dumps(value, canonical=True)


def encode_signature(request_id: bytes, signature: bytes, origin: str = "airgap-signer station") -> bytes:
    """``eth-signature``: the owner's 65-byte r || s || v, answering ``request_id``."""
    value: dict[int, Any] = {2: signature, 3: origin}
    if request_id:
        value[1] = cbor2.CBORTag(UUID_TAG, request_id)
    return cbor2.dumps(value, canonical=True)


def parse_signature(data: bytes) -> tuple[bytes, bytes]:
    """(request id, 65-byte signature) of an ``eth-signature``."""
    try:
        value = cbor2.loads(data)
        signature = value[2]
        request_id = _uuid(value[1]) if 1 in value else b""
    except Exception as exc:
        raise ChainError(f"eth-signature: unreadable ({type(exc).__name__})") from None
    if not isinstance(signature, bytes) or len(signature) != 65 or not isinstance(request_id, bytes):
        raise ChainError("eth-signature: not a 65-byte signature")
    return request_id, signature


def _uint(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise _fail(f"{name} is not a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.startswith(("0x", "0X")) and 2 < len(value) <= 66:
        number = int(value, 16)
    elif isinstance(value, str) and value.isdigit() and len(value) <= 78:
        number = int(value)
    else:
        raise _fail(f"{name} is not a uint256")
    if not 0 <= number < 2**256:
        raise _fail(f"{name} is not a uint256")
    return number


def _address(value: Any, name: str) -> bytes:
    if not (isinstance(value, str) and len(value) == 42 and value[:2] in ("0x", "0X")):
        raise _fail(f"{name} is not an address")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise _fail(f"{name} is not an address") from None


def _hex_bytes(value: Any, name: str) -> bytes:
    if not (isinstance(value, str) and value[:2] in ("0x", "0X") and len(value) % 2 == 0):
        raise _fail(f"{name} is not 0x-prefixed hex")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise _fail(f"{name} is not 0x-prefixed hex") from None


def typed_data_safe_tx(sign_data: bytes, chain_id: int | None) -> SafeTx:
    """The SafeTx in EIP-712 JSON: exactly the SafeTx type over the 1.3.0+ domain, nothing more."""
    try:
        doc = json.loads(sign_data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _fail("sign-data is not JSON typed data") from None
    if not isinstance(doc, dict) or set(doc) != {"types", "primaryType", "domain", "message"}:
        raise _fail("typed data must hold exactly types, primaryType, domain and message")
    if doc["primaryType"] != "SafeTx":
        raise _fail(f"primary type {str(doc['primaryType'])[:40]!r} is not a SafeTx")
    if doc["types"] != {"EIP712Domain": DOMAIN_TYPES, "SafeTx": SAFE_TX_TYPES}:
        raise _fail("the types are not exactly a Safe 1.3.0+ domain and SafeTx")
    domain, message = doc["domain"], doc["message"]
    if not isinstance(domain, dict) or set(domain) != {"chainId", "verifyingContract"}:
        raise _fail("the domain must be exactly chainId and verifyingContract")
    if not isinstance(message, dict) or set(message) != {f["name"] for f in SAFE_TX_TYPES}:
        raise _fail("the message must be exactly the SafeTx's ten fields")
    domain_chain = _uint(domain["chainId"], "domain chainId")
    if chain_id is not None and chain_id != domain_chain:
        raise _fail(f"chain-id {chain_id} differs from the typed data's domain chainId {domain_chain}")
    operation = _uint(message["operation"], "operation")
    if operation > 1:
        raise _fail("operation must be 0 (CALL) or 1 (DELEGATECALL)")
    return SafeTx(
        chain_id=domain_chain,
        safe=_address(domain["verifyingContract"], "verifyingContract"),
        to=_address(message["to"], "to"),
        value=_uint(message["value"], "value"),
        data=_hex_bytes(message["data"], "data"),
        operation=operation,
        safe_tx_gas=_uint(message["safeTxGas"], "safeTxGas"),
        base_gas=_uint(message["baseGas"], "baseGas"),
        gas_price=_uint(message["gasPrice"], "gasPrice"),
        gas_token=_address(message["gasToken"], "gasToken"),
        refund_receiver=_address(message["refundReceiver"], "refundReceiver"),
        nonce=_uint(message["nonce"], "nonce"),
    )


def typed_data_json(tx: SafeTx) -> bytes:
    """The SafeTx as a coordinator sends it: EIP-712 JSON with hex data and decimal numbers."""
    typed = tx.typed_data()
    typed["message"] = {**typed["message"], "data": "0x" + tx.data.hex()}
    typed["message"] = {k: str(v) if isinstance(v, int) else v for k, v in typed["message"].items()}
    return json.dumps(typed, separators=(",", ":")).encode()
