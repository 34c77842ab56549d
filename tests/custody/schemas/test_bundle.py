"""A bundle verifies with nothing but the vault definition, and every flaw is named."""

from __future__ import annotations

from dataclasses import replace

import pytest

from custody.schemas.bundle import Problem, SignedBundle, check_bundle, parse_and_check
from custody.schemas.request import Rekey
from tests.custody.schemas.fixtures import KEYS, T0, SoftKey, request, vault


def bundle_of(*signers: SoftKey, req=None) -> SignedBundle:  # type: ignore[no-untyped-def]
    req = req or request()
    return SignedBundle(request=req, responses=tuple(k.respond(req) for k in signers))


def problems(findings: list) -> set[Problem]:  # type: ignore[type-arg]
    return {f.problem for f in findings}


def test_three_of_five_in_any_order_verifies() -> None:
    b = bundle_of(KEYS[4], KEYS[1], KEYS[3])
    assert check_bundle(vault(), b, now=T0) == []
    assert parse_and_check(vault(), b.to_cbor(), now=T0) == []
    assert SignedBundle.from_cbor(b.to_cbor()) == b


def test_each_shortfall_and_tampering_is_named() -> None:
    v = vault()
    assert problems(check_bundle(v, bundle_of(KEYS[0], KEYS[1]))) == {Problem.TOO_FEW}
    duplicate = bundle_of(KEYS[0], KEYS[1], KEYS[1])
    assert problems(check_bundle(v, duplicate)) == {Problem.DUPLICATE_SIGNER, Problem.TOO_FEW}
    stranger = SoftKey(99, "station-9")
    assert problems(check_bundle(v, bundle_of(KEYS[0], KEYS[1], stranger))) == {
        Problem.UNKNOWN_KEY,
        Problem.TOO_FEW,
    }
    assert Problem.EXPIRED in problems(check_bundle(v, bundle_of(*KEYS[:3]), now=T0 + 601))
    other_vault = vault(vault_id="hot")
    assert Problem.WRONG_VAULT in problems(check_bundle(other_vault, bundle_of(*KEYS[:3])))
    changed_rules = vault(generation=2)
    assert Problem.WRONG_VAULT in problems(check_bundle(changed_rules, bundle_of(*KEYS[:3])))

    good = bundle_of(*KEYS[:3])
    forged = replace(good.responses[0], signature=good.responses[1].signature)
    assert problems(check_bundle(v, replace(good, responses=(forged, *good.responses[1:])))) == {
        Problem.BAD_SIGNATURE,
        Problem.TOO_FEW,
    }
    swapped = replace(good, request=request(request_id=b"\x01" * 16))
    assert Problem.TAMPERED in problems(check_bundle(v, swapped))
    renamed = replace(good.responses[0], station="station-5")
    assert Problem.TAMPERED in problems(
        check_bundle(v, replace(good, responses=(renamed, *good.responses[1:])))
    )


def test_every_flipped_byte_is_refused() -> None:
    data = bundle_of(*KEYS[:3]).to_cbor()
    for position in range(len(data)):
        bad = bytearray(data)
        bad[position] ^= 0x01
        assert parse_and_check(vault(), bytes(bad), now=T0), f"byte {position} flipped and still valid"


def test_attack_1_a_rekey_signed_by_fewer_than_the_threshold_never_verifies() -> None:
    """Issue 12, defect 1: one idle station's signature verified as 'rekey to 1 of 1' of a 3-of-5 vault.

    A rekey needs the current threshold like every other action: its delay and the quorum's right to
    cancel cannot rest on the stations that chose to sign it."""
    v = vault()
    rekey = Rekey(keys=(KEYS[1].vault_key,), threshold=1)
    req = request(v, action=rekey)
    for signers in ([KEYS[1]], KEYS[1:3]):
        assert Problem.TOO_FEW in problems(check_bundle(v, bundle_of(*signers, req=req)))
    assert check_bundle(v, bundle_of(*KEYS[1:4], req=req)) == []


@pytest.mark.parametrize("count", [0, 33])
def test_bundle_size_is_bounded(count: int) -> None:
    import cbor2

    data = cbor2.dumps(
        {"version": 1, "request": request().to_cbor(), "responses": [b"x"] * count}, canonical=True
    )
    assert Problem.TAMPERED in problems(parse_and_check(vault(), data))
