"""Custodian cards on paper and disk: a printable PNG (QR code and words) and a text file.

Both carry the same CBOR card. The words are bytewords (standard style) with
their CRC-32, so a mistyped word is caught before the card is even compared
with its commitment; the card number printed beside them lets the station
name the card even when its words cannot be read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from airgap.errors import AirgapError
from airgap.qr.decode import payloads_in_image
from airgap.qr.render import RenderSettings, render_frame
from airgap.ur import bytewords
from airgap.ur.bytewords import Style
from airgap.ur.ur import UR, DecodeLimits, decode_single, encode_single
from appliance.cards import UR_TYPE, Card, PresentedCard
from appliance.errors import UsageError
from custody.errors import CustodyError

_WORDS_PER_LINE = 6
# ASCII digits, a few of them: \d also matches other scripts' digits, and int() refuses over 4300 digits.
_CARD_LINE = re.compile(r"^Card:\s+([0-9]{1,4}) of ([0-9]{1,4})\b", re.MULTILINE)
_NAME_INDEX = re.compile(r"card-([0-9]{1,4})\.(?:txt|png)$")


def card_words(card: Card) -> list[str]:
    """Lines of numbered words a custodian can type."""
    words = bytewords.encode(card.to_cbor(), Style.STANDARD).split(" ")
    return [
        f"{i // _WORDS_PER_LINE + 1:>3}  " + " ".join(words[i : i + _WORDS_PER_LINE])
        for i in range(0, len(words), _WORDS_PER_LINE)
    ]


def card_text(card: Card) -> str:
    return "\n".join(
        [
            "AIR-GAP SIGNING STATION - CUSTODIAN CARD",
            "",
            f"Station:  {card.station}",
            f"Card:     {card.index} of {card.count}; any {card.threshold} cards open the station",
            f"Card set: {card.set_id.hex()}",
            "",
            "Keep this card secret and apart from the other cards. The station names a wrong",
            "or mistyped card before it touches the HSM.",
            "",
            "Words (type the words after each line number):",
            *card_words(card),
            "",
        ]
    )


def write_card_files(card: Card, folder: Path) -> tuple[Path, Path]:
    """``card-<i>.txt`` and ``card-<i>.png``; the PNG is printable at 100 dpi or more."""
    from PIL import Image, ImageDraw, ImageFont

    folder.mkdir(parents=True, exist_ok=True)
    text_path = folder / f"card-{card.index}.txt"
    text_path.write_text(card_text(card))
    text_path.chmod(0o600)
    qr = render_frame(encode_single(UR(UR_TYPE, card.to_cbor())), RenderSettings(module_px=6))
    words = card_words(card)
    width = max(900, qr.shape[1] + 80)
    height = 260 + qr.shape[0] + 30 * len(words) + 60
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    title, body = ImageFont.load_default(size=30), ImageFont.load_default(size=22)
    draw.text((40, 30), "CUSTODIAN CARD", font=title, fill=0)
    draw.text((40, 80), f"Station {card.station}", font=body, fill=0)
    draw.text(
        (40, 115),
        f"Card {card.index} of {card.count} - any {card.threshold} open the station",
        font=body,
        fill=0,
    )
    draw.text((40, 150), f"Card set {card.set_id.hex()}", font=body, fill=0)
    page.paste(Image.fromarray(qr), ((width - qr.shape[1]) // 2, 200))
    y = 220 + qr.shape[0]
    for line in words:
        draw.text((40, y), line, font=body, fill=0)
        y += 30
    png_path = folder / f"card-{card.index}.png"
    page.save(png_path)
    png_path.chmod(0o600)
    return text_path, png_path


def _claimed_index(path: Path, text: str | None = None) -> int | None:
    if text is not None and (match := _CARD_LINE.search(text)):
        return int(match.group(1))
    match = _NAME_INDEX.search(path.name)
    return int(match.group(1)) if match else None


def parse_words(text: str) -> Card:
    """A card from typed words: line numbers and extra spaces are ignored, case too."""
    words = [w for w in text.lower().split() if not w.isdigit()]
    return Card.from_cbor(bytewords.decode(" ".join(words), Style.STANDARD))


def read_card_text(path: Path) -> PresentedCard:
    text = path.read_text(errors="replace")
    claimed = _claimed_index(path, text)
    _, found, words = text.partition("Words")
    if not found:
        return PresentedCard(claimed, None, "no 'Words' section in the card file")
    try:
        return PresentedCard(claimed, parse_words(words.partition("\n")[2]))
    except (AirgapError, CustodyError) as exc:
        return PresentedCard(claimed, None, f"words do not read back ({exc})")


def read_card_image(path: Path) -> PresentedCard:
    import cv2

    claimed = _claimed_index(path)
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        return PresentedCard(claimed, None, "image cannot be read")
    return card_from_payloads(payloads_in_image(np.asarray(image, dtype=np.uint8)), claimed)


def card_from_payloads(payloads: list[str], claimed: int | None) -> PresentedCard:
    for text in payloads:
        try:
            ur = decode_single(text, DecodeLimits(max_message_len=512))
        except AirgapError:
            continue
        if ur.type != UR_TYPE:
            continue
        try:
            return PresentedCard(claimed, Card.from_cbor(ur.cbor))
        except (AirgapError, CustodyError) as exc:
            return PresentedCard(claimed, None, f"QR code holds no valid card ({exc})")
    return PresentedCard(claimed, None, "no custodian-card QR code found")


def read_card_file(path: Path) -> PresentedCard:
    if not path.is_file():
        raise UsageError(f"card file {path} does not exist")
    if path.suffix.lower() == ".txt":
        return read_card_text(path)
    return read_card_image(path)


def read_typed_card(ask: Callable[[str], str], secret_ask: Callable[[str], str]) -> PresentedCard:
    """Ask for the card number, then its words without echo."""
    number = ask("Card number: ").strip()
    claimed = int(number) if number.isdigit() else None
    words = secret_ask(f"Words of card {number} (not shown): ")
    try:
        return PresentedCard(claimed, parse_words(words))
    except (AirgapError, CustodyError) as exc:
        return PresentedCard(claimed, None, f"words do not read back ({exc})")
