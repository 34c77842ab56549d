"""Every message round-trips, and strict decoding refuses everything outside its schema."""

from __future__ import annotations

import contextlib
from dataclasses import fields, replace
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.errors import CustodyError, SchemaError
from custody.schemas import strict
from custody.schemas.digests import Tag, tagged_digest
from custody.schemas.history import MAX_HISTORY, HistoryEntry, RequestCore
from custody.schemas.request import (
    Announce,
    Cancel,
    Execute,
    RaiseLock,
    Rekey,
    SpendRequest,
    Withdraw,
)
from custody.schemas.response import Refusal, SignatureResponse
from custody.schemas.signatures import SignatureError
from custody.schemas.vault import StationPolicy, VaultDefinition
from tests.custody.schemas.fixtures import KEYS, T0, request, vault

ACTIONS = [
    Withdraw(asset="XCH", amount=10, destination="xch1dest"),
    Announce(asset="XCH", amount=2**100, destination="xch1dest"),
    Execute(announce_id=b"a" * 16, asset="XCH", amount=10, destination="xch1dest"),
    Cancel(announce_id=b"a" * 16),
    Rekey(keys=tuple(k.vault_key for k in KEYS[:3]), threshold=2),
    RaiseLock(threshold=4),
]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.kind.value)
def test_request_round_trips_with_every_action(action: Any) -> None:
    r = request(action=action)
    again = SpendRequest.from_cbor(r.to_cbor())
    assert again == r and again.digest() == r.digest()


def test_vault_policy_response_refusal_round_trip() -> None:
    v = vault()
    assert VaultDefinition.from_cbor(v.to_cbor()) == v
    policy = StationPolicy(vault=v, key_label="cold", key_id=KEYS[0].vault_key.key_id)
    assert StationPolicy.from_cbor(policy.to_cbor()) == policy
    response = KEYS[0].respond(request())
    assert SignatureResponse.from_cbor(response.to_cbor()) == response
    refusal = Refusal(
        request_id=b"", request_digest=b"", vault_id="", station="s", code="malformed", text="x", at=1
    )
    assert Refusal.from_cbor(refusal.to_cbor()) == refusal


def _map(r: SpendRequest) -> dict[str, Any]:
    return dict(cbor2.loads(r.to_cbor()))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: {**m, "extra": 1}, "unknown field"),
        (lambda m: {k: v for k, v in m.items() if k != "expires_at"}, "missing field"),
        (lambda m: {**m, "created_at": str(m["created_at"])}, "must be int"),
        (lambda m: {**m, "created_at": True}, "must be int"),
        (lambda m: {**m, "request_id": b"short"}, "16 bytes"),
        (lambda m: {**m, "version": 1}, "version 1"),
        (lambda m: {**m, "expires_at": 10**12}, "end of year 9999"),
        (lambda m: {**m, "expires_at": 2**63 - 1}, "end of year 9999"),
        (lambda m: {**m, "history": [{"request": {}, "signatures": []}]}, "missing field"),
        (lambda m: {**m, "vault_id": "Cold Vault"}, "vault id"),
        (lambda m: {**m, "expires_at": m["created_at"]}, "after created_at"),
        (lambda m: {**m, "action": {"kind": "steal", "params": {}}}, "unknown action"),
        (
            lambda m: {
                **m,
                "action": {"kind": "withdraw", "params": {"asset": "XCH", "amount": 0, "destination": "d"}},
            },
            "positive",
        ),
        (
            lambda m: {
                **m,
                "action": {
                    "kind": "withdraw",
                    "params": {"asset": "XCH", "amount": 2**128, "destination": "d"},
                },
            },
            "at most",
        ),
        (
            lambda m: {
                **m,
                "action": {
                    "kind": "withdraw",
                    "params": {"asset": "XCH", "amount": 1, "destination": "d" * 129},
                },
            },
            "destination",
        ),
    ],
)
def test_request_schema_violations_are_refused(mutate: Any, message: str) -> None:
    data = cbor2.dumps(mutate(_map(request())), canonical=True)
    with pytest.raises(SchemaError, match=message):
        SpendRequest.from_cbor(data)


