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


def safe_raise_lock() -> tuple[StationPolicy, StationPolicy, bytes]:
    """A 2-of-3 Safe vault at nonce 4 raising its lock to 3, signed by two; (old, new, bundle)."""
    from custody.chains.evm.build import owner_call, safe_tx
    from custody.schemas.chain_evm import EvmBinding
    from custody.schemas.request import RaiseLock
    from custody.schemas.vault import Asset, VaultDefinition
    from tests.custody.chains.evm.kit import keys as k1_keys
    from tests.custody.chains.evm.kit import rules

    ks = k1_keys(3)
    binding = EvmBinding(chain_id=1, safe=b"\x11" * 20, version="1.4.1", first_nonce=4)
    vault = VaultDefinition(
        vault_id="safe",
        generation=1,
        asset=Asset(code="ETH", decimals=18),
        threshold=2,
        keys=tuple(k.vault_key for k in ks),
        rules=rules(),
        chain=binding,
    )
    tx = safe_tx(binding, 4, *owner_call(binding, "changeThreshold", 3))
    request = SpendRequest(
        request_id=b"\x02" * 16,
        vault_id="safe",
        policy_digest=vault.digest(),
        created_at=T0 - 60,
        expires_at=T0 + 540,
        action=RaiseLock(threshold=3),
        payload=tx.to_payload(),
        sequence=4,
    )
    responses = tuple(k.respond(request, tx.safe_tx_hash(), approved_at=T0) for k in ks[:2])
    new_vault = replace(vault, generation=2, threshold=3, chain=replace(binding, first_nonce=5))
    old = StationPolicy(vault=vault, key_label="safe", key_id=vault.keys[0].key_id)
    new = StationPolicy(vault=new_vault, key_label="safe", key_id=vault.keys[0].key_id)
    return old, new, SignedBundle(request=request, responses=responses).to_cbor()


def test_a_safe_vaults_next_generation_starts_at_the_nonce_after_its_signed_owner_change() -> None:
    old, new, bundle = safe_raise_lock()
    assert "raise-lock signed by 2 station(s)" in check_change(old, new, bundle, T0)
    from custody.schemas.chain_evm import EvmBinding

    chain = new.vault.chain
    assert isinstance(chain, EvmBinding)
    for wrong in (3, 4, 9):  # a replay of nonce 4 (or 3), or a gap to 9
        moved = replace(new, vault=replace(new.vault, chain=replace(chain, first_nonce=wrong)))
        with pytest.raises(PolicyChangeError, match="must be 5"):
            check_change(old, moved, bundle, T0)
    # without a change of owners, the first nonce never moves
    rules_only = replace(old, vault=replace(old.vault, chain=replace(chain, first_nonce=5)))
    with pytest.raises(PolicyChangeError, match="moves only with a signed change"):
        check_change(old, rules_only, None, T0)
    other_safe = replace(new, vault=replace(new.vault, chain=replace(chain, safe=b"\x12" * 20)))
    with pytest.raises(PolicyChangeError, match="never moves"):
        check_change(old, other_safe, bundle, T0)
