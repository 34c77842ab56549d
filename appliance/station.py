"""A station's stored state, its audit log, and the HSM session in which the log gets sealed.

Everything the ceremonies write goes through ``Station.log`` (before cards,
unsealed) or ``SealedSession.log`` (inside a custodian session: the entry is
committed, then the seal advanced, before the call returns).

What the ceremony reads from the log comes from ``Station.index``: before the
cards, the latest checkpoint in the database and the entries after it, as the
disk says; inside a sealed session, the checkpoint the HSM sealed and the
entries after it, verified. Every entry a session seals carries a new
checkpoint in the same commit and the same seal, so the next session verifies
only what came since.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from appliance import station_state
from appliance.audit_store import AuditStore, approved_request
from appliance.cards import Card, PresentedCard, check_cards, combine, pin_text, wipe
from appliance.clock import Clock, system_clock
from appliance.errors import CardError, StationStateError
from appliance.hsm.pkcs11_signer import Pkcs11Session, Pkcs11Token
from appliance.hsm.uri import parse
from appliance.log_index import LogIndex, VaultLog, checkpoint_digest
from appliance.seal import Seal, read_seal, reconcile, write_seal
from custody.errors import CustodyError
from custody.policy.vault_state import VaultState, replay
from custody.schemas.audit_log import AuditEntry, EntryKind
from custody.schemas.history import RequestCore
from custody.schemas.vault import StationPolicy


class Station:
    def __init__(self, state_dir: Path, clock: Clock = system_clock) -> None:
        self.state_dir = state_dir
        self.state = station_state.load(state_dir)
        self.store = AuditStore(state_dir)
        self.clock = clock
        self._index: LogIndex | None = None
        self._cores: dict[bytes, RequestCore] = {}

    @property
    def index(self) -> LogIndex:
        """The log as the ceremony reads it, up to its last entry (unverified until a sealed session)."""
        if self._index is None or self._index.seq != self.store.head()[0]:
            found = self.store.checkpoint()
            start = LogIndex.from_cbor(found[1]) if found is not None else LogIndex()
            self._index = start.folded(self.store.entries(start.seq + 1))
        return self._index

    def adopt(self, index: LogIndex) -> None:
        """Read the log through ``index`` from now on: the one a sealed session verified."""
        self._index = index

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def keys_by_id(self) -> dict[bytes, Any]:
        return {record.key_id: record for record in self.state.keys.values()}

    def log(
        self,
        kind: EntryKind,
        fields: dict[str, Any],
        now: int,
        *,
        vault: str | None = None,
        request_digest: bytes | None = None,
    ) -> AuditEntry:
        index = self.index
        entry = self.store.append(kind, fields, now, vault=vault, request_digest=request_digest)
        self._index = index.folded([entry])
        return entry

    def log_checkpointed(
        self, kind: EntryKind, fields: dict[str, Any], now: int, *, keep: int, **columns: Any
    ) -> tuple[AuditEntry, bytes]:
        """Commit an entry with the checkpoint as of it (older than ``keep`` dropped); its digest."""
        index, made = self.index, []

        def checkpoint(entry: AuditEntry) -> tuple[bytes, int]:
            folded = index.folded([entry])
            made.append((folded, folded.to_cbor()))
            return made[0][1], keep

        entry = self.store.append(kind, fields, now, checkpoint=checkpoint, **columns)
        self._index, blob = made[0]
        return entry, checkpoint_digest(blob)

    def vault_state(self, vault_id: str) -> VaultState:
        """The vault as this station's log knows it: approvals, every installed definition, times."""
        index = self.index
        log = index.vaults.get(vault_id, VaultLog())
        return replay(
            vault_id,
            [(e.at, self._approved(e)) for e in log.approvals],
            installed_at=log.installs[0].at if log.installs else None,
            clock_floor=index.at,
            definitions=[_logged_policy(e).vault for e in log.installs],
        )

    def _approved(self, entry: AuditEntry) -> RequestCore:
        """An approval's request, parsed once per station opening (each decision reads them all)."""
        core = self._cores.get(entry.hash)
        if core is None:
            core = self._cores[entry.hash] = approved_request(entry)
        return core

    def logged_policy(self, vault_id: str) -> StationPolicy | None:
        """The policy as last installed, from the log (not from the file on disk)."""
        log = self.index.vaults.get(vault_id)
        return _logged_policy(log.installs[-1]) if log and log.installs else None

    def unfinished(self, request_digest: bytes) -> AuditEntry | None:
        """This request's signature logged but never released, else its approval never signed."""
        return self.index.pending.get(request_digest)

    def check_cards(self, presented: Sequence[PresentedCard], now: int) -> list[Card]:
        """The cards against their commitments (no HSM touched); accepted or refused, it is logged."""
        try:
            cards = check_cards(presented, self.state.card_set)
        except CardError as exc:
            self.log(EntryKind.CARDS, {"accepted": False, "reason": str(exc)[:300]}, now)
            raise
        self.log(EntryKind.CARDS, {"accepted": True, "cards": sorted(c.index for c in cards)}, now)
        return cards

    @contextmanager
    def sealed_session(self, cards: Sequence[Card], now: int, *, rw: bool = True) -> Iterator[SealedSession]:
        """Log in with the cards' PIN, check the log against the seal, and hold the session."""
        token = Pkcs11Token(parse(self.state.token_uri))
        secret = combine(cards)
        try:
            with token.session(pin_text(secret, self.state.pin_format), rw=rw) as session:
                wipe(secret)
                sealed = SealedSession(self, session, read_seal(session))
                sealed.recover(now)
                yield sealed
        finally:
            wipe(secret)


