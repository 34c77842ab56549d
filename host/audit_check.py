"""Checking a station's audit export against its signed head, what the host asked for, and the clock.

One pass, constant memory for the chain: each entry's hash is recomputed,
and only ``approve`` and ``signature`` entries are opened. The steps:

1. The head must be signed, inside the station's HSM, by a key enrolled for
   that station; the entries must chain to exactly that count and head. A cut
   or re-chained tail contradicts a head nobody without the HSM can sign.
2. Heads only go forwards: every head the host saw earlier (in responses, in
   earlier audits) must still be in the chain at its sequence number, so an
   older export, or a log rolled back, names what it leaves out.
3. Every signature must answer a request this host built (the nanakusa
   lesson) and verify under the station's key.
4. The station's clock: entries dated after the auditor's clock, a head
   dated too far either side of it, approvals dated after the host collected
   their answer or before the request existed, and entries where the
   station's clock read earlier than its log (a jump undone).
5. Anomalies (``host.anomalies``) are listed for a person; they do not fail it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from custody.errors import CustodyError
from custody.policy.vault_state import CLOCK_SKEW_SECONDS
from custody.schemas.audit_log import AuditEntry, ChainReport, EntryKind, SignedHead, verify_chain
from custody.schemas.history import RequestCore
from custody.schemas.key_record import Algorithm
from custody.schemas.request import SpendRequest
from custody.schemas.response import SignatureResponse
from custody.schemas.vault import Rules
from host.anomalies import Anomaly, anomalies

MAX_LISTED = 50  # findings of one kind listed in full; the rest are counted
MAX_ANALYSED = 100_000  # approvals kept for the anomaly report (the most recent)
#: An export older than this is flagged: a newer tail could be withheld behind it.
DEFAULT_MAX_AGE = 86_400


class Flag(StrEnum):
    CHAIN = "chain"  # hashes, links, sequence or times broken
    HEADER = "header"  # the export's head disagrees with its entries
    UNSIGNED = "unsigned-head"  # the head is not signed by a key enrolled for this station
    UNREADABLE = "unreadable"  # the export stops being CBOR part-way
    UNREQUESTED = "unrequested"  # a signature (or approval) for a request the host never built
    FORGED = "forged"  # a logged signature that does not verify, or not by this station's key
    REWRITTEN = "rewritten"  # an entry's hash differs from the head the host saw earlier
    ROLLED_BACK = "rolled-back"  # the log ends before a head the host saw earlier
    STALE = "stale"  # the export is older than the auditor accepts
    CLOCK_AHEAD = "clock-ahead"  # the station's clock ran ahead of the auditor's
    CLOCK_BACK = "clock-back"  # the station's clock read earlier than its own log


@dataclass(frozen=True, slots=True)
class Finding:
    flag: Flag
    text: str


@dataclass(slots=True)
class AuditReport:
    station: str
    chain: ChainReport | None = None
    findings: list[Finding] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    signatures: int = 0
    matched: int = 0
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
    station_keys: Mapping[bytes, tuple[Algorithm, bytes]]  # the station's enrolled keys, by key id
    seen_heads: Mapping[int, tuple[bytes, str]]  # seq -> (hash, where the host saw it)
    collected_at: Mapping[bytes, int]  # request digest -> when the host collected this station's answer
    rules_of: Callable[[str], Rules | None]
    now: int  # the auditor's clock
    max_age: int = DEFAULT_MAX_AGE


def audit_export(
    header: SignedHead,
    entries: Iterator[AuditEntry],
    known: Known,
    *,
    on_entry: Callable[[int], None] | None = None,
) -> AuditReport:
    """Check one export in one pass; ``on_entry`` is told how many entries have been checked, after each.

    The callback is how a caller shows progress on a long export without
    this check knowing about terminals."""
    report = AuditReport(header.station)
    pending_heads = dict(known.seen_heads)
    approvals: list[tuple[int, int, RequestCore]] = []
    ahead, latest = 0, known.now + CLOCK_SKEW_SECONDS
    opened = (EntryKind.SIGNATURE.value, EntryKind.APPROVE.value)

    def tapped() -> Iterator[AuditEntry]:
        nonlocal ahead
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
                if entry.at > latest:
                    ahead += 1
                    if ahead == 1:
                        report.flag(
                            Flag.CLOCK_AHEAD,
                            f"entry {entry.seq} is dated {entry.at - known.now} s after this auditor's clock",
                        )
                if entry.kind in opened:
                    _inspect(entry, known, report, approvals)
                if b"clock_reading" in entry.body:  # cheap: the key's text is in the canonical bytes
                    _clock_back(entry, report)
                yield entry
                if on_entry is not None:
                    on_entry(number)
        except CustodyError as exc:
            report.flag(Flag.UNREADABLE, f"after {number} entries: {exc}")

    chain = verify_chain(tapped())
    report.chain = chain
    for problem in chain.problems:
        report.flag(Flag.CHAIN, problem)
    if ahead > 1:
        report.flag(Flag.CLOCK_AHEAD, f"{ahead} entries in all are dated after this auditor's clock")
    _check_head(header, chain, known, report)
    for seq, (_, where) in sorted(pending_heads.items()):
        if seq > chain.last_seq:
            report.flag(
                Flag.ROLLED_BACK,
                f"the log ends at entry {chain.last_seq}, but entry {seq} was seen earlier ({where})",
            )
    report.anomalies = anomalies(approvals, known.rules_of)
    return report


def _check_head(header: SignedHead, chain: ChainReport, known: Known, report: AuditReport) -> None:
    if not header.valid_signers(known.station_keys):
        report.flag(
            Flag.UNSIGNED,
            f"the head (entry {header.count}) is not signed by any key enrolled for {header.station}: "
            "nothing vouches for where the log ends",
        )
    if chain.count != header.count or (chain.ok and chain.head != header.head):
        report.flag(
            Flag.HEADER,
            f"the signed head says {header.count} entries ending in {header.head.hex()[:16]}, "
            f"the entries give {chain.count} ending in {chain.head.hex()[:16]}",
        )
    if header.at > known.now + CLOCK_SKEW_SECONDS:
        report.flag(
            Flag.CLOCK_AHEAD, f"the head is dated {header.at - known.now} s after this auditor's clock"
        )
    elif header.at < known.now - known.max_age:
        report.flag(
            Flag.STALE,
            f"the export was made {known.now - header.at} s ago: a newer tail may be withheld; export again",
        )


def _clock_back(entry: AuditEntry, report: AuditReport) -> None:
    try:
        reading = entry.fields().get("clock_reading")
    except CustodyError:
        return  # the chain check reports an unreadable body
    if isinstance(reading, int):
        report.flag(
            Flag.CLOCK_BACK,
            f"entry {entry.seq}: the station's clock read {entry.at - reading} s earlier than its last "
            "entry: it was set back, or had jumped ahead before",
        )


def _inspect(
    entry: AuditEntry, known: Known, report: AuditReport, approvals: list[tuple[int, int, RequestCore]]
) -> None:
    try:
        fields = entry.fields()
        if entry.kind == EntryKind.APPROVE:
            core = RequestCore.from_cbor(fields["request"])
            _approval(entry, core, known, report)
            if len(approvals) >= MAX_ANALYSED:
                del approvals[0]
            approvals.append((entry.seq, entry.at, core))
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
    key = known.station_keys.get(response.key_id)
    if key is None:
        report.flag(
            Flag.FORGED,
            f"entry {entry.seq}: signed with key {response.key_id.hex()[:16]}, not a key enrolled for "
            "this station",
        )
        return
    try:
        response.verify(key[1])
    except CustodyError as exc:
        report.flag(Flag.FORGED, f"entry {entry.seq}: logged signature does not verify ({exc})")
        return
    report.matched += 1


def _approval(entry: AuditEntry, core: RequestCore, known: Known, report: AuditReport) -> None:
    request = known.request_by_digest(core.digest())
    if request is None:
        report.flag(
            Flag.UNREQUESTED,
            f"entry {entry.seq}: approved request {core.request_id.hex()[:8]} "
            f"({core.action.kind.value}, vault {core.vault_id}), which this host never built",
        )
        return
    collected = known.collected_at.get(core.digest())
    if collected is not None and entry.at > collected + CLOCK_SKEW_SECONDS:
        report.flag(
            Flag.CLOCK_AHEAD,
            f"entry {entry.seq}: approval dated {entry.at - collected} s after this host collected its "
            f"answer: the station's clock was ahead, so its delays were short",
        )
    if entry.at < request.created_at - CLOCK_SKEW_SECONDS:
        report.flag(
            Flag.CLOCK_BACK,
            f"entry {entry.seq}: approval dated {request.created_at - entry.at} s before the request "
            "was built: the station's clock was behind",
        )
