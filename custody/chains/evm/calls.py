"""What a call does, decoded from its calldata, or why the station cannot say (no blind signing).

Only these calls are explained: a plain value transfer (empty calldata), an
ERC-20 ``transfer`` on a listed token, the Safe's own owner management, and
``multiSend`` on the allowlisted MultiSendCallOnly, whose packed inner calls
are each decoded the same way. Every argument list must re-encode to the
exact calldata, which refuses trailing bytes and dirty padding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from custody.chains.base import ChainError

#: A MultiSend may carry this many inner calls; more is refused before decoding.
MAX_INNER_CALLS = 64
SENTINEL = b"\x00" * 19 + b"\x01"  # the Safe's linked-list head, never an owner


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


TRANSFER = _selector("transfer(address,uint256)")
MULTISEND = _selector("multiSend(bytes)")
OWNER_CALLS: dict[bytes, tuple[str, list[str]]] = {
    _selector("addOwnerWithThreshold(address,uint256)"): ("addOwnerWithThreshold", ["address", "uint256"]),
    _selector("removeOwner(address,address,uint256)"): ("removeOwner", ["address", "address", "uint256"]),
    _selector("swapOwner(address,address,address)"): ("swapOwner", ["address", "address", "address"]),
    _selector("changeThreshold(uint256)"): ("changeThreshold", ["uint256"]),
}
#: Calls refused by name: each hands a third party the vault's assets (Bybit, 2025; approval drainers).
REFUSED_BY_NAME: dict[bytes, str] = {
    _selector("approve(address,uint256)"): "approve (an allowance lets another address take the tokens)",
    _selector(
        "setApprovalForAll(address,bool)"
    ): "setApprovalForAll (hands over every token of a collection)",
    _selector("increaseAllowance(address,uint256)"): "increaseAllowance (an allowance)",
    _selector("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)"): "permit (an allowance)",
}


@dataclass(frozen=True, slots=True)
class NativeTransfer:
    to: bytes
    amount: int


@dataclass(frozen=True, slots=True)
class TokenTransfer:
    token: bytes
    to: bytes
    amount: int


@dataclass(frozen=True, slots=True)
class OwnerCall:
    """A call of the Safe to itself that manages its owners."""

    name: str
    args: tuple[Any, ...]  # addresses as 20 bytes, numbers as int


@dataclass(frozen=True, slots=True)
class Unexplained:
    """A call the station cannot explain, and why: it is shown and refused."""

    reason: str


Effect = NativeTransfer | TokenTransfer | OwnerCall | Unexplained


def _strict_decode(types: list[str], calldata: bytes, what: str) -> tuple[Any, ...]:
    body = calldata[4:]
    try:
        values = abi_decode(types, body)
    except Exception:  # eth_abi raises several unrelated types for malformed input
        return ()
    if abi_encode(types, list(values)) != body:
        raise ChainError(f"{what}: the arguments are not in their canonical encoding")
    return tuple(bytes.fromhex(v[2:]) if isinstance(v, str) and v.startswith("0x") else v for v in values)


def explain_call(safe: bytes, to: bytes, value: int, data: bytes, token_known: set[bytes]) -> list[Effect]:
    """The effects of a CALL from the Safe to ``to`` with ``value`` and ``data``."""
    effects: list[Effect] = []
    if value:
        effects.append(NativeTransfer(to, value))
    if not data:
        return effects
    selector = data[:4]
    if to == safe:
        if selector in OWNER_CALLS:
            name, types = OWNER_CALLS[selector]
            args = _strict_decode(types, data, name)
            if not args:
                return [*effects, Unexplained(f"{name} with arguments that do not decode")]
            return [*effects, OwnerCall(name, args)]
        return [
            *effects,
            Unexplained(f"a call of the Safe to itself ({selector.hex()}) that is not an owner change"),
        ]
    if selector in REFUSED_BY_NAME:
        return [*effects, Unexplained(REFUSED_BY_NAME[selector])]
    if selector == TRANSFER:
        if to not in token_known:
            return [*effects, Unexplained("transfer on a token the policy does not list")]
        args = _strict_decode(["address", "uint256"], data, "transfer")
        if not args:
            return [*effects, Unexplained("transfer with arguments that do not decode")]
        if value:
            return [*effects, Unexplained("a token transfer that also sends ETH to the token")]
        return [TokenTransfer(to, args[0], args[1])]
    return [*effects, Unexplained(f"unknown calldata (selector {selector.hex()}): no blind signing")]


def unpack_multisend(data: bytes) -> list[tuple[int, bytes, int, bytes]]:
    """The inner calls of ``multiSend(bytes)``: (operation, to, value, data) each; ChainError if malformed."""
    if data[:4] != MULTISEND:
        raise ChainError("a DELEGATECALL into MultiSendCallOnly that is not multiSend(bytes)")
    args = _strict_decode(["bytes"], data, "multiSend")
    if not args:
        raise ChainError("multiSend's argument does not decode")
    packed: bytes = args[0]
    calls: list[tuple[int, bytes, int, bytes]] = []
    at = 0
    while at < len(packed):
        if len(calls) == MAX_INNER_CALLS:
            raise ChainError(f"a MultiSend of more than {MAX_INNER_CALLS} calls")
        head = packed[at : at + 85]
        if len(head) < 85:
            raise ChainError("a MultiSend inner call is cut short")
        operation, to = head[0], head[1:21]
        value = int.from_bytes(head[21:53], "big")
        length = int.from_bytes(head[53:85], "big")
        inner = packed[at + 85 : at + 85 + length]
        if len(inner) != length:
            raise ChainError("a MultiSend inner call's data is cut short")
        calls.append((operation, to, value, inner))
        at += 85 + length
    if not calls:
        raise ChainError("an empty MultiSend")
    return calls


def pack_multisend(calls: list[tuple[int, bytes, int, bytes]]) -> bytes:
    """``multiSend(bytes)`` calldata for ``calls`` (the host builds batches with it)."""
    packed = b"".join(
        bytes([op]) + to + value.to_bytes(32, "big") + len(data).to_bytes(32, "big") + data
        for op, to, value, data in calls
    )
    return MULTISEND + abi_encode(["bytes"], [packed])