def _logged_policy(entry: AuditEntry) -> StationPolicy:
    try:
        return StationPolicy.from_cbor(entry.fields()["policy"])
    except (CustodyError, KeyError, TypeError) as exc:  # unreadable: the log was tampered with
        raise StationStateError(f"audit entry {entry.seq}: logged policy is unreadable ({exc})") from None


class SealedSession:
    def __init__(self, station: Station, session: Pkcs11Session, seal: Seal | None) -> None:
        self.station = station
        self.session = session
        self.first_seal = seal is None
        self.seal = seal or Seal()
        self._check: Seal | None = seal

    def recover(self, now: int) -> None:
        """Check the log against the seal; a tail holding a crash's leftovers is logged and sealed."""
        result = reconcile(self.station.store, self._check, self.station.keys_by_id)
        self.station.adopt(result.index)
        if result.voided or result.signatures or self.first_seal:
            self.log(
                EntryKind.RECOVER,
                {
                    "sealed_seq": self.seal.log_seq,
                    "tail": result.tail,
                    "voided": list(result.voided),
                    "signatures_sealed": list(result.signatures),
                },
                now,
            )

    def log(
        self,
        kind: EntryKind,
        fields: dict[str, Any],
        now: int,
        *,
        vault: str | None = None,
        request_digest: bytes | None = None,
        policy: tuple[str, bytes] | None = None,
    ) -> AuditEntry:
        """Commit the entry with a checkpoint as of it, then seal both (and the tail before) in the HSM.

        The checkpoint the seal named until now is kept: a cut before the new seal is written leaves
        the old seal, which must still find it."""
        entry, digest = self.station.log_checkpointed(
            kind, fields, now, keep=self.seal.checkpoint_seq, vault=vault, request_digest=request_digest
        )
        self.seal_entry(entry, policy, checkpoint=digest)
        return entry

    def seal_entry(
        self, entry: AuditEntry, policy: tuple[str, bytes] | None = None, *, checkpoint: bytes = b""
    ) -> None:
        """Seal an entry already committed (the signature: committed, then the fault point, then sealed)."""
        seal = self.seal.advanced(entry)
        if policy is not None:
            seal = seal.with_policy(*policy)
        if checkpoint:
            seal = seal.with_checkpoint(entry.seq, checkpoint)
        write_seal(self.session, seal)
        self.seal = seal
