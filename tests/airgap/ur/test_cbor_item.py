from __future__ import annotations

import cbor2
import pytest

from airgap.errors import DecodeError
from airgap.ur.cbor_item import check_single_item


@pytest.mark.parametrize("value", [0, "text", b"bytes", [1, [2, {"a": None}]], {"k": 1.5}])
def test_one_item_is_accepted(value: object) -> None:
    check_single_item(cbor2.dumps(value))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x01\x02", "more than one CBOR item"),
        (b"\x5a\xff\xff\xff\xff", "ends in the middle"),
        (b"\x5f\x41a\xff", "indefinite"),
        (b"\x9f\x01\xff", "indefinite"),
        (b"\x81" * 200 + b"\x01", "nesting depth"),
        (b"\x1c", "well-formed"),
        (b"\xff", "well-formed"),
    ],
)
def test_malformed_input_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        check_single_item(data)
