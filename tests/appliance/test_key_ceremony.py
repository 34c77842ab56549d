"""Key ceremonies end to end on SoftHSM: init, keygen, rotation, self-test, adoption."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from appliance import station_state
from appliance.card_files import read_card_file
from appliance.cards import PinFormat, PresentedCard, check_cards, combine, pin_text
from appliance.errors import CardError, NotEnoughCardsError, PinIncorrectError, StationStateError, UsageError
from appliance.hsm.pkcs11_signer import Pkcs11Token
from appliance.hsm.uri import parse
from appliance.key_ceremony import custodian_session, generate_key, initialise, rotate_cards, selftest
from custody.schemas.key_record import Algorithm, KeyRecord
from custody.schemas.signatures import verify_signature
from tests.appliance.conftest import requires_softhsm, token_uri

pytestmark = [pytest.mark.hsm, requires_softhsm]


def init_station(tmp_path: Path, name: str = "station-a", k: int = 3, n: int = 5) -> tuple[Path, Path]:
    state, cards = tmp_path / f"{name}-state", tmp_path / f"{name}-cards"
    initialise(
        uri_text=token_uri(name), station=name, custodians=n, threshold=k, cards_out=cards, state_dir=state
    )
    return state, cards


def present(cards: Path, *numbers: int, kind: str = "txt") -> list[PresentedCard]:
    return [read_card_file(cards / f"card-{i}.{kind}") for i in numbers]


def forbid_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, fail the test if anything tries to log in to the HSM."""

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an HSM login was attempted")

    monkeypatch.setattr(Pkcs11Token, "session", forbidden)


def test_init_creates_token_cards_and_state(softhsm: Path, tmp_path: Path) -> None:
    state_dir, cards = init_station(tmp_path)
    assert sorted(p.name for p in cards.iterdir()) == sorted(
        [f"card-{i}.txt" for i in range(1, 6)] + [f"card-{i}.png" for i in range(1, 6)]
    )
    state = station_state.load(state_dir)
    assert (state.card_set.threshold, state.card_set.count, state.card_set.has_so_share) == (3, 5, True)
    with pytest.raises(StationStateError, match="already holds"):
        init_station(tmp_path)


def test_keygen_with_three_cards_of_any_kind(softhsm: Path, tmp_path: Path) -> None:
    state_dir, cards = init_station(tmp_path)
    presented = [*present(cards, 2, 5), *present(cards, 4, kind="png")]
    record = generate_key(
        state_dir, presented, label="vault-1", algorithm=Algorithm.SECP256K1, now=1_795_000_000
    )
    assert KeyRecord.from_cbor(record.to_cbor()) == record
    assert station_state.load(state_dir).keys["vault-1"] == record
    with custodian_session(state_dir, present(cards, 1, 3, 5)) as (_, session):
        key = session.find_key("vault-1")
        digest = bytes(range(32))
        verify_signature(Algorithm.SECP256K1, record.public_key, digest, session.sign(key, digest))


