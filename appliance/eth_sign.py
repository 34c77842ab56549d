"""ERC-4527 at the station: a coordinator's ``eth-sign-request`` made into the station's own request,
and the signature answered as ``eth-signature``.

The SafeTx is parsed from the typed data, matched to the installed Safe vault
by chain id and Safe address, and decoded into facts exactly as from the
station's own envelope. A single transfer becomes a withdrawal the policy
checks like any other. Anything else is refused here with the reason
(DELEGATECALL, unexplained calldata, a batch, or owner changes, which need
the vault's own request because it names the new keys). The coordinator
carries no vault history, so the station puts its own recent requests in
(unsigned) and counts its own log alone: the vault-wide limits need the
vault's own requests (docs/evm.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from appliance import policy_store
from appliance.errors import StationStateError
from appliance.review import stamp
from custody.chains.base import ChainError
from custody.chains.evm.calls import OwnerCall, Unexplained
from custody.chains.evm.erc4527 import EthSignRequest, parse_sign_request
from custody.chains.evm.facts import EvmFacts, parse
from custody.chains.evm.safe_tx import checksum
from custody.chains.evm.signatures import address_of, owner_signature
from custody.policy.codes import Code
from custody.policy.history import vault_view
from custody.policy.vault_state import VaultState
from custody.schemas.chain_evm import EvmBinding
from custody.schemas.history import MAX_HISTORY, HistoryEntry
from custody.schemas.request import SpendRequest, Withdraw
from custody.schemas.vault import StationPolicy

#: How long a request made from an eth-sign-request stays valid (at most the vault's own lifetime).
LIFETIME_SECONDS = 600


class Untranslatable(Exception):
    """Why the station will not sign what the coordinator sent, with the code it refuses under."""

    def __init__(self, code: Code | None, detail: str, rows: list[tuple[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.code = code  # None: not a request this station can read at all
        self.detail = detail
        self.rows = rows or []  # what the transaction does, for the screen


@dataclass(frozen=True, slots=True)
class Translated:
    wire: EthSignRequest
    request: SpendRequest
    policy: StationPolicy
    safe_tx_hash: bytes  # what the station's chain signature is over


def _policy_for(state_dir: Path, chain_id: int, safe: bytes) -> StationPolicy:
    for vault_id in policy_store.installed(state_dir):
        try:
            policy = policy_store.load(state_dir, vault_id)
        except (policy_store.PolicyMissingError, StationStateError):
            continue  # a damaged policy is refused when its own vault's request comes
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


def translate(state_dir: Path, data: bytes, now: int) -> Translated:
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
    lifetime = min(LIFETIME_SECONDS, vault.rules.max_request_lifetime_seconds)
    request = SpendRequest(
        request_id=wire.request_id or hashlib.sha256(data).digest()[:16],
        vault_id=vault.vault_id,
        policy_digest=vault.digest(),
        created_at=now,
        expires_at=now + lifetime,
        action=action,
        payload=payload,
        sequence=tx.nonce,
    )
    return Translated(wire=wire, request=request, policy=policy, safe_tx_hash=facts.safe_tx_hash)


def with_own_history(translated: Translated, state: VaultState, now: int) -> Translated:
    """The request carrying this station's own recent requests as its history, unsigned: the
    coordinator sends none, and the station trusts its own log for what it signed."""
    request = translated.request
    missing = vault_view(translated.policy.vault, state, request).missing(request, now)
    entries = sorted(
        (HistoryEntry(request=e.request, signatures=()) for e in missing), key=lambda e: e.request.digest()
    )
    return replace(translated, request=replace(request, history=tuple(entries[-MAX_HISTORY:])))


def eth_signature(translated: Translated, public_key: bytes, chain_signature: bytes) -> bytes:
    """The 65-byte owner signature (v by recovery, checked against this station's address)."""
    return owner_signature(translated.safe_tx_hash, chain_signature, address_of(public_key))
