"""The station's audit log as both sides see it: entries, the hash chain, and the export format.

Each entry's hash is a tagged SHA-256 over the previous hash and the entry's
fields in fixed framing (not CBOR), so anyone can recompute the chain fast;
the host checks a million entries in a few seconds. The station seals the
head and sequence number in its HSM, so an old copy of the database is
caught; the host remembers heads it saw in responses, so a rewritten log is
caught.

An export is a CBOR sequence (RFC 8742): a header map, then one array
``[seq, at, kind, body, prev, hash]`` per entry, read one item at a time so
memory stays flat however long the log is. The header is the station's
*signed head*: its name, the entry count, the head hash and its time, signed
inside the HSM under the ``audit-head`` tag (never mistaken for a spend
signature) with each of the station's keys. Cutting, re-chaining or replacing
the entries therefore contradicts a head nobody without the HSM can forge.
"""

from __future__ import annotations

import hashlib
import io
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, BinaryIO

import cbor2

from custody.errors import SchemaError
from custody.schemas import strict
from custody.schemas.digests import Tag, tagged_digest
from custody.schemas.key_record import Algorithm
from custody.schemas.signatures import SignatureError, verify_signature

EXPORT_UR_TYPE = "x-audit-export"
EXPORT_VERSION = 2
GENESIS = bytes(32)
MAX_BODY = 32 * 1024
MAX_HEAD_SIGNATURES = 64  # one per station key
_PREFIX = bytes([len(Tag.AUDIT_ENTRY.value)]) + Tag.AUDIT_ENTRY.value
_FRAME = struct.Struct(">32sQqB")


class EntryKind(StrEnum):
    INIT = "init"
    KEY_GENERATED = "key-generated"
    CARDS_ROTATED = "cards-rotated"
    CARDS = "cards"  # cards presented in a ceremony: accepted or refused
    POLICY_INSTALLED = "policy-installed"
    SCAN = "scan"  # a payload arrived on the link
    REVIEW = "review"  # the review screen was shown for a request
    REFUSE = "refuse"
    APPROVE = "approve"  # sealed before the HSM signs; counts the request as used
    SIGNATURE = "signature"  # the response, sealed before it is shown
    RELEASED = "released"  # the response was shown; it will not be shown again
    REISSUE = "reissue"  # a response logged but never shown (a crash) is shown after all
    RECOVER = "recover"  # an unsealed tail checked and sealed after a crash
    EXPORTED = "exported"  # the log was exported with a signed head: this entry is that head


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: int
    kind: str
    body: bytes  # canonical CBOR map
    prev: bytes
    hash: bytes

    def fields(self) -> dict[str, Any]:
        what = f"audit entry {self.seq}"
        value = strict.decode(self.body, what=what, max_bytes=MAX_BODY)
        if not isinstance(value, dict):  # dict() of a list raised ValueError or TypeError, not ours
            raise SchemaError(f"{what}: the body is not a map")
        return value


def entry_hash(seq: int, at: int, kind: str, body: bytes, prev: bytes) -> bytes:
    h = hashlib.sha256(_PREFIX)
    h.update(_FRAME.pack(prev, seq, at, len(kind)))
    h.update(kind.encode())
    h.update(body)
    return h.digest()


def make_entry(seq: int, at: int, kind: str, fields: dict[str, Any], prev: bytes) -> AuditEntry:
    body = strict.encode(fields)
    return AuditEntry(seq, at, kind, body, prev, entry_hash(seq, at, kind, body, prev))


@dataclass(frozen=True, slots=True)
class ChainReport:
    count: int
    head: bytes
    last_seq: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(
    entries: Iterable[AuditEntry], *, prev: bytes = GENESIS, first_seq: int = 1, max_problems: int = 20
) -> ChainReport:
    """Recompute every hash and link. Problems are listed, up to ``max_problems``, in log order."""
    problems: list[str] = []
    expected_seq, head, count, at_floor = first_seq, prev, 0, 0
    for entry in entries:
        count += 1
        if len(problems) >= max_problems:
            continue
        problems.extend(link_problems(entry, expected_seq, head, at_floor))
        expected_seq, head, at_floor = entry.seq + 1, entry.hash, max(at_floor, entry.at)
    return ChainReport(count, head, expected_seq - 1, tuple(problems))


