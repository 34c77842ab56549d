"""Fuzz targets for what a person or a file hands the station: TOML policies, custodian cards (the
text file with its words, and the QR payload), and PKCS#11 URIs.

These are text formats with more than one spelling of a value (comments,
spacing, case, percent-encoding), so the check is a round trip of the value:
what was accepted, written out by the project's own writer, reads back equal.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from fuzz_common import REFUSALS, require, text_of

from airgap.ur import bytewords
from airgap.ur.ur import UR, encode_single
from appliance.card_files import card_from_payloads, parse_words, read_card_text
from appliance.cards import UR_TYPE, Card
from appliance.hsm import uri
from custody.schemas.policy_toml import compile_policy, render_policy


def policy_toml(data: bytes) -> None:
    """A station policy file (every chain's ``[vault.chain]`` table too), compiled as at install."""
    try:
        compiled = compile_policy(text_of(data), "fuzz.toml")
    except REFUSALS:
        return
    require(compile_policy(render_policy(compiled)) == compiled, "policy renders and compiles back")


@cache
def _card_path() -> Path:
    """One scratch file, rewritten for every input: the reader takes a path, as the station does."""
    return Path(tempfile.mkdtemp(prefix="fuzz-card-")) / "card-1.txt"


def _same_card_again(card: Card) -> None:
    require(Card.from_cbor(card.to_cbor()) == card, "card re-encodes")
    words = bytewords.encode(card.to_cbor(), bytewords.Style.STANDARD)
    require(parse_words(words) == card, "card words read back")


def card_text(data: bytes) -> None:
    """A custodian card's text file (its number and its words), as ``--card FILE`` reads it.
    The reader never raises: an unreadable card is a presented card with its problem."""
    path = _card_path()
    path.write_bytes(data)
    presented = read_card_text(path)
    require((presented.card is None) == (presented.problem is not None), "a card or its problem")
    if presented.card is not None:
        _same_card_again(presented.card)


def card_qr(data: bytes) -> None:
    """The text of a QR code shown as a custodian card; like the file reader, it never raises."""
    text = text_of(data)
    presented = card_from_payloads([text], None)
    require((presented.card is None) == (presented.problem is not None), "a card or its problem")
    if presented.card is not None:
        _same_card_again(presented.card)
        require(text.isascii(), "a card's QR text is ASCII")
        require(encode_single(UR(UR_TYPE, presented.card.to_cbor())) == text.strip().lower(), "QR re-encodes")


def pkcs11_uri(data: bytes) -> None:
    """An RFC 7512 URI naming the HSM module, token and key, from the command line."""
    try:
        parsed = uri.parse(text_of(data))
    except REFUSALS:
        return
    written = str(parsed)
    require(uri.parse(written) == parsed, "URI writes and parses back")
    require(str(uri.parse(written)) == written, "the written URI is canonical")
