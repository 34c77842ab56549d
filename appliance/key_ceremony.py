"""The station's key ceremonies: init, keygen, card rotation and self-test.

This is the imperative shell around the pure parts (cards, encoding) and the
HSM adapter. The order inside each ceremony is the point: cards are checked
against the station's commitments before the token is even opened, the PIN is
rebuilt only for the session that needs it and wiped after, and the session
is logged out and closed on every path.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from appliance import station_state
from appliance.card_files import write_card_files
from appliance.cards import (
    DEFAULT_PIN_FORMAT,
    SECRET_LEN,
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
from appliance.errors import StationStateError, TokenMissingError, UsageError
from appliance.hsm import softhsm
from appliance.hsm.pkcs11_signer import Pkcs11Session, Pkcs11Token, find_token, load_module, resolve_module
from appliance.hsm.uri import Pkcs11Uri, parse
from appliance.station_state import StationState
from custody.schemas.audit_log import EntryKind
from custody.schemas.key_record import Algorithm, KeyRecord


@dataclass(frozen=True, slots=True)
class InitResult:
    state: StationState
    card_paths: list[Path]
    created_token: bool


def _new_secret() -> bytearray:
    return bytearray(secrets.token_bytes(SECRET_LEN))


def initialise(
    *,
    uri_text: str,
    station: str,
    custodians: int,
    threshold: int,
    cards_out: Path,
    state_dir: Path,
    current_pin: Callable[[], str] | None = None,
    pin_format: PinFormat = DEFAULT_PIN_FORMAT,
    now: int | None = None,
) -> InitResult:
    """Give the token a fresh random PIN that nobody sees, and split it into custodian cards.

    A SoftHSM token that does not exist yet is created. An existing token is
    adopted: its current user PIN is asked for once and replaced.
    """
    if station_state.exists(state_dir):
        raise StationStateError(f"{state_dir} already holds an initialised station; refusing to overwrite it")
    validate_shape(threshold, custodians)
    uri = parse(uri_text)
    if uri.token is None:
        raise UsageError("init needs the token's label in the URI: pkcs11:token=<label>?module-path=…")
    user_secret, so_secret = _new_secret(), None
    try:
        token = find_token(uri)
        created = token is None
        if created:
            so_secret = _new_secret()
            _create_softhsm_token(uri, user_secret, so_secret, pin_format)
        else:
            if current_pin is None:
                raise UsageError(f"token {uri.token!r} exists; adopting it needs its current user PIN")
            pin = current_pin()
            with Pkcs11Token(uri).session(pin, rw=True) as session:
                session.set_pin(pin, pin_text(user_secret, pin_format))
            del pin
        cards, card_set = issue_cards(
            station=station,
            set_id=secrets.token_bytes(8),
            threshold=threshold,
            count=custodians,
            user_secret=bytes(user_secret),
            so_secret=bytes(so_secret) if so_secret is not None else None,
        )
    finally:
        wipe(user_secret)
        if so_secret is not None:
            wipe(so_secret)
    paths = [p for card in cards for p in write_card_files(card, cards_out)]
    state = StationState(station=station, token_uri=str(uri), card_set=card_set, pin_format=pin_format)
    station_state.save(state_dir, state)
    _log(
        state_dir,
        EntryKind.INIT,
        {"station": station, "threshold": threshold, "custodians": custodians, "created_token": created},
        now,
    )
    return InitResult(state, paths, created)


def _log(state_dir: Path, kind: EntryKind, fields: dict[str, object], now: int | None = None) -> None:
    """Key ceremonies go in the audit log too; the next custodian session seals them."""
    from appliance.station import Station

    with Station(state_dir) as station:
        station.log(kind, fields, now if now is not None else int(time.time()))


def _create_softhsm_token(
    uri: Pkcs11Uri, user_secret: bytearray, so_secret: bytearray, pin_format: PinFormat
) -> None:
    module = resolve_module(uri)
    if not softhsm.is_softhsm(module):
        raise TokenMissingError(
            f"no token {uri.token!r} in {module}. On a real HSM, initialise the token with the vendor's "
            "tool first; init then adopts it, asking once for its current user PIN"
        )
    assert uri.token is not None
    temp_user, temp_so = secrets.token_hex(16), secrets.token_hex(16)
    softhsm.create_token(uri.token, so_pin=temp_so, user_pin=temp_user)
    load_module(module).reinitialize()  # SoftHSM lists tokens created by other processes only then
    token = Pkcs11Token(uri)
    with token.session(temp_user, rw=True) as session:
        session.set_pin(temp_user, pin_text(user_secret, pin_format))
    with token.so_session(temp_so) as so_session:
        so_session.set_pin(temp_so, pin_text(so_secret))


@contextmanager
def custodian_session(
    state_dir: Path, presented: Sequence[PresentedCard], *, rw: bool = False
) -> Iterator[tuple[StationState, Pkcs11Session]]:
    """Check the cards (no HSM touched), rebuild the PIN, and hold one logged-in session."""
    state = station_state.load(state_dir)
    cards = check_cards(presented, state.card_set)
    token = Pkcs11Token(parse(state.token_uri))
    secret = combine(cards)
    try:
        with token.session(pin_text(secret, state.pin_format), rw=rw) as session:
            wipe(secret)
            yield state, session
    finally:
        wipe(secret)


def generate_key(
    state_dir: Path, presented: Sequence[PresentedCard], *, label: str, algorithm: Algorithm, now: int
) -> KeyRecord:
    if not 0 < len(label) <= 64 or not label.isprintable():
        raise UsageError("a key label is 1 to 64 printable characters")
    with custodian_session(state_dir, presented, rw=True) as (state, session):
        if label in state.keys:
            raise UsageError(f"this station already has a key labelled {label!r}")
        key = session.generate_key(algorithm, label)  # checks LOCAL, ALWAYS_SENSITIVE, NEVER_EXTRACTABLE
        record = KeyRecord(
            algorithm=algorithm,
            public_key=key.public_key,
            key_id=key.key_id,
            token_serial=session.token.serial or "unknown",
            label=label,
            station=state.station,
            created_at=now,
        )
    station_state.save(state_dir, state.with_key(record))
    _log(
        state_dir,
        EntryKind.KEY_GENERATED,
        {"label": label, "algorithm": algorithm.value, "key_id": record.key_id},
        now,
    )
    return record


def rotate_cards(
    state_dir: Path,
    presented: Sequence[PresentedCard],
    *,
    cards_out: Path,
    custodians: int | None = None,
    threshold: int | None = None,
    now: int | None = None,
) -> tuple[CardSet, list[Path]]:
    """With k current cards: a new PIN (and SO PIN), a new set of cards; the old set is retired."""
    state = station_state.load(state_dir)
    count = custodians or state.card_set.count
    k = threshold or state.card_set.threshold
    validate_shape(k, count)
    cards = check_cards(presented, state.card_set)
    token = Pkcs11Token(parse(state.token_uri))
    old_user, new_user = combine(cards), _new_secret()
    old_so = combine(cards, so=True) if state.card_set.has_so_share else None
    new_so = _new_secret() if old_so is not None else None
    try:
        new_cards, card_set = issue_cards(
            station=state.station,
            set_id=secrets.token_bytes(8),
            threshold=k,
            count=count,
            user_secret=bytes(new_user),
            so_secret=bytes(new_so) if new_so is not None else None,
        )
        pins = state.pin_format
        with token.session(pin_text(old_user, pins), rw=True) as session:
            session.set_pin(pin_text(old_user, pins), pin_text(new_user, pins))
        if old_so is not None and new_so is not None:
            with token.so_session(pin_text(old_so)) as so_session:
                so_session.set_pin(pin_text(old_so), pin_text(new_so))
    finally:
        for secret in (old_user, new_user, old_so, new_so):
            if secret is not None:
                wipe(secret)
    # The PIN has changed: the new commitments must be saved even if writing cards fails after.
    station_state.save(state_dir, state.with_card_set(card_set))
    _log(
        state_dir, EntryKind.CARDS_ROTATED, {"threshold": k, "custodians": count, "set": card_set.set_id}, now
    )
    paths = [p for card in new_cards for p in write_card_files(card, cards_out)]
    return card_set, paths


@dataclass(frozen=True, slots=True)
class SelftestRow:
    label: str
    algorithm: str
    key_id: str
    attributes: str
    signature: str


def selftest(
    state_dir: Path, presented: Sequence[PresentedCard], key_uri: Pkcs11Uri | None = None
) -> list[SelftestRow]:
    """Attributes first, then a sign-and-verify round with every key on the token (or the one
    ``key_uri`` names with ``object=`` and/or ``id=``)."""
    rows = []
    with custodian_session(state_dir, presented) as (state, session):
        if key_uri is not None and key_uri.names_key:
            keys = [session.find_key(key_uri.object, key_uri.id)]
        else:
            keys = session.keys()
        if not keys:
            raise StationStateError("the token holds no keys yet; run 'appliance keygen'")
        for key in keys:
            session.check_key(key)
            session.sign(key, secrets.token_bytes(32))
            known = state.keys.get(key.label)
            if known is not None and known.key_id != key.key_id:
                raise StationStateError(f"key {key.label!r} on the token differs from the station's record")
            rows.append(SelftestRow(key.label, key.algorithm.value, key.key_id.hex()[:16], "ok", "verified"))
    return rows
