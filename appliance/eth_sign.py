"""ERC-4527 at the station: a coordinator's ``eth-sign-request`` made into the station's own request,
and the signature answered as ``eth-signature``.

The SafeTx is parsed from the typed data, matched to the installed Safe vault
by chain id and Safe address, and decoded into facts exactly as from the
station's own envelope. A single transfer becomes a withdrawal the policy
checks like any other (appliance.wallet_requests). Anything else is refused
here with the reason (DELEGATECALL, unexplained calldata, a batch, or owner
changes, which need the vault's own request because it names the new keys).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from airgap.ur.ur import UR
from appliance.review import stamp
from appliance.wallet_requests import Translated, Untranslatable, installed_policies, withdrawal_request
from custody.chains.base import ChainError
from custody.chains.evm.calls import OwnerCall, Unexplained
from custody.chains.evm.erc4527 import SIGNATURE_UR_TYPE, encode_signature, parse_sign_request
from custody.chains.evm.facts import EvmFacts, parse
from custody.chains.evm.safe_tx import checksum
from custody.chains.evm.signatures import address_of, owner_signature
from custody.policy.codes import Code
from custody.schemas.chain_evm import EvmBinding
from custody.schemas.request import Withdraw
from custody.schemas.vault import StationPolicy


def _policy_for(state_dir: Path, chain_id: int, safe: bytes) -> StationPolicy:
    for policy in installed_policies(state_dir):
        chain = policy.vault.chain
        if isinstance(chain, EvmBinding) and (chain.chain_id, chain.safe) == (chain_id, safe):
            return policy
    raise Untranslatable(
        Code.WRONG_CHAIN, f"no vault of this station is the Safe {checksum(safe)} on chain {chain_id}"
    )


def _refusal(facts: EvmFacts) -> tuple[Code, str]:
    if facts.delegate_problem:
        return Code.DELEGATECALL, facts.delegate_problem
    unexplained = [e.reason for e in facts.effects if isinstance(e, Unexplained)]
    if unexplained:
        return Code.UNEXPLAINED, "; ".join(unexplained)[:300]
    if any(isinstance(e, OwnerCall) for e in facts.effects):
        return Code.PAYLOAD_MISMATCH, (
            "owner changes are signed from the vault's own rekey or raise-lock request, which names the "
            "stations' keys; an eth-sign-request carries only the transaction"
        )
    return (
        Code.PAYLOAD_MISMATCH,
        f"the transaction makes {len(facts.effects)} calls; this path signs one transfer",
    )


def translate(state_dir: Path, ur_type: str, data: bytes, now: int) -> Translated:
    """The station's request for an ``eth-sign-request``; Untranslatable with the reason otherwise."""
    try:
        wire = parse_sign_request(data)
        tx = replace(wire, chain_id=None).safe_tx()  # the domain's chain id, compared below
    except ChainError as exc:
        raise Untranslatable(None, str(exc)[:300]) from None
    if wire.chain_id is not None and wire.chain_id != tx.chain_id:
        raise Untranslatable(
            Code.WRONG_CHAIN,
            f"the request's chain-id {wire.chain_id} differs from the typed data's domain chainId "
            f"{tx.chain_id}",
        )
    policy = _policy_for(state_dir, tx.chain_id, tx.safe)
    vault = policy.vault
    own = vault.key(policy.key_id)
    if own is not None and wire.address and wire.address != address_of(own.public_key):
        raise Untranslatable(
            Code.PAYLOAD_MISMATCH,
            f"the request is for signer {checksum(wire.address)}; this station's owner address is "
            f"{checksum(address_of(own.public_key))}",
        )
    payload = tx.to_payload()
    try:
        facts = parse(vault, payload)
    except ChainError as exc:
        raise Untranslatable(Code.PAYLOAD_INVALID, str(exc)[:300]) from None
    transfers = facts.transfers()
    if facts.delegate_problem or len(facts.effects) != 1 or len(transfers) != 1:
        code, detail = _refusal(facts)
        raise Untranslatable(code, detail, facts.review_rows(vault, stamp))
    transfer = transfers[0]
    asset = facts.asset_of(transfer, vault)
    action = Withdraw(
        asset=asset.code if asset is not None else "?",
        amount=transfer.amount,
        destination=checksum(transfer.to),
    )
    request = withdrawal_request(
        policy,
        request_id=wire.request_id or hashlib.sha256(data).digest()[:16],
        action=action,
        payload=payload,
        now=now,
        sequence=tx.nonce,
    )

    def answer(public_key: bytes, chain_signature: bytes) -> UR:
        """The 65-byte owner signature (v by recovery, checked against this station's address)."""
        signature = owner_signature(facts.safe_tx_hash, chain_signature, address_of(public_key))
        return UR(SIGNATURE_UR_TYPE, encode_signature(wire.request_id, signature))

    return Translated(request=request, policy=policy, answer=answer)
