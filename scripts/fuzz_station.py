"""Fuzz target for what a station reads back from its own disk and token: the seal, the sealed
checkpoint of its log, and its state file. Someone with the disk may have written any of them; the
station must refuse such bytes with its own errors, never crash on them.
"""

from __future__ import annotations

from fuzz_common import REFUSALS, require

from appliance.cards import CardSet
from appliance.log_index import LogIndex
from appliance.seal import Seal
from appliance.station_state import StationState
from custody.schemas import strict
from custody.schemas.audit_log import GENESIS, make_entry
from custody.schemas.key_record import KeyRecord


def station_files(data: bytes) -> None:
    """``Seal.from_cbor``, ``LogIndex.from_cbor`` and ``StationState.from_cbor`` on the same bytes."""
    try:
        seal = Seal.from_cbor(data)
    except REFUSALS:
        pass
    else:  # a version-1 seal is read and written as version 2: the value must survive
        again = Seal.from_cbor(seal.to_cbor())
        require(again == seal, "seal writes and reads back equal")
        version = strict.decode(data, what="seal")["version"]
        require(version == 1 or seal.to_cbor() == data, "a version-2 seal re-encodes")
    try:
        index = LogIndex.from_cbor(data)
    except REFUSALS:
        pass
    else:
        require(index.to_cbor() == data, "log checkpoint re-encodes")
    try:
        state = StationState.from_cbor(data)
    except REFUSALS:
        return
    require(StationState.from_cbor(state.to_cbor()) == state, "station state writes and reads back equal")


def station_seeds(record: KeyRecord) -> list[bytes]:
    """A seal naming a checkpoint, a checkpoint with an install and a pending approval, a state file."""
    entries = [make_entry(1, 1_790_000_000, "init", {"station": "station-1"}, GENESIS)]
    installed = {"vault": "cold", "policy": b"p"}
    entries.append(make_entry(2, 1_790_000_001, "policy-installed", installed, entries[0].hash))
    index = LogIndex().folded(entries)
    seal = Seal(log_seq=2, log_head=index.head, log_time=index.at).with_policy("cold", b"\x07" * 32)
    seal = seal.with_checkpoint(2, index.digest())
    state = StationState(
        station="station-1",
        token_uri="pkcs11:token=station-1?module-path=/usr/lib/softhsm/libsofthsm2.so",
        card_set=CardSet(
            station="station-1",
            set_id=bytes(range(16)),
            threshold=2,
            count=3,
            commitments=tuple(bytes([n]) * 32 for n in (1, 2, 3)),
            has_so_share=True,
        ),
        keys={record.label: record},
    )
    return [seal.to_cbor(), index.to_cbor(), state.to_cbor()]
