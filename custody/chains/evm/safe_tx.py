"""The SafeTx: the unsigned payload a Safe's owners sign, parsed strictly, and its EIP-712 hash.

On the wire it is strict canonical CBOR with exactly the SafeTx's ten fields
plus the chain id and Safe address of its EIP-712 domain, so the station
reads the domain it signs for from the payload itself and compares it with
the vault's. The hash is ``eth_account``'s EIP-712 encoding; the tests check
it against an independent encoding and the contract's ``getTransactionHash``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from custody.chains.base import ChainError
from custody.errors import SchemaError
from custody.schemas import strict

#: A SafeTx with a MultiSend of 10 transfers is about 1.7 KB; calldata beyond this is refused.
MAX_CALLDATA = 16 * 1024
MAX_PAYLOAD_BYTES = MAX_CALLDATA + 1024
UINT256 = 2**256
ZERO_ADDRESS = bytes(20)

_FIELDS: dict[str, type] = {
    "chain_id": int,
    "safe": bytes,
    "to": bytes,
    "value": int,
    "data": bytes,
    "operation": int,
    "safe_tx_gas": int,
    "base_gas": int,
    "gas_price": int,
    "gas_token": bytes,
    "refund_receiver": bytes,
    "nonce": int,
}

SAFE_TX_TYPES = [
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "data", "type": "bytes"},
    {"name": "operation", "type": "uint8"},
    {"name": "safeTxGas", "type": "uint256"},
    {"name": "baseGas", "type": "uint256"},
    {"name": "gasPrice", "type": "uint256"},
    {"name": "gasToken", "type": "address"},
    {"name": "refundReceiver", "type": "address"},
    {"name": "nonce", "type": "uint256"},
]

EXEC_TRANSACTION = (
    "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)"
)
EXEC_TYPES = [
    "address",
    "uint256",
    "bytes",
    "uint8",
    "uint256",
    "uint256",
    "uint256",
    "address",
    "address",
    "bytes",
]
EXEC_SELECTOR = keccak(text=EXEC_TRANSACTION)[:4]


def checksum(address: bytes) -> str:
    """EIP-55 mixed case: what custodians read and compare."""
    return to_checksum_address(address)


@dataclass(frozen=True, slots=True, kw_only=True)
class SafeTx:
    chain_id: int
    safe: bytes
    to: bytes
    value: int
    data: bytes
    operation: int
    safe_tx_gas: int
    base_gas: int
    gas_price: int
    gas_token: bytes
    refund_receiver: bytes
    nonce: int

    def __post_init__(self) -> None:
        what = "SafeTx"
        try:
            for name in ("safe", "to", "gas_token", "refund_receiver"):
                strict.sized(getattr(self, name), what=what, name=name, length=20)
            for name in ("value", "safe_tx_gas", "base_gas", "gas_price", "nonce"):
                value = getattr(self, name)
                if not 0 <= value < UINT256:
                    raise SchemaError(f"{what}: {name} is not a uint256")
            strict.natural(self.chain_id, what=what, name="chain_id", positive=True, limit=2**53)
        except SchemaError as exc:
            raise ChainError(str(exc)) from None
        if self.operation not in (0, 1):
            raise ChainError(f"{what}: operation must be 0 (CALL) or 1 (DELEGATECALL)")
        if len(self.data) > MAX_CALLDATA:
            raise ChainError(f"{what}: calldata exceeds {MAX_CALLDATA} bytes")

    def to_payload(self) -> bytes:
        return strict.encode(asdict(self))

    def message_fields(self) -> dict[str, Any]:
        """The EIP-712 message, in the field names the Safe contract and Safe{Wallet} use."""
        return {
            "to": checksum(self.to),
            "value": self.value,
            "data": self.data,
            "operation": self.operation,
            "safeTxGas": self.safe_tx_gas,
            "baseGas": self.base_gas,
            "gasPrice": self.gas_price,
            "gasToken": checksum(self.gas_token),
            "refundReceiver": checksum(self.refund_receiver),
            "nonce": self.nonce,
        }

    def typed_data(self) -> dict[str, Any]:
        """The full EIP-712 message (Safe 1.3.0 and later: the domain is the chain id and the Safe)."""
        return {
            "types": {
                "EIP712Domain": [
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "SafeTx": SAFE_TX_TYPES,
            },
            "primaryType": "SafeTx",
            "domain": {"chainId": self.chain_id, "verifyingContract": checksum(self.safe)},
            "message": self.message_fields(),
        }

    def safe_tx_hash(self) -> bytes:
        """What every owner signs: keccak256(0x19 0x01 || domainSeparator || hashStruct(SafeTx))."""
        signable = encode_typed_data(full_message=self.typed_data())
        return keccak(b"\x19" + signable.version + signable.header + signable.body)

    def exec_args(self, signatures: bytes) -> list[Any]:
        return [
            checksum(self.to),
            self.value,
            self.data,
            self.operation,
            self.safe_tx_gas,
            self.base_gas,
            self.gas_price,
            checksum(self.gas_token),
            checksum(self.refund_receiver),
            signatures,
        ]

    def exec_calldata(self, signatures: bytes) -> bytes:
        """``execTransaction(...)`` as the Safe receives it, with the owners' signatures packed."""
        return EXEC_SELECTOR + abi_encode(EXEC_TYPES, self.exec_args(signatures))


def parse_payload(data: bytes) -> SafeTx:
    """The SafeTx in ``data``; ChainError for anything but its strict canonical form."""
    try:
        v = strict.fields(
            strict.decode(data, what="SafeTx payload", max_bytes=MAX_PAYLOAD_BYTES), _FIELDS, what="SafeTx"
        )
    except SchemaError as exc:
        raise ChainError(str(exc)) from None
    return SafeTx(**v)


def parse_exec(tx: SafeTx, calldata: bytes) -> bytes:
    """The packed signatures of an ``execTransaction`` call that executes exactly ``tx``."""
    if calldata[:4] != EXEC_SELECTOR:
        raise ChainError("not an execTransaction call")
    try:
        values = abi_decode(EXEC_TYPES, calldata[4:])
    except Exception as exc:  # eth_abi raises several unrelated types for malformed input
        raise ChainError(f"execTransaction arguments do not decode: {exc}") from None
    signatures = bytes(values[9])
    if tx.exec_calldata(signatures) != calldata:
        raise ChainError("the execTransaction call does not execute this SafeTx (or is not canonical)")
    return signatures
