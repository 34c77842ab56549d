"""From a request and M stations' chain signatures to the spend bundle Chia accepts, and its judge.

The vault's spend is the MIPS spend of its custody along the payload's path
(``custody.chains.chia.recovery``): ``m_of_n`` with the first M members (in
the vault's key order) that signed, or k for a recovery path, each proving
its ECDSA signature inside CLVM (``secp256r1_verify`` / ``secp256k1_verify``).
The other coin spends are the payload's, byte for byte. The judge runs the
bundle by Chia's consensus rules offline: a fresh SDK Simulator holding
exactly the coins the bundle spends, its clock set to the time of judgement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chia_wallet_sdk import (
    Clvm,
    K1PublicKey,
    K1Signature,
    R1PublicKey,
    R1Signature,
    Signature,
    Simulator,
    SpendBundle,
    Vault,
    VaultInfo,
)

from custody.chains.base import ChainError
from custody.chains.chia.custody import MEMBER, TOP
from custody.chains.chia.payload import ChiaPayload
from custody.chains.chia.recovery import NIL_HASH, vault_custody
from custody.schemas.chain import ChiaBinding
from custody.schemas.key_record import Algorithm
from custody.schemas.vault import VaultDefinition


def assemble_bundle(
    vault: VaultDefinition,
    payload: ChiaPayload,
    signatures: Mapping[bytes, bytes],
    rekey_to: bytes | None = None,
) -> SpendBundle:
    """``signatures``: each station's chain signature, by key id; the first that the custody path
    needs, in key order, are used. ``rekey_to``: a slow rekey's next custody (the recovery path
    proves it is the one scheduled)."""
    binding = vault.chain
    if not isinstance(binding, ChiaBinding):
        raise ChainError("this vault is not on Chia")
    clvm = Clvm()
    coin = payload.vault_coin.coin()
    custody = vault_custody(vault)
    members = list(custody.members)
    mips = clvm.mips_spend(coin, payload.delegated_spend(clvm))
    need = vault.threshold
    if payload.scheduled is not None:  # the main quorum spends a vault holding a slow rekey
        scheduled = custody.scheduled(*payload.scheduled)
        coin_custody = scheduled.hash
        mips.m_of_n(TOP, 1, scheduled.leaves)
        mips.m_of_n(MEMBER, need, members)
    elif not custody.paths:
        coin_custody = custody.hash
        mips.m_of_n(TOP, need, members)
    else:
        coin_custody = custody.hash
        mips.m_of_n(TOP, 1, custody.leaves)
        if payload.path == 0:
            mips.m_of_n(MEMBER, need, members)
        else:
            need = payload.path
            if rekey_to is None:
                raise ChainError("a recovery path spend needs the custody it schedules")
            mips.m_of_n(custody.path_config(need), need, members)
            mips.force_1_of_2_restricted_variable(
                custody.main,
                0,
                NIL_HASH,
                custody.validators(need),
                custody.scheduled(need, rekey_to).fixed_inner,
            )
            mips.prevent_vault_side_effects()
            mips.force_singleton_recreation()
    used = 0
    for key in vault.keys:
        signature = signatures.get(key.key_id)
        if signature is None or used == need:
            continue
        if key.algorithm is Algorithm.P256:
            mips.r1_member(
                MEMBER, R1PublicKey.from_bytes(key.public_key), R1Signature.from_bytes(signature), False
            )
        else:
            mips.k1_member(
                MEMBER, K1PublicKey.from_bytes(key.public_key), K1Signature.from_bytes(signature), False
            )
        used += 1
    if used < need:
        raise ChainError(f"{used} chain signature(s) of the {need} this spend needs")
    mips.spend_vault(Vault(coin, payload.proof(), VaultInfo(binding.launcher_id, coin_custody)))
    for coin_spend in payload.coin_spends(binding.launcher_id):
        clvm.add_coin_spend(coin_spend)
    return SpendBundle(clvm.coin_spends(), Signature.infinity())


def judge_bundle(bundle: SpendBundle, now: int) -> list[str]:
    """Chia's verdict on ``bundle`` at ``now``, offline: empty when every spend and condition holds."""
    sim = Simulator()
    sim.set_next_timestamp(max(now, sim.next_timestamp()))
    for coin_spend in bundle.coin_spends:
        sim.insert_coin(coin_spend.coin)
    try:
        sim.new_transaction(bundle)
    except (ValueError, RuntimeError) as exc:
        return [f"Chia's rules refuse the spend bundle: {exc}"]
    return []


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def push_tx_json(bundle: SpendBundle) -> dict[str, Any]:
    """The body of a full node's ``push_tx`` RPC."""
    return {
        "spend_bundle": {
            "coin_spends": [
                {
                    "coin": {
                        "parent_coin_info": _hex(cs.coin.parent_coin_info),
                        "puzzle_hash": _hex(cs.coin.puzzle_hash),
                        "amount": cs.coin.amount,
                    },
                    "puzzle_reveal": _hex(cs.puzzle_reveal),
                    "solution": _hex(cs.solution),
                }
                for cs in bundle.coin_spends
            ],
            "aggregated_signature": _hex(bundle.aggregated_signature.to_bytes()),
        }
    }


def push_tx_text(bundle: SpendBundle) -> str:
    return json.dumps(push_tx_json(bundle), indent=2) + "\n"
