"""Requests that arrive in another coordinator's envelope (ERC-4527, ``crypto-psbt``), made the station's own.

The envelope carries only the chain payload. The station finds the installed
vault it belongs to, derives the action from the payload it parsed, and
builds its own request, which then goes through the same policy, review,
cards, HSM and log as any other. The coordinator carries no vault history,
so the station puts its own recent requests in (unsigned) and counts its own
log alone: the vault-wide limits need the vault's own requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from airgap.ur.ur import UR
from appliance import policy_store
from appliance.errors import StationStateError
from custody.policy.codes import Code
from custody.policy.history import vault_view
from custody.policy.vault_state import VaultState
from custody.schemas.history import MAX_HISTORY, HistoryEntry
from custody.schemas.request import SpendRequest, Withdraw
from custody.schemas.vault import StationPolicy

#: How long a request made from a wallet envelope stays valid (at most the vault's own lifetime).
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
    request: SpendRequest
    policy: StationPolicy
    answer: Callable[[bytes, bytes], UR]  # (the station's public key, its chain signature) -> the reply


def installed_policies(state_dir: Path) -> Iterator[StationPolicy]:
    for vault_id in policy_store.installed(state_dir):
        try:
            yield policy_store.load(state_dir, vault_id)
        except (policy_store.PolicyMissingError, StationStateError):
            continue  # a damaged policy is refused when its own vault's request comes


def withdrawal_request(
    policy: StationPolicy,
    *,
    request_id: bytes,
    action: Withdraw,
    payload: bytes,
    now: int,
    fee: int = 0,
    sequence: int = 0,
) -> SpendRequest:
    vault = policy.vault
    lifetime = min(LIFETIME_SECONDS, vault.rules.max_request_lifetime_seconds)
    return SpendRequest(
        request_id=request_id,
        vault_id=vault.vault_id,
        policy_digest=vault.digest(),
        created_at=now,
        expires_at=now + lifetime,
        action=action,
        payload=payload,
        fee=fee,
        sequence=sequence,
    )


def with_own_history(translated: Translated, state: VaultState, now: int) -> Translated:
    """The request carrying this station's own recent requests as its history, unsigned: the
    coordinator sends none, and the station trusts its own log for what it signed."""
    request = translated.request
    missing = vault_view(translated.policy.vault, state, request).missing(request, now)
    entries = sorted(
        (HistoryEntry(request=e.request, signatures=()) for e in missing), key=lambda e: e.request.digest()
    )
    return replace(translated, request=replace(request, history=tuple(entries[-MAX_HISTORY:])))