def test_non_canonical_indefinite_duplicate_and_trailing_bytes_are_refused() -> None:
    good = request().to_cbor()
    unsorted = cbor2.dumps(dict(reversed(list(cbor2.loads(good).items()))))
    with pytest.raises(SchemaError, match="canonical"):
        SpendRequest.from_cbor(unsorted)
    long_int = good.replace(b"gversion\x02", b"gversion\x18\x02", 1)  # version 2 in a needlessly long form
    with pytest.raises(CustodyError):
        SpendRequest.from_cbor(long_int)
    with pytest.raises(SchemaError, match=r"indefinite|CBOR"):
        SpendRequest.from_cbor(b"\xbf\x61a\x01\xff")
    with pytest.raises(SchemaError):
        SpendRequest.from_cbor(b"\xa2\x61a\x01\x61a\x02")  # duplicate key "a"
    with pytest.raises(SchemaError, match="trailing"):
        SpendRequest.from_cbor(good + b"\x00")
    with pytest.raises(SchemaError, match="limit"):
        SpendRequest.from_cbor(b"\x00" * 70000)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_hostile_bytes_only_ever_raise_airgap_errors(data: bytes) -> None:
    for parse in (
        SpendRequest.from_cbor,
        RequestCore.from_cbor,
        SignatureResponse.from_cbor,
        Refusal.from_cbor,
        VaultDefinition.from_cbor,
        StationPolicy.from_cbor,
    ):
        with contextlib.suppress(CustodyError):
            parse(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2000), st.integers(0, 255))
def test_any_flipped_byte_of_a_request_is_refused_or_changes_its_digest(position: int, xor: int) -> None:
    good = request().to_cbor()
    position %= len(good)
    bad = bytearray(good)
    bad[position] ^= xor or 1
    try:
        parsed = SpendRequest.from_cbor(bytes(bad))
    except CustodyError:
        return
    assert parsed.digest() != request().digest()


def test_digests_are_separated_by_kind() -> None:
    data = request().to_cbor()
    assert len({tagged_digest(tag, data) for tag in Tag}) == len(Tag)
    assert request().digest() == tagged_digest(Tag.SPEND_REQUEST, request().core().to_cbor())


def test_the_response_signature_covers_every_field() -> None:
    response = KEYS[0].respond(request())
    response.verify(KEYS[0].public)
    changes = {
        "request_id": b"\xff" * 16,
        "request_digest": b"\xff" * 32,
        "vault_id": "other",
        "station": "station-9",
        "key_id": b"\xff" * 32,
        "audit_seq": response.audit_seq + 1,
        "log_head": b"\xff" * 32,
        "approved_at": response.approved_at + 1,
        "chain_signature": b"\x01" * 64,
    }
    assert {f.name for f in fields(SignatureResponse)} - set(changes) == {"algorithm", "signature"}
    for name, value in changes.items():
        with pytest.raises(SignatureError):
            replace(response, **{name: value}).verify(KEYS[0].public)
    with pytest.raises(SignatureError):
        replace(response, algorithm=type(response.algorithm)("secp256k1")).verify(KEYS[0].public)


def test_vault_rules_are_validated() -> None:
    with pytest.raises(SchemaError, match="threshold"):
        vault(threshold=6)
    with pytest.raises(SchemaError, match="same key"):
        VaultDefinition.from_map({**vault().to_map(), "keys": [KEYS[0].vault_key.to_map()] * 2})
    rules = vault().rules.to_map()
    with pytest.raises(SchemaError, match="sorted"):
        VaultDefinition.from_map({**vault().to_map(), "rules": {**rules, "destinations": ["b", "a"]}})
    with pytest.raises(SchemaError, match="exceeds window_max"):
        VaultDefinition.from_map({**vault().to_map(), "rules": {**rules, "max_per_spend": 101}})
    with pytest.raises(SchemaError, match="announce expiry"):
        VaultDefinition.from_map({**vault().to_map(), "rules": {**rules, "announce_delay_seconds": 5}})
    with pytest.raises(SchemaError, match="not in the vault"):
        StationPolicy(vault=vault(), key_label="x", key_id=b"\x00" * 32)


