"""One exception base for what both sides agree on, so callers fail closed with one except clause.

``SchemaError`` covers every way a message can be malformed: not CBOR, not
canonical, unknown or missing fields, values out of range. Its text is fit to
show an operator or to carry in a refusal.
"""

from __future__ import annotations


class CustodyError(Exception):
    """Base of every error raised by the ``custody`` package."""


class SchemaError(CustodyError):
    """Bytes that are not the message they claim to be: bad CBOR, non-canonical, or off-schema."""
