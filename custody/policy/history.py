"""The vault as a whole, as one station can prove it: the request's history, checked, plus its own log.

Each history entry is an earlier request of the vault with the signatures the
host holds for it. Every signature is verified against the vault definition
the entry names (any generation this station installed); one that does not
verify makes the whole request refused, since only a broken or hostile host
sends it. An entry under a definition this station never installed cannot be
checked, so it counts against the limits but authorises nothing.

**When an entry happened.** An entry with a quorum of valid signatures was
authorised at the latest approval time among them (each signed inside a
station's HSM). An entry with fewer might still gain signatures until it
expires, so it counts as happening at its expiry. Both are at or after the
moment the spend could really first be made: counting them there can only
make a station stricter. docs/vault-wide.md has the argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from custody.errors import CustodyError
from custody.policy.vault_state import Approval, VaultState, action_lookback, spend_lookback
from custody.schemas.history import HistoryEntry, HistorySignature, RequestCore
from custody.schemas.request import (
    Announce,
    Cancel,
    Execute,
    RaiseLock,
    SlowRekey,
    SpendRequest,
    Withdraw,
    signatures_needed,
)
from custody.schemas.response import SignatureResponse
from custody.schemas.signatures import SignatureError
from custody.schemas.vault import VaultDefinition, VaultKey


class HistoryError(CustodyError):
    """The request's history is not the vault's: another vault, or a signature that does not hold."""


def response_for(core: RequestCore, key: VaultKey, signature: HistorySignature) -> SignatureResponse:
    """The whole signature response a history signature stands for."""
    return SignatureResponse(
        request_id=core.request_id,
        request_digest=core.digest(),
        vault_id=core.vault_id,
        station=key.station,
        key_id=signature.key_id,
        algorithm=key.algorithm,
        audit_seq=signature.audit_seq,
        log_head=signature.log_head,
        approved_at=signature.approved_at,
        chain_signature=signature.chain_signature,
        signature=signature.signature,
    )


def history_signature(response: SignatureResponse) -> HistorySignature:
    return HistorySignature(
        key_id=response.key_id,
        approved_at=response.approved_at,
        audit_seq=response.audit_seq,
        log_head=response.log_head,
        signature=response.signature,
        chain_signature=response.chain_signature,
    )


@dataclass(frozen=True, slots=True)
class Event:
    """One request of the vault, as far as this station can tell."""

    request: RequestCore
    at: int  # when it was, or may yet be, authorised: never earlier than it could really have been
    finalized: bool  # a quorum of valid signatures under a definition installed here
    signers: tuple[str, ...]  # stations whose signatures in the history verified
    own_at: int | None = None  # when this station approved it, if it did
    in_history: bool = True

    @property
    def is_spend(self) -> bool:
        return isinstance(self.request.action, Withdraw | Announce)


def verify_entry(
    entry: HistoryEntry, definitions: Mapping[bytes, VaultDefinition], vault_id: str, number: int
) -> Event:
    core = entry.request
    where = f"history entry {number} (request {core.request_id.hex()[:8]})"
    if core.vault_id != vault_id:
        raise HistoryError(f"{where} is for vault {core.vault_id!r}")
    definition = definitions.get(core.policy_digest)
    if definition is None:  # a generation never installed here: counted, but it proves nothing
        return Event(core, core.expires_at, finalized=False, signers=())
    signers, latest = [], 0
    for sig in entry.signatures:
        key = definition.key(sig.key_id)
        if key is None:
            raise HistoryError(f"{where}: key {sig.key_id.hex()[:16]} is not one of that vault's keys")
        try:
            response_for(core, key, sig).verify(key.public_key)
        except SignatureError as exc:
            raise HistoryError(f"{where}: {key.station}'s signature does not hold ({exc})") from None
        signers.append(key.station)
        latest = max(latest, sig.approved_at)
    finalized = len(signers) >= signatures_needed(core.action, definition.threshold)
    return Event(core, latest if finalized else core.expires_at, finalized, tuple(signers))


@dataclass(frozen=True, slots=True)
class VaultView:
    """Everything the rules read: this station's state and the vault's events, history and own merged."""

    vault: VaultDefinition
    state: VaultState
    events: tuple[Event, ...]
    history: frozenset[bytes]  # request digests in this request's history

    @property
    def clock_floor(self) -> int:
        return self.state.clock_floor

    @property
    def used_request_ids(self) -> frozenset[bytes]:
        return frozenset(e.request.request_id for e in self.events) | self.state.used_request_ids

    def last_action_at(self) -> int | None:
        times = [e.at for e in self.events]
        if self.state.installed_at is not None:
            times.append(self.state.installed_at)
        return max(times, default=None)

    def spends_after(self, t: int) -> list[Event]:
        """Withdrawals and announcements, vault-wide, counted as happening after ``t``."""
        return [e for e in self.events if e.is_spend and e.at > t]

    def own_spends_after(self, t: int) -> list[Approval]:
        return [a for a in self.state.approvals if a.is_spend and a.at > t]

    def announcement(self, announce_id: bytes) -> Event | None:
        return next(
            (
                e
                for e in self.events
                if e.request.request_id == announce_id and isinstance(e.request.action, Announce)
            ),
            None,
        )

    def pending(self, request_id: bytes) -> Announce | SlowRekey | None:
        """What a cancellation may name: an announcement, or a slow rekey the chain holds."""
        for e in self.events:
            if e.request.request_id == request_id and isinstance(e.request.action, Announce | SlowRekey):
                return e.request.action
        return None

    def closers(self, announce_id: bytes, request_id: bytes) -> list[Event]:
        """Executions and cancellations of the announcement, other than ``request_id`` itself."""
        return [
            e
            for e in self.events
            if isinstance(e.request.action, Execute | Cancel)
            and e.request.action.announce_id == announce_id
            and e.request.request_id != request_id
        ]

    def approved_lock(self) -> int:
        """The highest raise-lock of the current generation that anyone signed (0: none)."""
        digest = self.vault.digest()
        return max(
            (
                e.request.action.threshold
                for e in self.events
                if isinstance(e.request.action, RaiseLock) and e.request.policy_digest == digest
            ),
            default=0,
        )

    def missing(self, request: SpendRequest, now: int) -> list[Approval]:
        """This station's approvals that the history must hold, and does not."""
        rules = self.vault.rules
        action = request.action
        announce_id = action.announce_id if isinstance(action, Execute | Cancel) else None
        out = []
        for a in self.state.approvals:
            if a.request.digest() in self.history or a.request.request_id == request.request_id:
                continue
            mine = a.request.action
            same_announcement = (
                announce_id is not None
                and isinstance(mine, Execute | Cancel)
                and mine.announce_id == announce_id
            )
            if (
                (a.is_spend and a.at > now - spend_lookback(rules))
                or a.at > now - action_lookback(rules)
                or same_announcement
            ):
                out.append(a)
        return out


def vault_view(vault: VaultDefinition, state: VaultState, request: SpendRequest) -> VaultView:
    """The vault-wide view ``request`` gives this station; HistoryError if its history is not sound."""
    definitions = {**state.definitions, vault.digest(): vault}
    by_digest = {
        e.request.digest(): e
        for e in (
            verify_entry(entry, definitions, vault.vault_id, n) for n, entry in enumerate(request.history, 1)
        )
    }
    history = frozenset(by_digest)
    for a in state.approvals:
        digest = a.request.digest()
        seen = by_digest.get(digest)
        if seen is None:
            by_digest[digest] = Event(
                a.request, a.at, finalized=False, signers=(), own_at=a.at, in_history=False
            )
        else:
            by_digest[digest] = Event(
                seen.request, max(seen.at, a.at), seen.finalized, seen.signers, own_at=a.at
            )
    return VaultView(vault, state, tuple(by_digest.values()), history)
