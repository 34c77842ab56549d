from __future__ import annotations

from pathlib import Path

from appliance.card_files import read_card_file, read_typed_card, write_card_files
from appliance.cards import issue_cards

CARDS, CARD_SET = issue_cards(
    station="station-a", set_id=b"set-0001", threshold=2, count=3, user_secret=bytes(16), so_secret=None
)


def test_text_and_png_read_back(tmp_path: Path) -> None:
    text, png = write_card_files(CARDS[1], tmp_path)
    assert (text.name, png.name) == ("card-2.txt", "card-2.png")
    assert oct(text.stat().st_mode & 0o777) == "0o600"
    assert read_card_file(text).card == CARDS[1]
    offered = read_card_file(png)
    assert offered.card == CARDS[1] and offered.claimed_index == 2


def test_mistyped_word_is_named_by_the_printed_number(tmp_path: Path) -> None:
    text, _ = write_card_files(CARDS[2], tmp_path)
    lines = text.read_text().splitlines()
    i = next(n for n, line in enumerate(lines) if line.strip().startswith("2 "))
    words = lines[i].split()
    words[3] = "zoom" if words[3] != "zoom" else "able"
    lines[i] = "  " + " ".join(words)
    text.write_text("\n".join(lines))
    offered = read_card_file(text)
    assert offered.card is None and offered.claimed_index == 3
    assert offered.problem is not None and "checksum" in offered.problem


def test_typed_card_ignores_numbers_case_and_spacing(tmp_path: Path) -> None:
    text, _ = write_card_files(CARDS[0], tmp_path)
    words = text.read_text().partition("Words")[2].partition("\n")[2]
    offered = read_typed_card(lambda _: "1", lambda _: words.upper())
    assert offered.card == CARDS[0] and offered.claimed_index == 1
    garbled = read_typed_card(lambda _: "1", lambda _: "able acid")
    assert garbled.card is None and garbled.claimed_index == 1
