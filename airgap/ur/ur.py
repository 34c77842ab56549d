"""Uniform Resources (BCR-2020-005): typed CBOR as ``ur:<type>/[<seq>/]<bytewords>``.

Single-part messages use the single-part form, as the spec requires; longer
ones become a fountain stream of ``ur:<type>/<n>-<len>/…`` parts. Text in is
matched case-insensitively (QR codes carry it uppercased for alphanumeric
mode); text out is the canonical lowercase form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from airgap.errors import DecodeError, IncompleteError, LimitExceededError, PartMismatchError
from airgap.ur import bytewords
from airgap.ur.fountain import FountainDecoder, FountainEncoder, FountainPart, PartStatus

_TYPE_RE = re.compile(r"[a-z0-9-]+")
_SEQ_RE = re.compile(r"([1-9][0-9]{0,9})-([1-9][0-9]{0,9})")

#: A spend request is a few KB; 4 MiB leaves room for large bundles and audit
#: exports while bounding what a hostile stream can make the decoder hold.
DEFAULT_MAX_MESSAGE_LEN = 4 * 1024 * 1024
#: With fragments of a few hundred bytes, 4 MiB needs well under 16384 parts.
DEFAULT_MAX_SEQ_LEN = 16384
#: Distinct reasons for unreadable parts a decoder remembers; the rest are counted under one.
MAX_DISTINCT_ERRORS = 16
OTHER_ERRORS = "other unreadable UR parts"


@dataclass(frozen=True, slots=True)
class UR:
    """A UR type and its CBOR payload (untagged, as the spec requires at top level)."""

    type: str
    cbor: bytes

    def __post_init__(self) -> None:
        if not is_valid_type(self.type):
            raise DecodeError(f"UR type {self.type!r} is not lowercase letters, digits and hyphens")


def is_valid_type(ur_type: str) -> bool:
    return bool(_TYPE_RE.fullmatch(ur_type)) and not ur_type.startswith("-") and not ur_type.endswith("-")


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Hard caps applied before anything is allocated for a message."""

    max_message_len: int = DEFAULT_MAX_MESSAGE_LEN
    max_seq_len: int = DEFAULT_MAX_SEQ_LEN

    @property
    def max_text_len(self) -> int:
        """Longest UR text accepted: a single-part UR of the largest message, plus headers."""
        return 2 * (self.max_message_len + 4) + 256


def encode_single(ur: UR) -> str:
    return f"ur:{ur.type}/{bytewords.encode(ur.cbor)}"


def encode_part(ur_type: str, part: FountainPart) -> str:
    body = bytewords.encode(part.to_cbor())
    return f"ur:{ur_type}/{part.seq_num}-{part.seq_len}/{body}"


class UREncoder:
    """Yields UR part strings: the single-part form, or fixed-rate then fountain parts."""

    def __init__(
        self, ur: UR, max_fragment_len: int, first_seq_num: int = 0, min_fragment_len: int = 10
    ) -> None:
        if max_fragment_len < 1:
            raise ValueError("max fragment length must be positive")
        self.ur = ur
        self._fountain = FountainEncoder(ur.cbor, max_fragment_len, first_seq_num, min_fragment_len)

    @property
    def is_single_part(self) -> bool:
        return self._fountain.is_single_part

    @property
    def seq_len(self) -> int:
        return self._fountain.seq_len

    @property
    def fragment_len(self) -> int:
        return self._fountain.fragment_len

    def next_part(self) -> str:
        if self.is_single_part:
            return encode_single(self.ur)
        return encode_part(self.ur.type, self._fountain.next_part())


def parts_for_message(
    ur: UR, max_fragment_len: int, *, count: int | None = None, passes: int = 1, first_seq_num: int = 0
) -> list[str]:
    """Part strings to show: ``count`` of them, or ``passes`` times the fixed-rate parts.

    The fixed-rate parts come first (a clean capture needs nothing else), then
    fountain parts. A single-part message repeats its one part ``count`` times (default once).
    """
    encoder = UREncoder(ur, max_fragment_len, first_seq_num)
    if encoder.is_single_part:
        return [encoder.next_part()] * (count or 1)
    total = count if count is not None else passes * encoder.seq_len
    return [encoder.next_part() for _ in range(total)]


