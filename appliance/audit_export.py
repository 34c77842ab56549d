"""``appliance audit export``: the log, ending in a head the HSM signed, for the host's audit.

An export is a ceremony with k cards, because both things that make it worth
auditing need the HSM: the log must be the one the seal vouches for (an
older copy of the database is refused here, not exported), and its head is
signed inside the HSM with every key the station holds, under the
``audit-head`` tag, so a cut or rewritten tail contradicts a head nobody can
forge. The export itself is logged first; that entry is the head it ends at.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from typing import BinaryIO

from appliance.cards import PresentedCard
from appliance.errors import KeyMissingError, UsageError
from appliance.station import Station
from custody.schemas.audit_log import EntryKind, HeadSignature, SignedHead, write_export


def export_log(station: Station, presented: Sequence[PresentedCard], out: BinaryIO) -> SignedHead:
    """Write the sealed log with its signed head to ``out``; return the head."""
    records = sorted(station.state.keys.values(), key=lambda r: r.key_id)
    if not records:
        raise UsageError("this station holds no key to sign its log's head with; run 'appliance keygen'")
    now = station.clock()
    cards = station.check_cards(presented, now)
    with station.sealed_session(cards, now) as sealed:  # a log the seal does not vouch for stops here
        before = station.store.head()[0]
        entry = sealed.log(EntryKind.EXPORTED, {"entries_before": before}, now)
        head = SignedHead(station=station.state.station, count=entry.seq, head=entry.hash, at=entry.at)
        digest = head.statement_digest()
        signatures = []
        for record in records:
            key = sealed.session.find_key(record.label)
            if key.key_id != record.key_id:  # a head signed by a key the host never enrolled proves nothing
                raise KeyMissingError(f"the HSM's key {record.label!r} is not the one this station recorded")
            signatures.append(HeadSignature(key_id=key.key_id, signature=sealed.session.sign(key, digest)))
    head = replace(head, signatures=tuple(signatures))
    entries = itertools.takewhile(lambda e: e.seq <= head.count, station.store.entries())
    write_export(out, head, entries)
    return head
