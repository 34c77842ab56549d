"""Custodian cards: the station's HSM PIN split k-of-n, and the checks that name a bad card.

The user PIN is 16 random bytes that nobody sees whole: ``init`` splits them
with pycryptodome's Shamir into n shares, one per card. A card also carries a
share of the security-officer PIN when the station created the token itself,
so a quorum can later change that PIN too.

The station keeps, per card, a commitment: SHA-256 over a domain tag, the
card set id, the index and the shares. Each presented card is checked
against its commitment before any login, so a wrong, mistyped, altered or
foreign card is named by its number and costs no PIN attempt (real HSMs lock
the PIN after a few failures). Shares are 128-bit random values, so the
commitments reveal nothing a brute force could use.

Everything here is pure; reading card files and images lives in card_files.py.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from Crypto.Protocol.SecretSharing import Shamir

from appliance.errors import CardError, NotEnoughCardsError, UsageError
from custody.errors import SchemaError
from custody.schemas import strict

SECRET_LEN = 16  # pycryptodome's Shamir works on 16-byte secrets
UR_TYPE = "x-custodian-card"
_VERSION = 1
_COMMITMENT_TAG = b"airgap-signer/custodian-card-commitment/v1"
MAX_CUSTODIANS = 16
MIN_PIN_HEX_CHARS = 16  # 64 random bits at least


@dataclass(frozen=True, slots=True, kw_only=True)
class Card:
    station: str
    set_id: bytes
    index: int
    threshold: int
    count: int
    user_share: bytes
    so_share: bytes | None

    def to_cbor(self) -> bytes:
        value: dict[str, object] = {
            "version": _VERSION,
            "station": self.station,
            "set": self.set_id,
            "index": self.index,
            "threshold": self.threshold,
            "count": self.count,
            "user": self.user_share,
        }
        if self.so_share is not None:
            value["so"] = self.so_share
        return strict.encode(value)

    @classmethod
    def from_cbor(cls, data: bytes) -> Card:
        what = "custodian card"
        raw = strict.decode(data, what=what, max_bytes=512)
        spec = {
            "version": int,
            "station": str,
            "set": bytes,
            "index": int,
            "threshold": int,
            "count": int,
            "user": bytes,
        }
        if isinstance(raw, dict) and "so" in raw:
            spec["so"] = bytes
        value = strict.fields(raw, spec, what=what)
        if value["version"] != _VERSION:
            raise SchemaError(f"{what}: version {value['version']} is not supported")
        card = cls(
            station=value["station"],
            set_id=value["set"],
            index=value["index"],
            threshold=value["threshold"],
            count=value["count"],
            user_share=value["user"],
            so_share=value.get("so"),
        )
        validate_shape(card.threshold, card.count)
        if not 1 <= card.index <= card.count:
            raise SchemaError(f"{what}: index {card.index} is outside 1..{card.count}")
        if len(card.user_share) != SECRET_LEN or (
            card.so_share is not None and len(card.so_share) != SECRET_LEN
        ):
            raise SchemaError(f"{what}: shares must be {SECRET_LEN} bytes")
        return card


@dataclass(frozen=True, slots=True, kw_only=True)
class CardSet:
    """What the station remembers about the cards it issued: never the shares themselves."""

    station: str
    set_id: bytes
    threshold: int
    count: int
    commitments: tuple[bytes, ...]  # commitments[i - 1] is card i's
    has_so_share: bool


def validate_shape(threshold: int, count: int) -> None:
    if not 2 <= count <= MAX_CUSTODIANS:
        raise CardError(f"custodians must number 2 to {MAX_CUSTODIANS}, not {count}")
    if not 2 <= threshold <= count:
        raise CardError(f"the threshold must be 2 to {count} cards, not {threshold}")


def commitment_for(card: Card) -> bytes:
    material = card.set_id + card.index.to_bytes(1, "big") + card.user_share + (card.so_share or b"")
    return hashlib.sha256(_COMMITMENT_TAG + material).digest()


def issue_cards(
    *, station: str, set_id: bytes, threshold: int, count: int, user_secret: bytes, so_secret: bytes | None
) -> tuple[list[Card], CardSet]:
    """Split the secrets into ``count`` cards, any ``threshold`` of which rebuild them."""
    validate_shape(threshold, count)
    if len(user_secret) != SECRET_LEN or (so_secret is not None and len(so_secret) != SECRET_LEN):
        raise CardError(f"secrets must be {SECRET_LEN} bytes")
    user_shares = Shamir.split(threshold, count, user_secret, ssss=False)
    so_shares = Shamir.split(threshold, count, so_secret, ssss=False) if so_secret is not None else None
    cards = [
        Card(
            station=station,
            set_id=set_id,
            index=index,
            threshold=threshold,
            count=count,
            user_share=share,
            so_share=so_shares[i][1] if so_shares is not None else None,
        )
        for i, (index, share) in enumerate(user_shares)
    ]
    card_set = CardSet(
        station=station,
        set_id=set_id,
        threshold=threshold,
        count=count,
        commitments=tuple(commitment_for(c) for c in cards),
        has_so_share=so_secret is not None,
    )
    return cards, card_set


@dataclass(frozen=True, slots=True)
class PresentedCard:
    """A card as offered: the number the custodian claims, and the payload (None if unreadable)."""

    claimed_index: int | None
    card: Card | None
    problem: str | None = None


def card_problem(offered: PresentedCard, card_set: CardSet, accepted: Sequence[int] = ()) -> str | None:
    """Why this one card is refused (None: it is good), as it is presented; ``accepted`` are the
    numbers already taken in this sitting. No HSM involved."""
    name = f"card {offered.claimed_index}" if offered.claimed_index else "a card"
    card = offered.card
    if card is None:
        return f"{name}: {offered.problem or 'unreadable'}"
    name = f"card {card.index}"
    if offered.claimed_index is not None and offered.claimed_index != card.index:
        return f"{name}: presented as card {offered.claimed_index}; the payload says otherwise"
    if card.station != card_set.station:
        return f"{name}: belongs to station {card.station!r}, not {card_set.station!r}"
    if card.set_id != card_set.set_id:
        return f"{name}: is from another card set (retired or foreign); not accepted"
    if not 1 <= card.index <= card_set.count:
        return f"{name}: there is no such card in this set of {card_set.count}"
    if not hmac.compare_digest(commitment_for(card), card_set.commitments[card.index - 1]):
        return f"{name}: does not match what the station issued (altered or mistyped)"
    if card.index in accepted:
        return f"{name}: presented twice"
    return None


def check_cards(presented: Sequence[PresentedCard], card_set: CardSet) -> list[Card]:
    """The valid cards, or a CardError naming every card that is wrong and why. No HSM involved."""
    problems: list[str] = []
    valid: dict[int, Card] = {}
    for offered in presented:
        problem = card_problem(offered, card_set, tuple(valid))
        if problem is not None:
            problems.append(problem)
        elif offered.card is not None:
            valid[offered.card.index] = offered.card
    if problems:
        raise CardError("refused before any HSM login: " + "; ".join(problems))
    if len(valid) < card_set.threshold:
        raise NotEnoughCardsError(
            f"{len(valid)} valid card(s) presented; this station needs "
            f"{card_set.threshold} of {card_set.count}"
        )
    return [valid[i] for i in sorted(valid)]


def combine(cards: Sequence[Card], *, so: bool = False) -> bytearray:
    """Rebuild a secret from checked cards. Returned as a bytearray so the caller can wipe it."""
    shares = [(c.index, c.so_share if so else c.user_share) for c in cards]
    if any(share is None for _, share in shares):
        raise CardError("these cards carry no security-officer share")
    return bytearray(Shamir.combine([(i, bytes(s)) for i, s in shares if s is not None], ssss=False))


@dataclass(frozen=True, slots=True)
class PinFormat:
    """How the cards' secret becomes the PIN a module accepts; nothing in it is secret.

    ``prefix`` is what some modules put before the password in their PIN (a
    YubiHSM 2 wants the authentication key's id as 4 hex digits); ``hex_chars``
    shortens the PIN for modules with a length limit (a Nitrokey HSM 2 takes at
    most 16 characters, which still leaves 64 random bits behind a lockout).
    """

    prefix: str = ""
    hex_chars: int = 2 * SECRET_LEN

    def __post_init__(self) -> None:
        if len(self.prefix) > 32 or not (self.prefix.isascii() and self.prefix.isprintable()):
            raise UsageError("a PIN prefix must be at most 32 printable ASCII characters")
        if not MIN_PIN_HEX_CHARS <= self.hex_chars <= 2 * SECRET_LEN:
            limits = f"{MIN_PIN_HEX_CHARS} to {2 * SECRET_LEN}"
            raise UsageError(f"a PIN keeps {limits} hex characters of the card secret")


DEFAULT_PIN_FORMAT = PinFormat()


def pin_text(secret: bytearray, pin_format: PinFormat = DEFAULT_PIN_FORMAT) -> str:
    """The PIN the HSM sees: the prefix, then the secret in hex (all 32 characters unless shortened)."""
    return pin_format.prefix + secret.hex()[: pin_format.hex_chars]


def wipe(secret: bytearray) -> None:
    """Overwrite a secret in place. Python may have copied it (the PIN string given to the
    module, for one); this removes the copy we own, which is the one that lives longest."""
    for i in range(len(secret)):
        secret[i] = 0
