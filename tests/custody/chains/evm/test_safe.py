"""Safe vaults judged by the real Safe contract in py-evm: what executes, and what the contract rejects."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from Crypto.Hash import keccak as pc_keccak
from eth_abi.abi import encode as abi_encode

from custody.chains.evm.adapter import EvmAdapter
from custody.chains.evm.build import batch as build_batch
from custody.chains.evm.build import owner_call, transfer
from custody.chains.evm.facts import parse
from custody.chains.evm.safe_tx import SafeTx, checksum, parse_exec
from custody.chains.evm.signatures import SECP256K1_N, address_of
from custody.errors import CustodyError
from custody.policy.engine import Approve, decide
from custody.policy.vault_state import VaultState
from custody.schemas.request import RaiseLock, Rekey, Withdraw
from host.errors import ChainRejected
from host.evm.embedded import EmbeddedEvm
from tests.custody.chains.evm.kit import (
    DEST,
    ETH,
    T0,
    TST,
    SafeVault,
    addr,
    execute,
    keys,
    make_vault,
    request_for,
    signatures,
)

STATE = VaultState(vault_id="safe", installed_at=T0 - 86400)


@pytest.fixture(scope="module")
def evm() -> Iterator[EmbeddedEvm]:
    yield EmbeddedEvm()


def _keccak(data: bytes) -> bytes:
    return pc_keccak.new(digest_bits=256, data=data).digest()


def independent_hash(tx: SafeTx) -> bytes:
    """The safeTxHash encoded by hand (pycryptodome's keccak, eth_abi words), not by eth_account."""
    domain_type = _keccak(b"EIP712Domain(uint256 chainId,address verifyingContract)")
    safe_tx_type = _keccak(
        b"SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,uint256 baseGas,"
        b"uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)"
    )
    domain = _keccak(abi_encode(["bytes32", "uint256", "address"], [domain_type, tx.chain_id, tx.safe]))
    struct = _keccak(
        abi_encode(
            ["bytes32", "address", "uint256", "bytes32", "uint8"]
            + ["uint256"] * 3
            + ["address"] * 2
            + ["uint256"],
            [
                safe_tx_type,
                tx.to,
                tx.value,
                _keccak(tx.data),
                tx.operation,
                tx.safe_tx_gas,
                tx.base_gas,
                tx.gas_price,
                tx.gas_token,
                tx.refund_receiver,
                tx.nonce,
            ],
        )
    )
    return _keccak(b"\x19\x01" + domain + struct)


def contract_hash(sv: SafeVault, tx: SafeTx) -> bytes:
    safe = sv.evm.safe(sv.safe, sv.binding.version)
    args = [*tx.exec_args(b"")[:9], tx.nonce]
    return bytes(safe.functions.getTransactionHash(*args).call())


@pytest.mark.parametrize("version", ["1.4.1", "1.3.0"])
def test_the_safe_tx_hash_agrees_three_ways_and_an_eth_transfer_executes(
    evm: EmbeddedEvm, version: str
) -> None:
    sv = make_vault(evm, 5, 3, salt=1 if version == "1.4.1" else 2, version=version)
    tx = transfer(sv.binding, sv.nonce(), "ETH", addr(DEST), 2 * ETH)
    assert tx.safe_tx_hash() == independent_hash(tx) == contract_hash(sv, tx)
    request = request_for(
        sv, tx, Withdraw(asset="ETH", amount=2 * ETH, destination=DEST), seed=f"eth {version}"
    )
    facts = parse(sv.definition, request.payload)
    assert isinstance(decide(sv.definition, STATE, request, T0, facts), Approve)
    before = evm.balance(DEST)
    calldata = execute(sv, request, (4, 0, 2))
    assert evm.balance(DEST) - before == 2 * ETH
    assert sv.nonce() == 1
    assert EvmAdapter().judge(sv.definition, request, calldata, T0) == []


def test_an_erc20_transfer_on_a_listed_token_executes(evm: EmbeddedEvm) -> None:
    sv = make_vault(evm, 3, 2, salt=3)
    tx = transfer(sv.binding, 0, "TST", addr(DEST), 250 * TST)
    request = request_for(sv, tx, Withdraw(asset="TST", amount=250 * TST, destination=DEST), seed="tst")
    facts = parse(sv.definition, request.payload)
    verdict = decide(sv.definition, STATE, request, T0, facts)
    assert isinstance(verdict, Approve), verdict
    before = evm.token_balance(DEST)
    execute(sv, request, (1, 2))
    assert evm.token_balance(DEST) - before == 250 * TST
    assert any("250 TST" in value for _, value in facts.review_rows(sv.definition, str))


def test_the_contract_rejects_too_few_a_flipped_bit_and_a_reordered_set(evm: EmbeddedEvm) -> None:
    sv = make_vault(evm, 5, 3, salt=4)
    tx = transfer(sv.binding, 0, "ETH", addr(DEST), ETH)
    request = request_for(sv, tx, Withdraw(asset="ETH", amount=ETH, destination=DEST), seed="rejects")
    adapter = EvmAdapter()
    short = adapter.assemble(sv.definition, request, signatures(sv, tx, (0, 1)))
    with pytest.raises(ChainRejected, match="GS020"):
        evm.execute(sv.safe, short)
    assert adapter.judge(sv.definition, request, short, T0) == [
        "2 valid owner signature(s); the threshold is 3"
    ]

    good = adapter.assemble(sv.definition, request, signatures(sv, tx, (0, 1, 2)))
    packed = parse_exec(tx, good)
    flipped = bytearray(packed)
    flipped[70] ^= 1
    reordered = packed[65:130] + packed[:65] + packed[130:]
    for bad in (bytes(flipped), reordered):
        calldata = tx.exec_calldata(bad)
        with pytest.raises(ChainRejected, match="GS026"):
            evm.execute(sv.safe, calldata)
        assert adapter.judge(sv.definition, request, calldata, T0)
    assert sv.nonce() == 0
    evm.execute(sv.safe, good)
    assert sv.nonce() == 1


def test_the_judge_refuses_what_the_contract_would_take_but_no_station_makes(evm: EmbeddedEvm) -> None:
    """High-S and eth_sign's v = 31/32 pass ecrecover; a station makes neither, so the judge refuses."""
    sv = make_vault(evm, 3, 2, salt=5)
    tx = transfer(sv.binding, 0, "ETH", addr(DEST), ETH)
    request = request_for(sv, tx, Withdraw(asset="ETH", amount=ETH, destination=DEST), seed="high-s")
    packed = parse_exec(tx, EvmAdapter().assemble(sv.definition, request, signatures(sv, tx, (0, 1))))
    first = packed[:65]
    s = int.from_bytes(first[32:64], "big")
    high = first[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - first[64]])
    problems = EvmAdapter().judge(sv.definition, request, tx.exec_calldata(high + packed[65:]), T0)
    assert any("not low-S" in p for p in problems)
    eth_sign = first[:64] + bytes([first[64] + 4])
    problems = EvmAdapter().judge(sv.definition, request, tx.exec_calldata(eth_sign + packed[65:]), T0)
    assert any("v is 3" in p for p in problems)