@dataclass(frozen=True, slots=True)
class ParsedUR:
    """One UR text, split but not yet assembled: single-part when ``part`` is None."""

    type: str
    body: bytes | None = None
    part: FountainPart | None = None


def parse(text: str, limits: DecodeLimits = DecodeLimits()) -> ParsedUR:
    """Split and check one UR text. Raises DecodeError with a human message."""
    if len(text) > limits.max_text_len:
        raise LimitExceededError(
            f"UR text of {len(text)} characters exceeds the cap of {limits.max_text_len}"
        )
    if not text.isascii():  # else str.strip() and str.lower() would let look-alikes stand for ASCII
        raise DecodeError("not a UR: it holds a character outside ASCII")
    lowered = text.strip().lower()
    if not lowered.startswith("ur:"):
        raise DecodeError("not a UR: it does not start with 'ur:'")
    components = lowered[3:].split("/")
    ur_type = components[0]
    if not is_valid_type(ur_type):
        raise DecodeError(f"not a UR: {ur_type[:40]!r} is not a valid UR type")
    if len(components) == 2:
        return ParsedUR(ur_type, body=bytewords.decode(components[1]))
    if len(components) != 3:
        raise DecodeError("not a UR: expected ur:<type>/<data> or ur:<type>/<n>-<len>/<data>")
    match = _SEQ_RE.fullmatch(components[1])
    if match is None:
        raise DecodeError(f"UR part: {components[1][:24]!r} is not a <n>-<len> sequence")
    seq_num, seq_len = int(match.group(1)), int(match.group(2))
    if seq_len > limits.max_seq_len:
        raise LimitExceededError(f"UR part: {seq_len} parts exceeds the cap of {limits.max_seq_len}")
    part = FountainPart.from_cbor(bytewords.decode(components[2]))
    if (part.seq_num, part.seq_len) != (seq_num, seq_len):
        raise PartMismatchError(
            f"UR part: header says {seq_num}-{seq_len} but the payload says {part.seq_num}-{part.seq_len}"
        )
    return ParsedUR(ur_type, part=part)


def decode_single(text: str, limits: DecodeLimits = DecodeLimits()) -> UR:
    parsed = parse(text, limits)
    if parsed.body is None:
        raise DecodeError("expected a single-part UR, got one part of a multipart UR")
    if len(parsed.body) > limits.max_message_len:
        raise LimitExceededError(
            f"message of {len(parsed.body)} bytes exceeds the cap of {limits.max_message_len}"
        )
    return UR(parsed.type, parsed.body)


class ReceiveStatus(StrEnum):
    """The outcome of offering one line or QR payload to the decoder."""

    NEW = "new"  # progress was made
    DUPLICATE = "duplicate"  # a part already known
    FOREIGN = "foreign"  # a valid part of a different message or type; ignored
    COMPLETE = "complete"  # the message is whole
    NOT_UR = "not-ur"  # the text is not a UR at all
    INVALID = "invalid"  # looked like a UR but failed to parse; ignored
    IGNORED = "ignored"  # arrived after completion


@dataclass(slots=True)
class Progress:
    """A snapshot for progress displays and stats."""

    fraction: float
    fragments_received: int
    fragments_expected: int | None
    parts_seen: int
    parts_used: int
    foreign: int
    invalid: int
    last_status: ReceiveStatus | None
    last_error: str | None = None

    def describe(self) -> str:
        expected = "?" if self.fragments_expected is None else str(self.fragments_expected)
        text = f"{self.fraction:6.1%} ({self.fragments_received}/{expected} fragments' worth"
        text += f", {self.parts_used} parts used)"
        if self.foreign:
            text += f", {self.foreign} foreign ignored"
        if self.invalid:
            text += f", {self.invalid} unreadable ignored"
        return text


