"""What must hold after every power cut, checked from outside the station: pure functions of what is on disk.

The inputs are the audit log's entries (as the database holds them), the
seal as the HSM holds it (read in a logged-in session), the witness file in
which the station's screen recorded every answer before showing it, the
vault's rate limits and the station's public keys. Nothing here trusts the
station's own bookkeeping (its recover entries, its void list): a shown
signature must be found, byte for byte, in an entry committed before it was
shown; no request may have two different signatures; and the signed spends
are re-added window by window against the limits.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from custody.errors import CustodyError
from custody.schemas.audit_log import GENESIS, AuditEntry, EntryKind, verify_chain
from custody.schemas.history import RequestCore
from custody.schemas.key_record import Algorithm
from custody.schemas.request import Announce, Withdraw
from custody.schemas.response import SignatureResponse
from custody.schemas.signatures import SignatureError

CHECKS = ("chain", "seal", "shown", "once", "rate", "progress")


@dataclass(frozen=True, slots=True)
class Violation:
    check: str  # one of CHECKS
    text: str


@dataclass(frozen=True, slots=True)
class SealView:
    """The HSM's seal: the log head it vouches for and each vault's sealed policy digest."""

    log_seq: int
    log_head: bytes
    policies: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Shown:
    """One answer the station's screen recorded, durably, before showing it."""

    cycle: int
    step: str
    kind: str  # "signature" or "refusal"
    cbor: bytes
    request_digest: bytes
    head_seq: int  # the last entry committed in the database when it was shown

    def to_line(self) -> bytes:
        record = {
            "cycle": self.cycle,
            "step": self.step,
            "kind": self.kind,
            "cbor": self.cbor.hex(),
            "request_digest": self.request_digest.hex(),
            "head_seq": self.head_seq,
        }
        return json.dumps(record, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> Shown:
        r = json.loads(line)
        return cls(
            int(r["cycle"]),
            str(r["step"]),
            str(r["kind"]),
            bytes.fromhex(r["cbor"]),
            bytes.fromhex(r["request_digest"]),
            int(r["head_seq"]),
        )


@dataclass(frozen=True, slots=True)
class Limits:
    window_seconds: int
    window_max: int
    window_count: int


@dataclass(frozen=True, slots=True)
class Witness:
    shown: tuple[Shown, ...]
    torn: int  # a last line cut mid-write: its show never returned, so it was never shown


def read_witness(path: Path) -> Witness:
    """Every whole record; only a last line without its newline may be torn, anything else is damage."""
    if not path.exists():
        return Witness((), 0)
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    shown = tuple(Shown.from_line(line) for line in lines if line)
    return Witness(shown, 1 if tail else 0)


def shown_signatures(witness: Witness) -> dict[bytes, bytes]:
    """Request digest -> the response bytes shown for it (the host's ledger)."""
    return {s.request_digest: s.cbor for s in witness.shown if s.kind == "signature"}


def check_chain_and_seal(entries: Sequence[AuditEntry], seal: SealView | None) -> list[Violation]:
    """The chain verifies, the sealed head is in it, and each sealed policy digest is the one logged."""
    out: list[Violation] = []
    report = verify_chain(entries)
    out += [Violation("chain", p) for p in report.problems]
    if seal is None:
        return [*out, Violation("seal", "no seal on the token")]
    last = entries[-1].seq if entries else 0
    if seal.log_seq > last:
        return [*out, Violation("seal", f"the seal names entry {seal.log_seq}; the log ends at {last}")]
    head = entries[seal.log_seq - 1].hash if seal.log_seq else GENESIS
    if head != seal.log_head:
        out.append(Violation("seal", f"entry {seal.log_seq}'s hash is not the sealed head"))
    logged: dict[str, bytes] = {}
    for entry in entries[: seal.log_seq]:
        if entry.kind == EntryKind.POLICY_INSTALLED:
            fields = entry.fields()
            logged[str(fields["vault"])] = bytes(fields["digest"])
    if dict(seal.policies) != logged:
        differ = sorted(set(seal.policies.items()) ^ set(logged.items()))
        out.append(Violation("seal", f"sealed policy digests differ from the sealed log's: {differ[:2]}"))
    return out


@dataclass(frozen=True, slots=True)
class Signed:
    entry: AuditEntry
    response: SignatureResponse
    core: RequestCore | None  # from the approval the response names


def signed_entries(
    entries: Sequence[AuditEntry], keys: Mapping[bytes, tuple[Algorithm, bytes]]
) -> tuple[list[Signed], list[Violation]]:
    """Each signature entry with its response, checked against the station's keys and its approval."""
    out: list[Signed] = []
    problems: list[Violation] = []
    by_seq = {e.seq: e for e in entries}
    for entry in entries:
        if entry.kind != EntryKind.SIGNATURE:
            continue
        try:
            response = SignatureResponse.from_cbor(entry.fields()["response"])
        except (CustodyError, KeyError, TypeError) as exc:
            problems.append(Violation("chain", f"entry {entry.seq}: unreadable signature ({exc})"))
            continue
        key = keys.get(response.key_id)
        try:
            if key is None or key[0] != response.algorithm:
                raise SignatureError("not this station's key")
            response.verify(key[1])
        except SignatureError as exc:
            problems.append(Violation("chain", f"entry {entry.seq}: signature does not verify ({exc})"))
        approval = by_seq.get(response.audit_seq)
        core = None
        if approval is not None and approval.kind == EntryKind.APPROVE and approval.hash == response.log_head:
            core = RequestCore.from_cbor(approval.fields()["request"])
        if core is None or core.digest() != response.request_digest or approval is None:
            problems.append(Violation("chain", f"entry {entry.seq}: names no approval of its request"))
        elif approval.at != response.approved_at or approval.seq >= entry.seq:
            problems.append(Violation("chain", f"entry {entry.seq}: approval time or order is wrong"))
        out.append(Signed(entry, response, core))
    return out, problems


def check_shown(signed: Sequence[Signed], witness: Witness) -> list[Violation]:
    """Every signature shown is a committed entry's exact bytes, committed before the show."""
    committed = {s.entry.fields()["response"]: s.entry.seq for s in signed}
    out = []
    for n, s in enumerate(witness.shown, 1):
        if s.kind != "signature":
            continue
        seq = committed.get(s.cbor)
        if seq is None:
            out.append(Violation("shown", f"shown answer {n} ({s.step}) is in no committed signature entry"))
        elif seq > s.head_seq:
            out.append(
                Violation(
                    "shown", f"shown answer {n} ({s.step}): its entry {seq} was committed after the show"
                )
            )
    return out


def check_once(signed: Sequence[Signed], witness: Witness) -> list[Violation]:
    """No request has two different signatures, and no request id was signed for two requests."""
    by_digest: dict[bytes, set[bytes]] = defaultdict(set)
    digests_by_id: dict[bytes, set[bytes]] = defaultdict(set)
    for s in signed:
        by_digest[s.response.request_digest].add(s.response.signature)
        digests_by_id[s.response.request_id].add(s.response.request_digest)
    for w in witness.shown:
        if w.kind == "signature":
            response = SignatureResponse.from_cbor(w.cbor)
            by_digest[response.request_digest].add(response.signature)
            digests_by_id[response.request_id].add(response.request_digest)
    out = [
        Violation("once", f"request {d.hex()[:16]} was signed {len(sigs)} times")
        for d, sigs in by_digest.items()
        if len(sigs) > 1
    ]
    out += [
        Violation("once", f"request id {i.hex()[:16]} was signed for {len(ds)} different requests")
        for i, ds in digests_by_id.items()
        if len(ds) > 1
    ]
    return out


def check_rates(signed: Sequence[Signed], limits: Callable[[str], Limits | None]) -> list[Violation]:
    """Every rolling window ending at a signed spend holds at most the limit's total and count.

    A spend counts at its approval time, as the station counts it; a window ending at ``t`` holds
    the spends approved in ``(t - window, t]``. Executions were counted at their announcement."""
    spends: dict[str, dict[bytes, tuple[int, int]]] = defaultdict(dict)
    for s in signed:
        if s.core is not None and isinstance(s.core.action, Withdraw | Announce):
            spends[s.core.vault_id][s.response.request_digest] = (
                s.response.approved_at,
                s.core.action.amount,
            )
    out = []
    for vault, by_request in spends.items():
        limit = limits(vault)
        if limit is None:
            out.append(Violation("rate", f"vault {vault}: signed spends, but no limits are known"))
            continue
        times = sorted(by_request.values())
        for end, _ in times:
            inside = [amount for at, amount in times if end - limit.window_seconds < at <= end]
            if sum(inside) > limit.window_max or len(inside) > limit.window_count:
                out.append(
                    Violation(
                        "rate",
                        f"vault {vault}: {len(inside)} spends totalling {sum(inside)} in the window ending "
                        f"at {end} (limits {limit.window_count}, {limit.window_max})",
                    )
                )
                break
    return out


def check_all(
    entries: Iterable[AuditEntry],
    seal: SealView | None,
    witness: Witness,
    limits: Callable[[str], Limits | None],
    keys: Mapping[bytes, tuple[Algorithm, bytes]],
) -> list[Violation]:
    """Every check on one state of the station; an empty list means it held."""
    log = list(entries)
    out = check_chain_and_seal(log, seal)
    signed, problems = signed_entries(log, keys)
    return (
        out
        + problems
        + check_shown(signed, witness)
        + check_once(signed, witness)
        + check_rates(signed, limits)
    )
