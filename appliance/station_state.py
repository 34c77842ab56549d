"""The station's own small state file: its name, token, card-set commitments and key records.

Kept as canonical CBOR and replaced atomically, so a power cut leaves either
the old file or the new one. It holds nothing secret (commitments, not
shares). The audit log and installed policies live beside it (audit.db,
policies/), checked against the HSM seal.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from airgap.files import atomic_write
from appliance.cards import DEFAULT_PIN_FORMAT, CardSet, PinFormat
from appliance.errors import StationStateError, UsageError
from custody.errors import CustodyError
from custody.schemas import strict
from custody.schemas.key_record import KeyRecord

FILE_NAME = "station.cbor"
_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class StationState:
    station: str
    token_uri: str
    card_set: CardSet
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    pin_format: PinFormat = DEFAULT_PIN_FORMAT

    def with_key(self, record: KeyRecord) -> StationState:
        return replace(self, keys={**self.keys, record.label: record})

    def with_card_set(self, card_set: CardSet) -> StationState:
        return replace(self, card_set=card_set)

    def to_cbor(self) -> bytes:
        cs = self.card_set
        return strict.encode(
            {
                "version": _VERSION,
                "station": self.station,
                "token_uri": self.token_uri,
                "card_set": {
                    "set": cs.set_id,
                    "threshold": cs.threshold,
                    "count": cs.count,
                    "commitments": list(cs.commitments),
                    "so": cs.has_so_share,
                },
                "keys": [self.keys[label].to_cbor() for label in sorted(self.keys)],
                "pin": {"prefix": self.pin_format.prefix, "hex_chars": self.pin_format.hex_chars},
            }
        )

    @classmethod
    def from_cbor(cls, data: bytes) -> StationState:
        what = "station state"
        value = strict.decode(data, what=what, max_bytes=1 << 20)
        if isinstance(value, dict) and "pin" not in value:
            # Written before PIN formats existed: the default format is what those stations use.
            value["pin"] = {"prefix": DEFAULT_PIN_FORMAT.prefix, "hex_chars": DEFAULT_PIN_FORMAT.hex_chars}
        value = strict.fields(
            value,
            {"version": int, "station": str, "token_uri": str, "card_set": dict, "keys": list, "pin": dict},
            what=what,
        )
        pin = strict.fields(value["pin"], {"prefix": str, "hex_chars": int}, what=f"{what} PIN format")
        try:
            pin_format = PinFormat(pin["prefix"], pin["hex_chars"])
        except UsageError as exc:
            raise StationStateError(f"{what}: {exc}") from None
        if value["version"] != _VERSION:
            raise StationStateError(f"{what}: version {value['version']} is not supported")
        cs = strict.fields(
            value["card_set"],
            {"set": bytes, "threshold": int, "count": int, "commitments": list, "so": bool},
            what=f"{what} card set",
        )
        if len(cs["commitments"]) != cs["count"] or not all(
            isinstance(c, bytes) and len(c) == 32 for c in cs["commitments"]
        ):
            raise StationStateError(f"{what}: card commitments are malformed")
        keys = [KeyRecord.from_cbor(k) for k in value["keys"] if isinstance(k, bytes)]
        if len(keys) != len(value["keys"]):
            raise StationStateError(f"{what}: key records are malformed")
        return cls(
            station=value["station"],
            token_uri=value["token_uri"],
            card_set=CardSet(
                station=value["station"],
                set_id=cs["set"],
                threshold=cs["threshold"],
                count=cs["count"],
                commitments=tuple(cs["commitments"]),
                has_so_share=cs["so"],
            ),
            keys={k.label: k for k in keys},
            pin_format=pin_format,
        )


def load(folder: Path) -> StationState:
    path = folder / FILE_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StationStateError(f"no station state at {path}; run 'appliance init' first") from None
    try:
        return StationState.from_cbor(data)
    except CustodyError as exc:
        raise StationStateError(f"{path} is damaged: {exc}") from None


def exists(folder: Path) -> bool:
    return (folder / FILE_NAME).exists()


def save(folder: Path, state: StationState) -> None:
    atomic_write(folder / FILE_NAME, state.to_cbor())
