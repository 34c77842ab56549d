"""Finalizing: the collected signatures become a signed bundle, and a vault change a new generation.

Pure: the bundle holds every valid, distinct signature the host collected
(more than M is still valid, and is more evidence), in the vault's key
order, and must pass the same ``check_bundle`` any third party runs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from custody.schemas.bundle import SignedBundle, check_bundle, check_response
from custody.schemas.chain_evm import EvmBinding
from custody.schemas.request import (
    Action,
    Announce,
    Cancel,
    Execute,
    RaiseLock,
    Rekey,
    SlowRekey,
    SpendRequest,
    Withdraw,
    signatures_needed,
)
from custody.schemas.response import SignatureResponse
from custody.schemas.vault import VaultDefinition
from host.errors import UsageError


def assemble(
    vault: VaultDefinition, request: SpendRequest, held: list[SignatureResponse], now: int
) -> SignedBundle:
    by_key = {r.key_id: r for r in held if check_response(vault, request, r) is None}
    responses = tuple(by_key[k.key_id] for k in vault.keys if k.key_id in by_key)
    need = signatures_needed(request.action, vault.threshold)
    if len(responses) < need:
        missing = [k.station for k in vault.keys if k.key_id not in by_key]
        raise UsageError(
            f"{len(responses)} valid signature(s) of {need} needed; not yet signed by: {', '.join(missing)}"
        )
    bundle = SignedBundle(request=request, responses=responses)
    findings = check_bundle(vault, bundle, now=now)
    if findings:
        raise UsageError("the bundle would not verify: " + "; ".join(f.text for f in findings))
    return bundle


def next_generation(vault: VaultDefinition, request: SpendRequest) -> VaultDefinition | None:
    """The vault as a finalized rekey or raise-lock makes it; None for any other action."""
    action = request.action
    chain = vault.chain
    if isinstance(chain, EvmBinding) and isinstance(action, Rekey | RaiseLock):
        chain = replace(chain, first_nonce=request.sequence + 1)  # the Safe's nonce after the change
    if isinstance(action, Rekey):
        return replace(
            vault, generation=vault.generation + 1, keys=action.keys, threshold=action.threshold, chain=chain
        )
    if isinstance(action, RaiseLock):
        return replace(vault, generation=vault.generation + 1, threshold=action.threshold, chain=chain)
    return None


def describe(action: Action, vault: VaultDefinition) -> str:
    """One line an operator reads back to a custodian."""
    if isinstance(action, Withdraw | Announce):
        return f"{action.kind.value} {vault.amount_text(action.asset, action.amount)} to {action.destination}"
    if isinstance(action, Execute):
        return (
            f"execute announcement {action.announce_id.hex()[:8]}: "
            f"{vault.amount_text(action.asset, action.amount)} to {action.destination}"
        )
    if isinstance(action, Cancel):
        return f"cancel announcement {action.announce_id.hex()[:8]}"
    if isinstance(action, Rekey | SlowRekey):
        stations = ", ".join(k.station for k in action.keys)
        what = f"rekey to {action.threshold} of {len(action.keys)} ({stations})"
        if isinstance(action, SlowRekey):
            what = f"slow {what}, scheduled by {action.initiators} initiator(s)"
        return what
    return f"raise the lock level to {action.threshold}"


def _action_json(action: Action) -> dict[str, Any]:
    if isinstance(action, Rekey | SlowRekey):
        rekey: dict[str, Any] = {
            "kind": action.kind.value,
            "keys": [
                {"station": k.station, "algorithm": k.algorithm.value, "key_id": k.key_id.hex()}
                for k in action.keys
            ],
            "threshold": action.threshold,
        }
        if isinstance(action, SlowRekey):
            rekey["initiators"] = action.initiators
        return rekey
    if isinstance(action, RaiseLock):
        return {"kind": action.kind.value, "threshold": action.threshold}
    if isinstance(action, Cancel):
        return {"kind": action.kind.value, "announce_id": action.announce_id.hex()}
    out: dict[str, Any] = {
        "kind": action.kind.value,
        "asset": action.asset,
        "amount": str(action.amount),
        "destination": action.destination,
    }
    if isinstance(action, Execute):
        out["announce_id"] = action.announce_id.hex()
    return out


def request_json(request: SpendRequest) -> dict[str, Any]:
    return {
        "request_id": request.request_id.hex(),
        "digest": request.digest().hex(),
        "vault_id": request.vault_id,
        "policy_digest": request.policy_digest.hex(),
        "created_at": request.created_at,
        "expires_at": request.expires_at,
        "action": _action_json(request.action),
        "history": [
            {
                "request_id": e.request.request_id.hex(),
                "digest": e.request.digest().hex(),
                "action": _action_json(e.request.action),
                "expires_at": e.request.expires_at,
                "signatures": [
                    {"key_id": s.key_id.hex(), "approved_at": s.approved_at} for s in e.signatures
                ],
            }
            for e in request.history
        ],
    }


def bundle_json(bundle: SignedBundle) -> dict[str, Any]:
    """For people: every field as text; the CBOR file is what verifies."""
    return {
        "request": request_json(bundle.request),
        "signatures": [
            {
                "station": r.station,
                "key_id": r.key_id.hex(),
                "algorithm": r.algorithm.value,
                "audit_seq": r.audit_seq,
                "log_head": r.log_head.hex(),
                "approved_at": r.approved_at,
                "signature": r.signature.hex(),
            }
            for r in bundle.responses
        ],
    }
