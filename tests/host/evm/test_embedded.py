"""The embedded EVM is deterministic (so a replayed log gives the same chain) and names a revert's reason."""

from __future__ import annotations

import pytest

from host.errors import ChainRejected
from host.evm.embedded import EmbeddedEvm

OWNERS = ["0x" + "11" * 20, "0x" + "22" * 20]


def test_two_instances_deploy_the_same_contracts_and_safes_at_the_same_addresses() -> None:
    a, b = EmbeddedEvm(), EmbeddedEvm()
    assert a.infra == b.infra
    assert a.create_safe(OWNERS, 2, salt=5) == b.create_safe(OWNERS, 2, salt=5)


def test_a_revert_is_a_chain_rejection_with_the_contracts_reason() -> None:
    evm = EmbeddedEvm()
    safe = evm.create_safe(OWNERS, 2, salt=6)
    from custody.chains.evm.build import safe_tx
    from custody.schemas.chain_evm import EvmBinding

    binding = EvmBinding(chain_id=evm.chain_id, safe=bytes.fromhex(safe[2:]), version="1.4.1", first_nonce=0)
    calldata = safe_tx(binding, 0, bytes(19) + b"\x01", 1).exec_calldata(b"")
    with pytest.raises(ChainRejected, match="GS020"):
        evm.execute(safe, calldata)