def test_k_minus_one_cards_refused_without_login(
    softhsm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir, cards = init_station(tmp_path)
    forbid_login(monkeypatch)
    with pytest.raises(NotEnoughCardsError, match="needs 3 of 5"):
        generate_key(state_dir, present(cards, 1, 2), label="k", algorithm=Algorithm.P256, now=0)


def test_altered_card_named_without_login(
    softhsm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir, cards = init_station(tmp_path)
    forbid_login(monkeypatch)
    altered = present(cards, 2)[0]
    assert altered.card is not None
    forged = PresentedCard(2, replace(altered.card, user_share=bytes(16)))
    with pytest.raises(CardError, match="card 2: does not match"):
        generate_key(state_dir, [*present(cards, 1, 3), forged], label="k", algorithm=Algorithm.P256, now=0)


def test_card_of_another_station_named_without_login(
    softhsm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_a, cards_a = init_station(tmp_path, "station-a")
    _, cards_b = init_station(tmp_path, "station-b")
    forbid_login(monkeypatch)
    with pytest.raises(CardError, match="card 3: belongs to station 'station-b'"):
        generate_key(
            state_a,
            [*present(cards_a, 1, 2), *present(cards_b, 3)],
            label="k",
            algorithm=Algorithm.P256,
            now=0,
        )


def test_rotation_retires_old_cards_and_keeps_keys(softhsm: Path, tmp_path: Path) -> None:
    state_dir, cards = init_station(tmp_path)
    record = generate_key(state_dir, present(cards, 1, 2, 3), label="v", algorithm=Algorithm.ED25519, now=1)
    new_cards = tmp_path / "new-cards"
    card_set, _ = rotate_cards(
        state_dir, present(cards, 3, 4, 5), cards_out=new_cards, custodians=4, threshold=2
    )
    assert (card_set.threshold, card_set.count) == (2, 4)
    with pytest.raises(CardError, match="another card set"):
        selftest(state_dir, present(cards, 1, 2, 3))
    rows = selftest(state_dir, present(new_cards, 1, 4))
    assert [(r.label, r.algorithm) for r in rows] == [("v", "ed25519")]
    assert rows[0].key_id == record.key_id.hex()[:16]
    # The SO PIN moved with the cards: a quorum of the new cards opens an SO session.

    new_state = station_state.load(state_dir)
    checked = check_cards(present(new_cards, 2, 3), new_state.card_set)
    with Pkcs11Token(
        Pkcs11Token(__import__("appliance.hsm.uri", fromlist=["parse"]).parse(new_state.token_uri)).uri
    ).so_session(pin_text(combine(checked, so=True))):
        pass


def test_selftest_needs_keys(softhsm: Path, tmp_path: Path) -> None:
    state_dir, cards = init_station(tmp_path)
    with pytest.raises(StationStateError, match="no keys"):
        selftest(state_dir, present(cards, 1, 2, 3))


def test_adopting_an_existing_token(raw_token: tuple[str, str, str], tmp_path: Path) -> None:
    uri, pin, _ = raw_token
    with pytest.raises(UsageError, match="current user PIN"):
        initialise(
            uri_text=uri,
            station="s",
            custodians=3,
            threshold=2,
            cards_out=tmp_path / "c",
            state_dir=tmp_path / "s",
        )
    initialise(
        uri_text=uri,
        station="s",
        custodians=3,
        threshold=2,
        cards_out=tmp_path / "c",
        state_dir=tmp_path / "s2",
        current_pin=lambda: pin,
    )
    assert not station_state.load(tmp_path / "s2").card_set.has_so_share
    generate_key(tmp_path / "s2", present(tmp_path / "c", 1, 3), label="k", algorithm=Algorithm.P256, now=0)
    with pytest.raises(PinIncorrectError), Pkcs11Token(parse(uri)).session(pin):
        pass  # the old PIN no longer works


def test_a_pin_format_is_kept_for_every_later_login(softhsm: Path, tmp_path: Path) -> None:
    """A YubiHSM-style prefix and a Nitrokey-length PIN: set by init, used by keygen and rotation."""
    fmt = PinFormat(prefix="0001", hex_chars=16)
    state, cards = tmp_path / "s", tmp_path / "c"
    initialise(
        uri_text=token_uri("fmt"),
        station="fmt",
        custodians=3,
        threshold=2,
        cards_out=cards,
        state_dir=state,
        pin_format=fmt,
    )
    assert station_state.load(state).pin_format == fmt
    generate_key(state, present(cards, 1, 2), label="k", algorithm=Algorithm.P256, now=0)
    rotate_cards(state, present(cards, 1, 3), cards_out=tmp_path / "new")
    generate_key(state, present(tmp_path / "new", 2, 3), label="k2", algorithm=Algorithm.P256, now=0)
    secret = combine(check_cards(present(tmp_path / "new", 1, 2), station_state.load(state).card_set))
    token = Pkcs11Token(parse(token_uri("fmt")))
    with token.session(pin_text(secret, fmt)):
        pass  # exactly the prefix and 16 hex characters
    # Last: python-pkcs11 leaves a failed login's session open, which would block a later SO login.
    with pytest.raises(PinIncorrectError), token.session(pin_text(secret)):
        pass


def test_a_station_state_from_before_pin_formats_loads_with_the_default(
    softhsm: Path, tmp_path: Path
) -> None:
    import cbor2

    state, _ = init_station(tmp_path)
    path = state / station_state.FILE_NAME
    old = cbor2.loads(path.read_bytes())
    del old["pin"]
    path.write_bytes(cbor2.dumps(old, canonical=True))
    assert station_state.load(state).pin_format == PinFormat()
    old["pin"] = {"prefix": "", "hex_chars": 4}
    path.write_bytes(cbor2.dumps(old, canonical=True))
    with pytest.raises(StationStateError, match="hex characters"):
        station_state.load(state)
