"""Changing a station's installed vault: the authorization a slow rekey gives, and when (pure rules)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from appliance.policy_install import PolicyChangeError, check_change
from custody.chains.chia.adapter import ChiaAdapter
from custody.chains.chia.build import slow_rekey_payload
from custody.chains.chia.recovery import successor_custody, vault_custody
from custody.schemas.bundle import SignedBundle
from custody.schemas.chain import ChiaBinding
from custody.schemas.request import SlowRekey, SpendRequest
from custody.schemas.vault import StationPolicy
from tests.custody.chains.chia.kit import T0, ChainKey, keys, mint

DAY = 86400
#: The new key set keeps station-1 (whose installation this is) and adds three new keys.
NEW = (keys(1)[0].vault_key, *(ChainKey(200 + i, f"new-{i}").vault_key for i in range(1, 4)))


def setup() -> tuple[StationPolicy, StationPolicy, bytes, int]:
    """A 3-of-5 vault with recovery; a slow rekey to 3 of 4 new keys signed by 2 at T0; (old, new, bundle,
    the time its delay ends)."""
    cv = mint(keys(5), 3, recovery_signers=2, recovery_penalty_seconds=DAY, rekey_delay_seconds=DAY)
    action = SlowRekey(keys=NEW, threshold=3, initiators=2)
    target = successor_custody(cv.definition, NEW, 3).hash
    payload = slow_rekey_payload(cv.current, vault_custody(cv.definition), 2, target).to_bytes()
    request = SpendRequest(
        request_id=b"\x01" * 16,
        vault_id="cold",
        policy_digest=cv.definition.digest(),
        created_at=T0 - 60,
        expires_at=T0 + 540,
        action=action,
        payload=payload,
    )
    message = ChiaAdapter().parse(cv.definition, payload).message
    responses = tuple(k.respond(request, message, approved_at=T0) for k in cv.signers[3:])
    old = StationPolicy(vault=cv.definition, key_label="cold", key_id=cv.definition.keys[0].key_id)
    new_vault = replace(cv.definition, generation=2, keys=NEW, threshold=3)
    new = StationPolicy(vault=new_vault, key_label="cold", key_id=cv.definition.keys[0].key_id)
    bundle = SignedBundle(request=request, responses=responses).to_cbor()
    return old, new, bundle, T0 + 2 * DAY


def test_a_slow_rekey_authorizes_the_next_generation_once_its_delay_has_passed() -> None:
    old, new, bundle, ready = setup()
    with pytest.raises(PolicyChangeError, match="still held by the chain"):
        check_change(old, new, bundle, ready - 1)
    assert "slow rekey scheduled by 2 station(s), held 2d" in check_change(old, new, bundle, ready)


def test_attack_a_slow_rekey_bundle_cannot_authorize_other_keys_or_another_chain() -> None:
    old, new, bundle, ready = setup()
    other = replace(new, vault=replace(new.vault, threshold=4))
    with pytest.raises(PolicyChangeError, match="differs from the signed slow rekey"):
        check_change(old, other, bundle, ready)
    assert isinstance(new.vault.chain, ChiaBinding)
    moved = replace(new, vault=replace(new.vault, chain=replace(new.vault.chain, launcher_id=b"\x02" * 32)))
    with pytest.raises(PolicyChangeError, match="never moves"):
        check_change(old, moved, bundle, ready)
