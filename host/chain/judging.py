"""A signed bundle of a chain vault, judged as the chain will judge it: assembled and run offline.

``check_bundle`` proves who approved the request. For a chain vault this
goes on: the spend the request carries must do what the request says (the
facts the stations derived, checked again at the time they approved), and
the spend assembled from the stations' chain signatures must pass the
chain's own rules, run offline by the adapter's judge.
"""

from __future__ import annotations

from chia_wallet_sdk import SpendBundle

from custody.chains import adapter_for, facts_for
from custody.errors import CustodyError
from custody.policy.history import vault_view
from custody.policy.vault_state import VaultState
from custody.schemas.bundle import Finding, Problem, SignedBundle, check_response
from custody.schemas.vault import VaultDefinition


def chain_signatures(vault: VaultDefinition, bundle: SignedBundle) -> dict[bytes, bytes]:
    """The chain signatures of the bundle's valid responses, by key id."""
    return {
        r.key_id: r.chain_signature
        for r in bundle.responses
        if check_response(vault, bundle.request, r) is None
    }


def final_spend(vault: VaultDefinition, bundle: SignedBundle) -> bytes:
    """The chain's final form of the approved spend; CustodyError if it cannot be assembled."""
    assert vault.chain is not None
    return adapter_for(vault.chain).assemble(vault, bundle.request, chain_signatures(vault, bundle))


def chain_findings(vault: VaultDefinition, bundle: SignedBundle, now: int) -> list[Finding]:
    """Every reason the chain would refuse the bundle's spend at ``now``; empty for a statement vault."""
    if vault.chain is None:
        return []
    request = bundle.request
    try:
        facts = facts_for(vault, request)
        view = vault_view(vault, VaultState(vault_id=vault.vault_id), request)
    except CustodyError as exc:
        return [Finding(Problem.SPEND_MISMATCH, f"the request's chain spend: {exc}")]
    assert facts is not None
    approved = max((r.approved_at for r in bundle.responses), default=request.created_at)
    findings = [
        Finding(Problem.SPEND_MISMATCH, f"{c.rule}: {c.detail}")
        for c in facts.checks(vault, view, request, approved)
        if not c.ok
    ]
    try:
        final = final_spend(vault, bundle)
    except CustodyError as exc:
        return [*findings, Finding(Problem.CHAIN_REJECTS, f"the spend cannot be assembled: {exc}")]
    assert vault.chain is not None
    reasons = adapter_for(vault.chain).judge(vault, request, final, now)
    return [*findings, *(Finding(Problem.CHAIN_REJECTS, r) for r in reasons)]


def spend_bundle(vault: VaultDefinition, bundle: SignedBundle) -> SpendBundle:
    return SpendBundle.from_bytes(final_spend(vault, bundle))
