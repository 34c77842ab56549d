"""Custodian card files that broke the fuzz invariant (the reader never raises), read cleanly now.

Written with the ``card_text`` target from its invariant: a card number of
more than 4300 digits on the "Card:" line made ``int`` raise ValueError out
of ``read_card_text``, so ``--card FILE`` crashed instead of naming the card's problem.
"""

from __future__ import annotations

from pathlib import Path

from appliance.card_files import read_card_text


def test_fuzz_card_line_with_a_huge_number_falls_back_to_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "card-2.txt"
    path.write_text("Card:     " + "1" * 5000 + " of 5\nWords (type the words)\nable acid\n")
    presented = read_card_text(path)
    assert presented.claimed_index == 2
    assert presented.card is None and presented.problem is not None


def test_fuzz_card_line_with_other_scripts_digits_is_not_a_number(tmp_path: Path) -> None:
    path = tmp_path / "card.txt"
    path.write_text("Card:     \u0663 of 5\nWords\nable acid\n")
    assert read_card_text(path).claimed_index is None