def link_problems(entry: AuditEntry, expected_seq: int, prev: bytes, at_floor: int) -> list[str]:
    """What is wrong with ``entry`` as the one after (``expected_seq`` - 1, ``prev``, ``at_floor``)."""
    problems = []
    if entry.seq != expected_seq:
        problems.append(f"entry {entry.seq}: expected sequence number {expected_seq} (entries missing)")
    if entry.prev != prev:
        problems.append(f"entry {entry.seq}: does not link to the entry before it")
    if entry_hash(entry.seq, entry.at, entry.kind, entry.body, entry.prev) != entry.hash:
        problems.append(f"entry {entry.seq}: hash does not match its contents (altered)")
    if entry.at < at_floor:
        problems.append(f"entry {entry.seq}: time goes backwards")
    return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class HeadSignature:
    key_id: bytes
    signature: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedHead:
    """The station's word, signed in its HSM, on how long its log is and where it ends."""

    station: str
    count: int
    head: bytes
    at: int
    signatures: tuple[HeadSignature, ...] = ()

    def statement_digest(self) -> bytes:
        statement = {
            "version": EXPORT_VERSION,
            "station": self.station,
            "count": self.count,
            "head": self.head,
            "at": self.at,
        }
        return tagged_digest(Tag.AUDIT_HEAD, strict.encode(statement))

    def valid_signers(self, keys: Mapping[bytes, tuple[Algorithm, bytes]]) -> list[bytes]:
        """The ids of ``keys`` (key id -> algorithm and public key) whose signature on the head holds."""
        digest, valid = self.statement_digest(), []
        for s in self.signatures:
            key = keys.get(s.key_id)
            if key is None:
                continue
            try:
                verify_signature(key[0], key[1], digest, s.signature)
            except SignatureError:
                continue
            valid.append(s.key_id)
        return valid

    def to_map(self) -> dict[str, Any]:
        return {
            "version": EXPORT_VERSION,
            "station": self.station,
            "count": self.count,
            "head": self.head,
            "at": self.at,
            "signatures": [{"key_id": s.key_id, "signature": s.signature} for s in self.signatures],
        }


def write_export(out: BinaryIO, header: SignedHead, entries: Iterable[AuditEntry]) -> None:
    out.write(strict.encode(header.to_map()))
    write_entries(out, entries)


def write_entries(out: BinaryIO, entries: Iterable[AuditEntry]) -> None:
    """The entries of an export without its header, for writers that learn the head only at the end."""
    for e in entries:
        out.write(cbor2.dumps([e.seq, e.at, e.kind, e.body, e.prev, e.hash]))


def export_bytes(header: SignedHead, entries: Iterable[AuditEntry]) -> bytes:
    buffer = io.BytesIO()
    write_export(buffer, header, entries)
    return buffer.getvalue()


def _entry(item: Any, number: int) -> AuditEntry:
    what = f"audit export entry {number}"
    if not (isinstance(item, list) and len(item) == 6):
        raise SchemaError(f"{what}: expected [seq, at, kind, body, prev, hash]")
    seq, at, kind, body, prev, digest = item
    if not (type(seq) is int and type(at) is int and type(kind) is str and type(body) is bytes):
        raise SchemaError(f"{what}: wrong field types")
    if not (type(prev) is bytes and len(prev) == 32 and type(digest) is bytes and len(digest) == 32):
        raise SchemaError(f"{what}: prev and hash must be 32 bytes")
    if not (0 <= seq < 2**63 and -(2**63) <= at < 2**63 and 0 < len(kind) <= 32 and len(body) <= MAX_BODY):
        raise SchemaError(f"{what}: a field is out of range")
    return AuditEntry(seq, at, kind, body, prev, digest)


def _head_signatures(value: list[Any], what: str) -> tuple[HeadSignature, ...]:
    if len(value) > MAX_HEAD_SIGNATURES:
        raise SchemaError(f"{what}: more than {MAX_HEAD_SIGNATURES} head signatures")
    found = []
    for item in value:
        s = strict.fields(item, {"key_id": bytes, "signature": bytes}, what=f"{what} signature")
        found.append(
            HeadSignature(
                key_id=strict.sized(s["key_id"], what=what, name="key_id", length=32),
                signature=strict.sized(s["signature"], what=what, name="signature", length=64),
            )
        )
    return tuple(found)


def read_export(stream: BinaryIO) -> tuple[SignedHead, Iterator[AuditEntry]]:
    """The header now, the entries lazily; malformed input raises SchemaError.

    Every item must be in canonical form, as the station writes it: one export, one spelling. The
    header is compared byte for byte; an entry, whose fields are ints, text and bytes only, is
    canonical exactly when it is as long as its canonical encoding (every longer head is longer).
    ``stream`` must be seekable (a file or BytesIO).
    """
    decoder = cbor2.CBORDecoder(stream, allow_indefinite=False, allow_duplicate_keys=False, max_depth=4)

    def item(what: str, *, whole: bool = False) -> Any:
        try:
            start = stream.tell()
            value = decoder.decode()
            length = stream.tell() - start
            canonical = strict.encode(value)
            if whole:
                stream.seek(start)
                same = stream.read(length) == canonical
            else:
                same = len(canonical) == length
        except (ValueError, TypeError, OverflowError, MemoryError, OSError, cbor2.CBORError) as exc:
            raise SchemaError(f"audit export: {what} is not valid CBOR ({exc})") from None
        if not same:
            raise SchemaError(f"audit export: {what} is not in canonical CBOR form")
        return value

    what = "audit export header"
    h = strict.fields(
        item("the header", whole=True),
        {"version": int, "station": str, "count": int, "head": bytes, "at": int, "signatures": list},
        what=what,
    )
    strict.version(h["version"], EXPORT_VERSION, what=what)
    header = SignedHead(
        station=strict.text(h["station"], what=what, name="station"),
        count=strict.natural(h["count"], what=what, name="count"),
        head=strict.sized(h["head"], what=what, name="head", length=32),
        at=strict.timestamp(h["at"], what=what, name="at"),
        signatures=_head_signatures(h["signatures"], what),
    )

    def entries() -> Iterator[AuditEntry]:
        for number in range(1, header.count + 1):
            yield _entry(item(f"entry {number}"), number)
        if stream.read(1):
            raise SchemaError("audit export: data after the last entry the header counts")

    return header, entries()
