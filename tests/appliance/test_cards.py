"""Custodian cards: any k rebuild the PIN; every bad card is named before the HSM is touched."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from appliance.cards import (
    Card,
    CardSet,
    PinFormat,
    PresentedCard,
    check_cards,
    combine,
    issue_cards,
    pin_text,
    validate_shape,
    wipe,
)
from appliance.errors import CardError, NotEnoughCardsError, UsageError
from custody.errors import SchemaError

USER, SO = bytes(range(16)), bytes(range(16, 32))


def issue(
    k: int = 3, n: int = 5, station: str = "station-a", set_id: bytes = b"set-0001"
) -> tuple[list[Card], CardSet]:
    return issue_cards(station=station, set_id=set_id, threshold=k, count=n, user_secret=USER, so_secret=SO)


def offer(*cards: Card) -> list[PresentedCard]:
    return [PresentedCard(c.index, c) for c in cards]


def test_any_k_cards_rebuild_both_secrets() -> None:
    cards, card_set = issue()
    for chosen in itertools.combinations(cards, 3):
        valid = check_cards(offer(*chosen), card_set)
        assert bytes(combine(valid)) == USER and bytes(combine(valid, so=True)) == SO


def test_k_minus_one_cards_are_refused() -> None:
    cards, card_set = issue()
    with pytest.raises(NotEnoughCardsError, match="2 valid card"):
        check_cards(offer(*cards[:2]), card_set)


def test_k_minus_one_shares_do_not_rebuild_the_secret() -> None:
    cards, _ = issue()
    assert bytes(combine(cards[:2])) != USER


def test_altered_card_is_named() -> None:
    cards, card_set = issue()
    altered = replace(cards[1], user_share=bytes(16))
    with pytest.raises(CardError, match=r"card 2: does not match what the station issued"):
        check_cards(offer(cards[0], altered, cards[2]), card_set)


def test_card_from_another_station_or_set_is_named() -> None:
    cards, card_set = issue()
    foreign, _ = issue(station="station-b")
    with pytest.raises(CardError, match=r"card 3: belongs to station 'station-b'"):
        check_cards(offer(cards[0], cards[1], foreign[2]), card_set)
    other_set, _ = issue(set_id=b"set-0002")
    with pytest.raises(CardError, match=r"card 3: is from another card set"):
        check_cards(offer(cards[0], cards[1], other_set[2]), card_set)


def test_duplicates_mislabels_and_unreadable_cards_are_named() -> None:
    cards, card_set = issue()
    with pytest.raises(CardError, match="card 1: presented twice"):
        check_cards(offer(cards[0], cards[0], cards[1], cards[2]), card_set)
    with pytest.raises(CardError, match="presented as card 4"):
        check_cards([PresentedCard(4, cards[0]), *offer(cards[1], cards[2])], card_set)
    with pytest.raises(CardError, match="card 5: words do not read back"):
        check_cards([PresentedCard(5, None, "words do not read back"), *offer(*cards[:3])], card_set)


def test_card_cbor_round_trip_and_strictness() -> None:
    cards, _ = issue()
    assert Card.from_cbor(cards[0].to_cbor()) == cards[0]
    without_so, _ = issue_cards(
        station="s", set_id=b"x", threshold=2, count=2, user_secret=USER, so_secret=None
    )
    assert Card.from_cbor(without_so[0].to_cbor()).so_share is None
    with pytest.raises(SchemaError):
        Card.from_cbor(replace(cards[0], index=9).to_cbor())
    with pytest.raises(SchemaError):
        Card.from_cbor(cards[0].to_cbor() + b"\x00")


@pytest.mark.parametrize(("k", "n"), [(1, 3), (4, 3), (2, 1), (2, 17)])
def test_bad_shapes(k: int, n: int) -> None:
    with pytest.raises(CardError):
        validate_shape(k, n)


def test_pin_is_hex_and_wipe_zeroes() -> None:
    secret = bytearray(USER)
    assert pin_text(secret) == USER.hex() and len(pin_text(secret)) == 32
    wipe(secret)
    assert secret == bytearray(16)


def test_pin_format_prefixes_and_shortens_the_pin() -> None:
    secret = bytearray(USER)
    assert pin_text(secret, PinFormat(prefix="0001")) == "0001" + USER.hex()
    assert pin_text(secret, PinFormat(hex_chars=16)) == USER.hex()[:16]
    assert pin_text(secret, PinFormat("0002", 20)) == "0002" + USER.hex()[:20]


@pytest.mark.parametrize(("prefix", "chars"), [("", 15), ("", 33), ("x" * 33, 32), ("tab\t", 32), ("é", 32)])
def test_pin_formats_that_would_weaken_or_break_the_pin_are_refused(prefix: str, chars: int) -> None:
    with pytest.raises(UsageError):
        PinFormat(prefix, chars)