def test_amounts_are_shown_in_units() -> None:
    asset = vault().asset
    assert asset.format(1_250 * 10**12 + 1) == "1,250.000000000001 XCH"
    assert asset.format(5 * 10**11) == "0.5 XCH"


def test_strict_decoding_rejects_oversized_and_deep_input() -> None:
    with pytest.raises(SchemaError):
        strict.decode(b"\x81" * 100 + b"\x00", what="x")
    with pytest.raises(SchemaError, match="limit"):
        strict.decode(cbor2.dumps(b"x" * 70000), what="x")


def _history_of(n: int) -> tuple[HistoryEntry, ...]:
    from custody.policy.history import history_signature

    entries = []
    for i in range(n):
        earlier = request(request_id=bytes([i]) * 16)
        sig = history_signature(KEYS[i % 5].respond(earlier))
        entries.append(HistoryEntry(request=earlier.core(), signatures=(sig,)))
    return tuple(sorted(entries, key=lambda e: e.request.digest()))


def test_a_request_carries_its_history_and_its_digest_covers_it() -> None:
    history = _history_of(3)
    r = replace(request(), history=history)
    again = SpendRequest.from_cbor(r.to_cbor())
    assert again == r and again.history == history
    assert r.digest() != request().digest()  # the history is part of what every signer signs
    assert r.core().history_digest != request().core().history_digest
    assert RequestCore.from_cbor(r.core().to_cbor()).digest() == r.digest()


def test_history_is_canonical_and_bounded() -> None:
    history = _history_of(3)
    with pytest.raises(SchemaError, match="sorted by request digest"):
        replace(request(), history=tuple(reversed(history)))
    with pytest.raises(SchemaError, match="sorted by request digest"):
        replace(request(), history=(history[0], history[0]))
    twin = HistoryEntry(
        request=replace(request(request_id=history[0].request.request_id, created_at=T0 - 1)).core(),
        signatures=(),
    )
    with pytest.raises(SchemaError, match="two versions"):
        replace(request(), history=tuple(sorted((history[0], twin), key=lambda e: e.request.digest())))
    too_many = {**_map(request()), "history": [{}] * (MAX_HISTORY + 1)}
    with pytest.raises(SchemaError, match="more than 64"):
        SpendRequest.from_cbor(cbor2.dumps(too_many, canonical=True))


def test_attack_5_far_future_times_are_refused_by_the_schema() -> None:
    """Issue 12, defect 5: expires_at = 10^12 crashed the review screen; 2^63-1 exited with no refusal."""
    refusal = cbor2.loads(
        Refusal(
            request_id=b"", request_digest=b"", vault_id="", station="s", code="c", text="t", at=1
        ).to_cbor()
    )
    for far in (10**12, 2**63 - 1):
        with pytest.raises(SchemaError, match="end of year 9999"):
            request(expires_at=far)
        with pytest.raises(SchemaError, match="end of year 9999"):
            Refusal.from_cbor(cbor2.dumps({**refusal, "at": far}, canonical=True))


def test_attack_6_a_malleated_p256_signature_does_not_verify() -> None:
    """Issue 12, defect 6: the twin (r, n - s) of a genuine P-256 answer was accepted."""
    from custody.schemas.signatures import P256_ORDER, canonical_signature

    response = KEYS[0].respond(request())
    response.verify(KEYS[0].public)
    s = int.from_bytes(response.signature[32:], "big")
    assert s <= P256_ORDER // 2
    twin = replace(response, signature=response.signature[:32] + (P256_ORDER - s).to_bytes(32, "big"))
    with pytest.raises(SignatureError, match="low-S"):
        twin.verify(KEYS[0].public)
    assert canonical_signature(twin.algorithm, twin.signature) == response.signature
