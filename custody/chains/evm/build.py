"""SafeTxs as the host builds them: one transfer, or one change of owners, with every refund field zero.

The station parses what these make like anything else a host might send;
nothing here is trusted by it.
"""

from __future__ import annotations

from eth_abi.abi import encode as abi_encode

from custody.chains.evm.calls import OWNER_CALLS, SENTINEL, TRANSFER, pack_multisend
from custody.chains.evm.safe_tx import ZERO_ADDRESS, SafeTx
from custody.schemas.chain_evm import EvmBinding

_BY_NAME = {name: (selector, types) for selector, (name, types) in OWNER_CALLS.items()}


def safe_tx(
    binding: EvmBinding, nonce: int, to: bytes, value: int = 0, data: bytes = b"", operation: int = 0
) -> SafeTx:
    return SafeTx(
        chain_id=binding.chain_id,
        safe=binding.safe,
        to=to,
        value=value,
        data=data,
        operation=operation,
        safe_tx_gas=0,
        base_gas=0,
        gas_price=0,
        gas_token=ZERO_ADDRESS,
        refund_receiver=ZERO_ADDRESS,
        nonce=nonce,
    )


def transfer_call(token: bytes, to: bytes, amount: int) -> tuple[bytes, int, bytes]:
    """(to, value, data) of an ERC-20 transfer."""
    return token, 0, TRANSFER + abi_encode(["address", "uint256"], [to, amount])


def owner_call(binding: EvmBinding, name: str, *args: bytes | int) -> tuple[bytes, int, bytes]:
    """(to, value, data) of one of the Safe's owner-management calls on itself."""
    selector, types = _BY_NAME[name]
    return binding.safe, 0, selector + abi_encode(types, list(args))


def transfer(binding: EvmBinding, nonce: int, asset: str, to: bytes, amount: int) -> SafeTx:
    """A SafeTx sending ``amount`` of the native asset (any code not a listed token) or a token."""
    token = binding.token(asset)
    if token is None:
        return safe_tx(binding, nonce, to, amount)
    target, value, data = transfer_call(token.address, to, amount)
    return safe_tx(binding, nonce, target, value, data)


def batch(binding: EvmBinding, nonce: int, calls: list[tuple[bytes, int, bytes]]) -> SafeTx:
    """One call as itself; several through the vault's MultiSendCallOnly (a DELEGATECALL it allows)."""
    if len(calls) == 1:
        to, value, data = calls[0]
        return safe_tx(binding, nonce, to, value, data)
    if not binding.multisend:
        raise ValueError("the vault allows no MultiSendCallOnly, so it makes one call per transaction")
    packed = pack_multisend([(0, to, value, data) for to, value, data in calls])
    return safe_tx(binding, nonce, binding.multisend, 0, packed, operation=1)


def owner_calls_for(
    binding: EvmBinding, order: list[bytes], threshold: int, wanted: frozenset[bytes], target: int
) -> list[tuple[bytes, int, bytes]]:
    """The owner-management calls that take a Safe whose owners are ``order`` (its linked-list order,
    as ``getOwners`` answers) at ``threshold`` to ``wanted`` at ``target``: swaps first, then adds,
    then removals, each valid for the Safe at its step, and the threshold last."""
    owners = list(order)
    removed = [o for o in owners if o not in wanted]
    added = sorted(wanted - set(owners))
    calls = []

    def prev(owner: bytes) -> bytes:
        i = owners.index(owner)
        return SENTINEL if i == 0 else owners[i - 1]

    for old, new in zip(removed, added, strict=False):
        calls.append(owner_call(binding, "swapOwner", prev(old), old, new))
        owners[owners.index(old)] = new
    for new in added[len(removed) :]:
        calls.append(owner_call(binding, "addOwnerWithThreshold", new, threshold))
        owners.insert(0, new)
    for old in removed[len(added) :]:
        threshold = min(threshold, len(owners) - 1)
        calls.append(owner_call(binding, "removeOwner", prev(old), old, threshold))
        owners.remove(old)
    if threshold != target:
        calls.append(owner_call(binding, "changeThreshold", target))
    return calls