class URDecoder:
    """Assembles one UR from text in any order; never derails on bad or foreign input.

    ``expected_types`` restricts which UR types are accepted (others count as
    foreign). The first valid part fixes the message; later parts of another
    message are counted as foreign and leave the state untouched. Parse errors
    are counted and remembered, never raised, except two that no further
    input can fix, which ``receive`` raises: a first part that breaks a cap
    (later over-cap parts cannot belong to the message and count as foreign),
    and a message that reassembles with a bad checksum.
    """

    def __init__(
        self, *, limits: DecodeLimits | None = None, expected_types: frozenset[str] | None = None
    ) -> None:
        self.limits = limits or DecodeLimits()
        self.expected_types = expected_types
        self._type: str | None = None
        self._fountain: FountainDecoder | None = None
        self._result: UR | None = None
        self._parts_seen = 0
        self._foreign = 0
        self._invalid = 0
        self._last_status: ReceiveStatus | None = None
        self._last_error: str | None = None
        self._errors: dict[str, int] = {}

    @property
    def result(self) -> UR | None:
        return self._result

    @property
    def is_complete(self) -> bool:
        return self._result is not None

    def _accepts_type(self, ur_type: str) -> bool:
        if self.expected_types is not None and ur_type not in self.expected_types:
            return False
        return self._type is None or self._type == ur_type

    def receive(self, text: str) -> ReceiveStatus:
        status = self._receive(text)
        self._last_status = status
        return status

    def _receive(self, text: str) -> ReceiveStatus:
        if self._result is not None:
            return ReceiveStatus.IGNORED
        if text[:3].lower() != "ur:":
            return ReceiveStatus.NOT_UR
        self._parts_seen += 1
        try:
            parsed = parse(text, self.limits)
        except LimitExceededError:
            if self._fountain is None or self._fountain.identity is None:
                raise
            self._foreign += 1  # another message's part, too big to ever be ours: ignored
            return ReceiveStatus.FOREIGN
        except DecodeError as exc:
            self._invalid += 1
            self._last_error = str(exc)
            reason = self._last_error if len(self._errors) < MAX_DISTINCT_ERRORS else OTHER_ERRORS
            self._errors[reason] = self._errors.get(reason, 0) + 1
            return ReceiveStatus.INVALID
        if not self._accepts_type(parsed.type):
            self._foreign += 1
            return ReceiveStatus.FOREIGN
        if parsed.part is None:
            assert parsed.body is not None
            if self._fountain is not None and self._fountain.identity is not None:
                self._foreign += 1
                return ReceiveStatus.FOREIGN
            if len(parsed.body) > self.limits.max_message_len:
                raise LimitExceededError(
                    f"message of {len(parsed.body)} bytes exceeds the cap of {self.limits.max_message_len}"
                )
            self._result = UR(parsed.type, parsed.body)
            return ReceiveStatus.COMPLETE
        if self._fountain is None:
            self._fountain = FountainDecoder(
                max_message_len=self.limits.max_message_len, max_seq_len=self.limits.max_seq_len
            )
        part_status = self._fountain.receive(parsed.part)
        if part_status is PartStatus.FOREIGN:
            self._foreign += 1
            return ReceiveStatus.FOREIGN
        self._type = parsed.type
        if part_status is PartStatus.COMPLETE:
            assert self._fountain.result is not None
            self._result = UR(parsed.type, self._fountain.result)
            return ReceiveStatus.COMPLETE
        return ReceiveStatus.NEW if part_status is PartStatus.NEW else ReceiveStatus.DUPLICATE

    @property
    def errors(self) -> dict[str, int]:
        """Why parts that looked like URs were unreadable, each reason with how often it came."""
        return dict(self._errors)

    @property
    def progress(self) -> Progress:
        fountain = self._fountain
        single = 1 if self._result is not None else 0
        if fountain is None:
            received, expected, used, fraction = single, (1 if single else None), single, float(single)
        else:
            received = fountain.rank
            expected = fountain.expected_fragment_count
            used = fountain.parts_useful
            fraction = 1.0 if single else fountain.progress
        return Progress(
            fraction=fraction,
            fragments_received=received,
            fragments_expected=expected,
            parts_seen=self._parts_seen,
            parts_used=used,
            foreign=self._foreign,
            invalid=self._invalid,
            last_status=self._last_status,
            last_error=self._last_error,
        )


def decode_lines(lines: Iterable[str], decoder: URDecoder | None = None) -> UR:
    """Assemble a UR from text lines; raises IncompleteError if they run out first."""
    decoder = decoder or URDecoder()
    for line in lines:
        if decoder.receive(line.strip()) is ReceiveStatus.COMPLETE:
            break
    if decoder.result is None:
        progress = decoder.progress
        detail = f"; last error: {progress.last_error}" if progress.last_error else ""
        raise IncompleteError(f"input ended with the message incomplete, {progress.describe()}{detail}")
    return decoder.result
