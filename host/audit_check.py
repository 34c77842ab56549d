"""Checking a station's audit export against what the host asked for and what it saw before.

One pass, constant memory: the chain is recomputed entry by entry, and only
``approve`` and ``signature`` entries are opened. Every signature the station
logged must answer a request this host built; one that does not is the
nanakusa lesson (keys used for something nobody on the host side asked for)
and is flagged. Heads the host saw earlier (in responses, in earlier audits)
must still be in the chain at their sequence numbers, or the log was
rewritten or rolled back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from custody.errors import CustodyError
from custody.schemas.audit_log import AuditEntry, ChainReport, EntryKind, ExportHeader, verify_chain
from custody.schemas.key_record import key_id_for
from custody.schemas.request import SpendRequest
from custody.schemas.response import SignatureResponse

MAX_LISTED = 50  # findings of one kind listed in full; the rest are counted


class Flag(StrEnum):
    CHAIN = "chain"  # hashes, links, sequence or times broken
    HEADER = "header"  # the export's header disagrees with its entries
    UNREADABLE = "unreadable"  # the export stops being CBOR part-way
    UNREQUESTED = "unrequested"  # a signature (or approval) for a request the host never built
    FORGED = "forged"  # a logged signature that does not verify, or not by this station's key
    REWRITTEN = "rewritten"  # an entry's hash differs from the head the host saw earlier
    ROLLED_BACK = "rolled-back"  # the log ends before a head the host saw earlier


@dataclass(frozen=True, slots=True)
class Finding:
    flag: Flag
    text: str


@dataclass(slots=True)
class AuditReport:
    station: str
    chain: ChainReport | None = None
    findings: list[Finding] = field(default_factory=list)
    signatures: int = 0
    matched: int = 0
    #: (request id, station's time) of each approval of a known request: exact times for the timeline.
    approvals: list[tuple[bytes, int]] = field(default_factory=list)
    suppressed: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings and self.chain is not None and self.chain.ok

    def flag(self, flag: Flag, text: str) -> None:
        if sum(f.flag is flag for f in self.findings) >= MAX_LISTED:
            self.suppressed += 1
            return
        self.findings.append(Finding(flag, text))


@dataclass(frozen=True, slots=True)
class Known:
    """What the host knows, as lookups, so the check stays pure and the registry stays outside."""

    request_by_digest: Callable[[bytes], SpendRequest | None]
    station_key: bytes | None  # the station's enrolled public key, if enrolled
    seen_heads: Mapping[int, tuple[bytes, str]]  # seq -> (hash, where the host saw it)


def audit_export(header: ExportHeader, entries: Iterator[AuditEntry], known: Known) -> AuditReport:
    report = AuditReport(header.station)
    pending_heads = dict(known.seen_heads)

    def tapped() -> Iterator[AuditEntry]:
        number = 0
        try:
            for entry in entries:
                number += 1
                seen = pending_heads.pop(entry.seq, None)
                if seen is not None and seen[0] != entry.hash:
                    report.flag(
                        Flag.REWRITTEN,
                        f"entry {entry.seq}: hash {entry.hash.hex()[:16]} differs from {seen[0].hex()[:16]} "
                        f"seen earlier ({seen[1]})",
                    )
                if entry.kind == EntryKind.SIGNATURE or entry.kind == EntryKind.APPROVE:
                    _inspect(entry, known, report)
                yield entry
        except CustodyError as exc:
            report.flag(Flag.UNREADABLE, f"after {number} entries: {exc}")

    chain = verify_chain(tapped())
    report.chain = chain
    for problem in chain.problems:
        report.flag(Flag.CHAIN, problem)
    if chain.count != header.count or (chain.ok and chain.head != header.head):
        report.flag(
            Flag.HEADER,
            f"header says {header.count} entries ending in {header.head.hex()[:16]}, "
            f"the entries give {chain.count} ending in {chain.head.hex()[:16]}",
        )
    for seq, (_, where) in sorted(pending_heads.items()):
        if seq > chain.last_seq:
            report.flag(
                Flag.ROLLED_BACK,
                f"the log ends at entry {chain.last_seq}, but entry {seq} was seen earlier ({where})",
            )
    return report


def _inspect(entry: AuditEntry, known: Known, report: AuditReport) -> None:
    try:
        fields = entry.fields()
        if entry.kind == EntryKind.APPROVE:
            request = SpendRequest.from_cbor(fields["request"])
            if known.request_by_digest(request.digest()) is None:
                report.flag(
                    Flag.UNREQUESTED,
                    f"entry {entry.seq}: approved request {request.request_id.hex()[:8]} "
                    f"({request.action.kind.value}, vault {request.vault_id}), which this host never built",
                )
            else:
                report.approvals.append((request.request_id, entry.at))
            return
        response = SignatureResponse.from_cbor(fields["response"])
    except (CustodyError, KeyError, TypeError) as exc:
        report.flag(Flag.CHAIN, f"entry {entry.seq}: {entry.kind} entry is unreadable ({exc})")
        return
    report.signatures += 1
    if known.request_by_digest(response.request_digest) is None:
        report.flag(
            Flag.UNREQUESTED,
            f"entry {entry.seq}: SIGNATURE on request {response.request_id.hex()[:8]} "
            f"(vault {response.vault_id}, digest {response.request_digest.hex()[:16]}), "
            "which this host never built",
        )
        return
    if known.station_key is not None:
        if response.key_id != key_id_for(known.station_key):
            report.flag(
                Flag.FORGED,
                f"entry {entry.seq}: signed with key {response.key_id.hex()[:16]}, "
                "not the key enrolled for this station",
            )
            return
        try:
            response.verify(known.station_key)
        except CustodyError as exc:
            report.flag(Flag.FORGED, f"entry {entry.seq}: logged signature does not verify ({exc})")
            return
    report.matched += 1
