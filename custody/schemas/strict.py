"""Strict canonical CBOR for messages: one definite-length item, no duplicate keys, canonical bytes.

Decoding re-encodes what it read and compares byte for byte, which rejects
every non-canonical form (long integer encodings, unsorted maps, float
widening) with one rule instead of a list of special cases.
"""

from __future__ import annotations

import io
from typing import Any

import cbor2

from custody.errors import SchemaError

#: Messages are small; anything larger is refused before it is parsed.
MAX_MESSAGE_BYTES = 64 * 1024


def encode(value: Any) -> bytes:
    return cbor2.dumps(value, canonical=True)


def decode(data: bytes, *, what: str, max_bytes: int = MAX_MESSAGE_BYTES) -> Any:
    """The one canonical CBOR item in ``data``; ``what`` names the message in errors."""
    if len(data) > max_bytes:
        raise SchemaError(f"{what}: {len(data)} bytes exceeds the {max_bytes}-byte limit")
    stream = io.BytesIO(data)
    decoder = cbor2.CBORDecoder(stream, allow_indefinite=False, allow_duplicate_keys=False, max_depth=16)
    try:
        value = decoder.decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError) as exc:
        raise SchemaError(f"{what}: not valid CBOR ({exc})") from None
    if stream.tell() != len(data):
        raise SchemaError(f"{what}: trailing bytes after the message")
    if encode(value) != data:
        raise SchemaError(f"{what}: not in canonical CBOR form")
    return value


def fields(value: Any, spec: dict[str, type], *, what: str) -> dict[str, Any]:
    """Check that ``value`` is a map with exactly the fields of ``spec``, each of its type."""
    if not isinstance(value, dict):
        raise SchemaError(f"{what}: expected a map")
    unknown = sorted(str(k) for k in value.keys() - spec.keys())
    if unknown:
        raise SchemaError(f"{what}: unknown field(s) {', '.join(unknown)}")
    missing = sorted(spec.keys() - value.keys())
    if missing:
        raise SchemaError(f"{what}: missing field(s) {', '.join(missing)}")
    for name, kind in spec.items():
        item = value[name]
        # bool is a subclass of int in Python; CBOR keeps them apart, so must we.
        if type(item) is not kind:
            raise SchemaError(f"{what}: field {name!r} must be {kind.__name__}, not {type(item).__name__}")
    return value


def text(value: str, *, what: str, name: str, max_len: int = 64, allow_empty: bool = False) -> str:
    """A short printable one-line string: ids, labels, destinations."""
    if (not value and not allow_empty) or len(value) > max_len or not value.isprintable():
        raise SchemaError(f"{what}: {name} must be 1 to {max_len} printable characters")
    return value


def sized(value: bytes, *, what: str, name: str, length: int) -> bytes:
    if len(value) != length:
        raise SchemaError(f"{what}: {name} must be {length} bytes, not {len(value)}")
    return value


def natural(value: int, *, what: str, name: str, positive: bool = False, limit: int = 2**63 - 1) -> int:
    """A non-negative (or positive) integer that fits in 63 bits, as SQLite and CBOR both hold it."""
    low = 1 if positive else 0
    if not low <= value <= limit:
        raise SchemaError(
            f"{what}: {name} must be {'positive' if positive else 'non-negative'} and at most {limit}"
        )
    return value


#: The latest time any message may carry: 9999-12-31 23:59:59 UTC, the last second every date
#: library can print. Without a bound, one far-future field crashes whoever renders it.
MAX_TIME = 253_402_300_799


def timestamp(value: int, *, what: str, name: str) -> int:
    """Seconds since 1970 (UTC), from 1970 to the end of year 9999."""
    if not 0 <= value <= MAX_TIME:
        raise SchemaError(f"{what}: {name} must be a time between 1970 and the end of year 9999")
    return value


def version(value: int, expected: int, *, what: str) -> None:
    if value != expected:
        raise SchemaError(f"{what}: version {value} is not supported (expected {expected})")
