"""Inputs that broke the fuzz invariant in the UR layer, refused cleanly now.

Found by the ``ur_text`` target: a valid UR followed by a non-ASCII space
(U+0085 NEL, U+00A0 NBSP) was accepted, because ``str.strip`` removes
Unicode whitespace; the accepted text then did not re-encode to the bytes
read. A UR is ASCII, so anything else is refused before it is trimmed.
Bytewords had the same flaw through ``str.lower`` (the Kelvin sign K reads
as k): the case below was written from that finding, not found by a campaign.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airgap.errors import DecodeError
from airgap.ur import bytewords
from airgap.ur.ur import ReceiveStatus, URDecoder, parse

CRASHES = Path(__file__).resolve().parents[2] / "fuzz_corpus" / "_crashes"


@pytest.mark.parametrize("name", ["ur-trailing-nel.txt", "ur-part-trailing-nbsp.txt"])
def test_fuzz_ur_text_with_a_trailing_unicode_space_is_refused(name: str) -> None:
    text = (CRASHES / name).read_bytes().decode("latin-1")
    assert not text.isascii()
    with pytest.raises(DecodeError, match="outside ASCII"):
        parse(text)
    parse(text.rstrip())  # the UR itself is valid
    assert URDecoder().receive(text) is ReceiveStatus.INVALID


def test_fuzz_bytewords_with_a_kelvin_sign_for_k_are_refused() -> None:
    words = bytewords.encode(b"\x75" * 4, bytewords.Style.STANDARD)  # 0x75 is "keep"
    assert words.startswith("keep")
    with pytest.raises(DecodeError, match="outside ASCII"):
        bytewords.decode("\u212a" + words[1:], bytewords.Style.STANDARD)
    with pytest.raises(DecodeError, match="outside ASCII"):
        bytewords.decode("\u212a" + bytewords.encode(b"\x75" * 4)[1:])