def test_owner_changes_through_the_safe_itself_and_a_multisend(evm: EmbeddedEvm) -> None:
    sv = make_vault(evm, 3, 2, salt=6)
    old, new = keys(3), keys(1, first=9)[0]
    b = sv.binding
    owners_now = [bytes.fromhex(o[2:]) for o in evm.safe(sv.safe).functions.getOwners().call()]
    gone = address_of(old[2].public)
    prev = owners_now[owners_now.index(gone) - 1] if owners_now.index(gone) else b"\x00" * 19 + b"\x01"
    swap = build_batch(
        b,
        0,
        [owner_call(b, "swapOwner", prev, gone, address_of(new.public)), owner_call(b, "changeThreshold", 3)],
    )
    new_keys = (old[0].vault_key, old[1].vault_key, new.vault_key)
    request = request_for(sv, swap, Rekey(keys=new_keys, threshold=3), seed="swap")
    facts = parse(sv.definition, request.payload)
    verdict = decide(sv.definition, STATE, request, T0, facts)
    assert isinstance(verdict, Approve), verdict
    execute(sv, request, (0, 1))
    safe = evm.safe(sv.safe)
    assert {bytes.fromhex(o[2:]) for o in safe.functions.getOwners().call()} == {
        address_of(k.public) for k in (old[0], old[1], new)
    }
    assert safe.functions.getThreshold().call() == 3


def test_raise_lock_is_change_threshold_up(evm: EmbeddedEvm) -> None:
    sv = make_vault(evm, 3, 1, salt=7)
    tx = build_batch(sv.binding, 0, [owner_call(sv.binding, "changeThreshold", 2)])
    request = request_for(sv, tx, RaiseLock(threshold=2), seed="raise")
    verdict = decide(sv.definition, STATE, request, T0, parse(sv.definition, request.payload))
    assert isinstance(verdict, Approve), verdict
    execute(sv, request, (0,))
    assert evm.safe(sv.safe).functions.getThreshold().call() == 2


def test_a_payload_that_is_not_a_safe_tx_is_a_clear_error(evm: EmbeddedEvm) -> None:
    sv = make_vault(evm, 3, 2, salt=8)
    tx = transfer(sv.binding, 0, "ETH", addr(DEST), ETH)
    for bad in (b"", b"\xa0", tx.to_payload()[:-1], tx.to_payload() + b"\x00"):
        with pytest.raises(CustodyError):
            parse(sv.definition, bad)
    assert checksum(sv.binding.safe) == sv.safe
