"""Is this one well-formed CBOR item? The link carries nothing else.

Only the framing is judged here (one complete item, no trailing bytes, no
indefinite lengths, bounded nesting); what the item means is for the message
schemas to decide.
"""

from __future__ import annotations

import io

import cbor2

from airgap.errors import DecodeError

MAX_DEPTH = 64


def check_single_item(data: bytes) -> None:
    """Raise DecodeError unless ``data`` is exactly one definite-length CBOR item."""
    if not data:
        raise DecodeError("input is empty, expected one CBOR item")
    stream = io.BytesIO(data)
    decoder = cbor2.CBORDecoder(stream, allow_indefinite=False, max_depth=MAX_DEPTH)
    try:
        decoder.decode()
    except cbor2.CBORDecodeEOF:
        raise DecodeError("input is not one CBOR item: it ends in the middle of an item") from None
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError) as exc:
        raise DecodeError(f"input is not well-formed CBOR: {exc}") from None
    if stream.tell() != len(data):
        raise DecodeError(
            f"input holds more than one CBOR item: {len(data) - stream.tell()} bytes follow the first"
        )
