"""Bytewords (BCR-2020-012): bytes as four-letter words with a CRC-32 suffix.

Minimal style (first and last letter of each word) is what URs carry: two
letters per byte, all in the QR alphanumeric set once uppercased. Standard and
URI styles are here too because the published vectors exercise them.
"""

from __future__ import annotations

from enum import StrEnum

from airgap.errors import ChecksumError, DecodeError
from airgap.ur.crc32 import crc32_bytes

_WORD_ROWS = (
    "able acid also apex aqua arch atom aunt away axis back bald barn belt beta bias",
    "blue body brag brew bulb buzz calm cash cats chef city claw code cola cook cost",
    "crux curl cusp cyan dark data days deli dice diet door down draw drop drum dull",
    "duty each easy echo edge epic even exam exit eyes fact fair fern figs film fish",
    "fizz flap flew flux foxy free frog fuel fund gala game gear gems gift girl glow",
    "good gray grim guru gush gyro half hang hard hawk heat help high hill holy hope",
    "horn huts iced idea idle inch inky into iris iron item jade jazz join jolt jowl",
    "judo jugs jump junk jury keep keno kept keys kick kiln king kite kiwi knob lamb",
    "lava lazy leaf legs liar limp lion list logo loud love luau luck lung main many",
    "math maze memo menu meow mild mint miss monk nail navy need news next noon note",
    "numb obey oboe omit onyx open oval owls paid part peck play plus poem pool pose",
    "puff puma purr quad quiz race ramp real redo rich road rock roof ruby ruin runs",
    "rust safe saga scar sets silk skew slot soap solo song stub surf swan taco task",
    "taxi tent tied time tiny toil tomb toys trip tuna twin ugly undo unit urge user",
    "vast very veto vial vibe view visa void vows wall wand warm wasp wave waxy webs",
    "what when whiz wolf work yank yawn yell yoga yurt zaps zero zest zinc zone zoom",
)


WORDS: tuple[str, ...] = tuple(" ".join(_WORD_ROWS).split(" "))
MINIMAL: tuple[str, ...] = tuple(w[0] + w[-1] for w in WORDS)
_WORD_INDEX = {w: i for i, w in enumerate(WORDS)}
_MINIMAL_INDEX = {m: i for i, m in enumerate(MINIMAL)}
_CHECKSUM_LEN = 4


class Style(StrEnum):
    """How words are spelled and separated."""

    STANDARD = "standard"  # full words separated by spaces
    URI = "uri"  # full words separated by hyphens
    MINIMAL = "minimal"  # first and last letters, no separator: what URs use


def encode(data: bytes, style: Style = Style.MINIMAL) -> str:
    """Bytewords for ``data`` followed by its CRC-32."""
    body = data + crc32_bytes(data)
    if style is Style.MINIMAL:
        return "".join([MINIMAL[b] for b in body])
    separator = " " if style is Style.STANDARD else "-"
    return separator.join([WORDS[b] for b in body])


def decode(text: str, style: Style = Style.MINIMAL) -> bytes:
    """The bytes spelled by ``text``, after checking its CRC-32. Case-insensitive.

    As in the reference, the body must hold at least one byte besides the checksum.
    """
    if not text.isascii():  # str.lower() maps some look-alikes onto letters (K, the Kelvin sign, to k)
        raise DecodeError("bytewords: a character outside ASCII")
    lowered = text.lower()
    if style is Style.MINIMAL:
        if len(lowered) % 2:
            raise DecodeError("bytewords: odd number of letters, a letter is missing or extra")
        try:
            body = bytes([_MINIMAL_INDEX[lowered[i : i + 2]] for i in range(0, len(lowered), 2)])
        except KeyError as exc:
            raise DecodeError(f"bytewords: {exc.args[0]!r} is not a byteword") from None
    else:
        separator = " " if style is Style.STANDARD else "-"
        try:
            body = bytes([_WORD_INDEX[w] for w in lowered.split(separator)])
        except KeyError as exc:
            raise DecodeError(f"bytewords: {exc.args[0]!r} is not a byteword") from None
    if len(body) < _CHECKSUM_LEN + 1:
        raise DecodeError("bytewords: too short to hold data and its checksum")
    data, checksum = body[:-_CHECKSUM_LEN], body[-_CHECKSUM_LEN:]
    if crc32_bytes(data) != checksum:
        raise ChecksumError("bytewords: checksum mismatch, the text is damaged or mistyped")
    return data
