"""What a station refuses in a SafeTx, each with its reason, before any card is asked for.

The Bybit case is run on the real contract first, to show what signing it
would have done: a DELEGATECALL to a 25-byte contract overwrites the proxy's
master copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from custody.chains import ChainError, facts_for
from custody.chains.evm.build import batch, safe_tx, transfer
from custody.chains.evm.facts import parse
from custody.policy.engine import Approve, Code, Refuse, decide
from custody.policy.history import history_signature
from custody.policy.vault_state import VaultState
from custody.schemas.history import HistoryEntry
from custody.schemas.request import Announce, SpendRequest, Withdraw
from host.evm.embedded import EmbeddedEvm
from tests.custody.chains.evm.kit import (
    DEST,
    ETH,
    OTHER,
    T0,
    TST,
    SafeVault,
    addr,
    execute,
    make_vault,
    request_for,
)

STATE = VaultState(vault_id="safe", installed_at=T0 - 86400)
#: A contract whose fallback writes its calldata's first word into storage slot 0: the Safe's master copy.
SLOT0_WRITER = bytes.fromhex("6000355f55") + bytes(
    20
)  # PUSH1 0 CALLDATALOAD PUSH0 SSTORE, padded to 25 bytes


@pytest.fixture(scope="module")
def evm() -> Iterator[EmbeddedEvm]:
    yield EmbeddedEvm()


@pytest.fixture(scope="module")
def sv(evm: EmbeddedEvm) -> SafeVault:
    return make_vault(evm, 3, 2, salt=11)


def verdict(sv: SafeVault, request: SpendRequest, state: VaultState = STATE) -> Approve | Refuse:
    return decide(sv.definition, state, request, T0, facts_for(sv.definition, request))


def refused(sv: SafeVault, request: SpendRequest, code: Code, state: VaultState = STATE) -> str:
    """The failed check of ``code`` (every rule is evaluated, so others may fail first)."""
    v = verdict(sv, request, state)
    assert isinstance(v, Refuse), v
    failed = [c for c in v.checks if not c.ok and c.code is code]
    assert failed, v
    return v.text if v.code is code else failed[0].detail


def withdraw(amount: int = ETH, asset: str = "ETH", dest: str = DEST) -> Withdraw:
    return Withdraw(asset=asset, amount=amount, destination=dest)


def test_the_bybit_delegatecall_overwrites_the_master_copy_and_is_refused(evm: EmbeddedEvm) -> None:
    victim = make_vault(evm, 3, 2, salt=12)
    deployer = evm.w3.eth.accounts[0]
    init = bytes.fromhex("6019600c60003960196000f3") + SLOT0_WRITER  # returns the 25 bytes as code
    writer = evm.w3.eth.wait_for_transaction_receipt(
        evm.w3.eth.send_transaction({"from": deployer, "data": init})
    )["contractAddress"]
    attacker = bytes(12) + addr(OTHER)
    tx = safe_tx(victim.binding, 0, addr(writer), 0, attacker, operation=1)
    request = request_for(victim, tx, withdraw(), seed="bybit")
    text = refused(victim, request, Code.DELEGATECALL)
    assert "not the vault's allowlisted MultiSendCallOnly" in text
    execute(victim, request, (0, 1))  # what signing it would have done
    master_copy = evm.w3.eth.get_storage_at(victim.safe, 0)
    assert bytes(master_copy)[-20:] == addr(OTHER)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        (
            "approve",
            keccak(text="approve(address,uint256)")[:4]
            + abi_encode(["address", "uint256"], [addr(OTHER), 2**255]),
            "approve",
        ),
        ("unknown", bytes.fromhex("deadbeef") + bytes(64), "unknown calldata"),
    ],
)
def test_approve_and_unknown_calldata_are_refused(sv: SafeVault, name: str, data: bytes, reason: str) -> None:
    token = sv.binding.tokens[0].address
    request = request_for(sv, safe_tx(sv.binding, 0, token, 0, data), withdraw(), seed=name)
    assert reason in refused(sv, request, Code.UNEXPLAINED)


def test_a_self_call_that_is_not_an_owner_change_is_refused(sv: SafeVault) -> None:
    set_guard = keccak(text="setGuard(address)")[:4] + abi_encode(["address"], [addr(OTHER)])
    request = request_for(sv, safe_tx(sv.binding, 0, sv.binding.safe, 0, set_guard), withdraw(), seed="guard")
    assert "not an owner change" in refused(sv, request, Code.UNEXPLAINED)


def test_a_multisend_is_decoded_call_by_call(sv: SafeVault) -> None:
    good = batch(sv.binding, 0, [(addr(DEST), ETH, b"")])
    assert isinstance(verdict(sv, request_for(sv, good, withdraw(), seed="ms ok")), Approve)
    approve = (sv.binding.tokens[0].address, 0, keccak(text="approve(address,uint256)")[:4] + bytes(64))
    hidden = batch(sv.binding, 0, [(addr(DEST), ETH, b""), approve])
    assert "approve" in refused(sv, request_for(sv, hidden, withdraw(), seed="ms approve"), Code.UNEXPLAINED)


@pytest.mark.parametrize("field", ["safe_tx_gas", "base_gas", "gas_price", "gas_token", "refund_receiver"])
def test_any_gas_refund_field_is_refused(sv: SafeVault, field: str) -> None:
    tx = transfer(sv.binding, 0, "ETH", addr(DEST), ETH)
    value = addr(OTHER) if field in ("gas_token", "refund_receiver") else 1
    request = request_for(sv, replace(tx, **{field: value}), withdraw(), seed=f"gas {field}")
    refused(sv, request, Code.GAS_REFUND)


def test_a_wrong_chain_id_or_safe_is_refused(sv: SafeVault) -> None:
    tx = transfer(sv.binding, 0, "ETH", addr(DEST), ETH)
    for n, changed in enumerate((replace(tx, chain_id=1), replace(tx, safe=addr(OTHER)))):
        refused(sv, request_for(sv, changed, withdraw(), seed=f"chain {n}"), Code.WRONG_CHAIN)


def test_what_the_request_says_must_be_what_the_tx_does(sv: SafeVault) -> None:
    tx = transfer(sv.binding, 0, "ETH", addr(DEST), ETH)
    for n, action in enumerate((withdraw(2 * ETH), withdraw(ETH, "TST"))):
        refused(sv, request_for(sv, tx, action, seed=f"mismatch {n}"), Code.PAYLOAD_MISMATCH)
    swapped = transfer(sv.binding, 0, "TST", addr(OTHER), 10 * TST)
    refused(sv, request_for(sv, swapped, withdraw(10 * TST, "TST"), seed="swapped"), Code.PAYLOAD_MISMATCH)


def test_token_limits_are_the_tokens_own(sv: SafeVault) -> None:
    tx = transfer(sv.binding, 0, "TST", addr(DEST), 501 * TST)
    refused(sv, request_for(sv, tx, withdraw(501 * TST, "TST"), seed="tst over"), Code.PER_SPEND)


def test_nonces_have_no_gaps_and_no_reuse(sv: SafeVault) -> None:
    first = request_for(sv, transfer(sv.binding, 0, "ETH", addr(DEST), ETH), withdraw(), seed="n0")
    gap = request_for(sv, transfer(sv.binding, 1, "ETH", addr(DEST), ETH), withdraw(), seed="n1")
    assert "a gap" in refused(sv, gap, Code.NONCE)
    signed_here = STATE.after(first.core(), T0 - 100)  # this station signed nonce 0; no quorum yet
    pending = (HistoryEntry(request=first.core(), signatures=()),)
    again = request_for(
        sv,
        transfer(sv.binding, 0, "ETH", addr(DEST), ETH // 2),
        withdraw(ETH // 2),
        seed="n0b",
        history=pending,
    )
    assert "already signed" in refused(sv, again, Code.NONCE, signed_here)
    # this station signed nonce 0 itself, so 1 is the next it expects (the Safe runs 0 first); 2 is a gap
    nonce = [c for c in verdict(sv, replace(gap, history=pending), signed_here).checks if c.rule == "nonce"]
    assert nonce[0].ok
    far = request_for(sv, transfer(sv.binding, 2, "ETH", addr(DEST), ETH), withdraw(), seed="n2")
    assert "a gap" in refused(sv, replace(far, history=pending), Code.NONCE, signed_here)
    responses = [k.respond(first, first_message(sv, first), approved_at=T0 - 100) for k in sv.keys[:2]]
    entry = HistoryEntry(
        request=first.core(),
        signatures=tuple(sorted((history_signature(r) for r in responses), key=lambda s: s.key_id)),
    )
    after = request_for(
        sv, transfer(sv.binding, 1, "ETH", addr(DEST), ETH), withdraw(), seed="n1", history=(entry,)
    )
    assert isinstance(verdict(sv, after, signed_here), Approve)
    lying = replace(after, sequence=2)
    assert "nonce is 1" in refused(sv, lying, Code.NONCE, signed_here)


def first_message(sv: SafeVault, request: SpendRequest) -> bytes:
    return parse(sv.definition, request.payload).message


def test_an_announcement_is_the_stations_statement_and_carries_no_transaction(evm: EmbeddedEvm) -> None:
    sv = make_vault(evm, 3, 2, salt=13, announce_delay_seconds=3600, announce_expiry_seconds=86400)
    announce = Announce(asset="ETH", amount=ETH, destination=DEST)
    assert isinstance(verdict(sv, request_for(sv, None, announce, seed="ann")), Approve)
    tx = transfer(sv.binding, 0, "ETH", addr(DEST), ETH)
    with pytest.raises(ChainError, match="carries no chain spend"):
        facts_for(sv.definition, request_for(sv, tx, announce, seed="ann tx"))
