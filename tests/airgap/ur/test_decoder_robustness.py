"""The UR decoder never derails: order, duplicates, case, late joins, noise, foreign and hostile parts."""

from __future__ import annotations

import random

import cbor2
import pytest

from airgap.errors import ChecksumError, DecodeError, LimitExceededError, PartMismatchError
from airgap.ur import bytewords
from airgap.ur.fountain import FountainPart
from airgap.ur.ur import UR, DecodeLimits, ReceiveStatus, URDecoder, UREncoder, parse


def message_ur(length: int, seed: int = 7, ur_type: str = "x-test") -> UR:
    return UR(ur_type, cbor2.dumps(random.Random(seed).randbytes(length)))


def parts(ur: UR, count: int, max_fragment: int = 50, first_seq: int = 0) -> list[str]:
    encoder = UREncoder(ur, max_fragment, first_seq_num=first_seq)
    return [encoder.next_part() for _ in range(count)]


def feed(decoder: URDecoder, texts: list[str]) -> None:
    for text in texts:
        if decoder.receive(text) is ReceiveStatus.COMPLETE:
            return


def test_parts_in_any_order_with_duplicates_and_mixed_case() -> None:
    ur = message_ur(1000)
    texts = parts(ur, 30)
    stream = texts + texts[:5]
    random.Random(1).shuffle(stream)
    stream = [t.upper() if i % 2 else t for i, t in enumerate(stream)]
    decoder = URDecoder()
    feed(decoder, stream)
    assert decoder.result == ur


def test_duplicate_is_reported_and_changes_nothing() -> None:
    texts = parts(message_ur(1000), 3)
    decoder = URDecoder()
    assert decoder.receive(texts[0]) is ReceiveStatus.NEW
    before = decoder.progress.fraction
    assert decoder.receive(texts[0]) is ReceiveStatus.DUPLICATE
    assert decoder.progress.fraction == before


def test_joined_mid_stream_and_only_fountain_parts() -> None:
    ur = message_ur(2000)
    encoder = UREncoder(ur, 100)
    assert encoder.seq_len > 10
    # seqNum > seqLen only: the rateless parts alone must converge.
    fountain_only = parts(ur, 200, max_fragment=100, first_seq=encoder.seq_len)
    decoder = URDecoder()
    feed(decoder, fountain_only)
    assert decoder.result == ur
    assert decoder.progress.parts_seen < 3 * encoder.seq_len


def test_lines_that_are_not_urs_are_skipped() -> None:
    ur = message_ur(500)
    noise = ["", "hello", "https://example.invalid/ur:x", "UR:", "ur:x-test", "ur:x-test/zz/zz"]
    stream = [*noise, *parts(ur, 20)]
    decoder = URDecoder()
    statuses = [decoder.receive(t) for t in noise]
    assert ReceiveStatus.NOT_UR in statuses and ReceiveStatus.INVALID in statuses
    feed(decoder, stream)
    assert decoder.result == ur
    assert decoder.progress.invalid >= 3


def test_foreign_message_is_ignored_and_state_kept() -> None:
    ours, theirs = message_ur(1500, seed=1), message_ur(1500, seed=2)
    ours_parts, their_parts = parts(ours, 40), parts(theirs, 40)
    decoder = URDecoder()
    decoder.receive(ours_parts[0])
    decoder.receive(ours_parts[1])
    fraction = decoder.progress.fraction
    assert decoder.receive(their_parts[2]) is ReceiveStatus.FOREIGN
    assert decoder.progress.fraction == fraction
    assert decoder.progress.foreign == 1
    assert "1 foreign ignored" in decoder.progress.describe()
    interleaved = [p for pair in zip(their_parts, ours_parts, strict=True) for p in pair]
    feed(decoder, interleaved)
    assert decoder.result == ours


def test_other_ur_type_with_same_payload_is_foreign() -> None:
    a = message_ur(800, ur_type="x-a")
    b = UR("x-b", a.cbor)
    decoder = URDecoder()
    decoder.receive(parts(a, 1)[0])
    assert decoder.receive(parts(b, 2)[1]) is ReceiveStatus.FOREIGN


def test_expected_types_filter() -> None:
    decoder = URDecoder(expected_types=frozenset({"x-wanted"}))
    assert decoder.receive(parts(message_ur(10, ur_type="x-other"), 1)[0]) is ReceiveStatus.FOREIGN
    assert not decoder.is_complete


def test_progress_is_a_fraction_rising_to_one() -> None:
    ur = message_ur(1000)
    texts = parts(ur, 21)
    decoder = URDecoder()
    seen = []
    for t in texts:
        decoder.receive(t)
        seen.append(decoder.progress.fraction)
        if decoder.is_complete:
            break
    assert seen == sorted(seen)
    assert 0 < seen[0] < 1 and seen[-1] == 1.0


def test_single_part_ur_completes_at_once() -> None:
    ur = message_ur(20)
    (text,) = parts(ur, 1, max_fragment=1000)
    assert text.count("/") == 1
    decoder = URDecoder()
    assert decoder.receive(text) is ReceiveStatus.COMPLETE
    assert decoder.result == ur and decoder.progress.fraction == 1.0


# --- hostile input -------------------------------------------------------------------------


def forge(part: FountainPart, ur_type: str = "x-test", seq: str | None = None) -> str:
    seq = seq or f"{part.seq_num}-{part.seq_len}"
    return f"ur:{ur_type}/{seq}/{bytewords.encode(part.to_cbor())}"


def test_truncated_part_is_invalid() -> None:
    text = parts(message_ur(1000), 1)[0]
    decoder = URDecoder()
    assert decoder.receive(text[:-6]) is ReceiveStatus.INVALID
    with pytest.raises(DecodeError):
        parse(text[:-6])


def test_bad_crc_is_named() -> None:
    text = parts(message_ur(1000), 1)[0]
    flipped = text[:-10] + ("ae" if text[-10:-8] != "ae" else "ad") + text[-8:]
    with pytest.raises(DecodeError, match="checksum"):
        parse(flipped)


def test_bad_type_text() -> None:
    for bad in ("ur:x_test/aeadaolazmjendeoti", "ur:-x/aeadaolazmjendeoti", "ur:/aeadaolazmjendeoti"):
        with pytest.raises(DecodeError, match="UR type"):
            parse(bad)


def test_header_seq_must_match_payload() -> None:
    text = parts(message_ur(1000), 2)[1]
    _, _, rest = text.partition("/")
    _, _, body = rest.partition("/")
    with pytest.raises(PartMismatchError, match="header says 3-"):
        parse(f"ur:x-test/3-{text.split('/')[1].split('-')[1]}/{body}")


def test_inconsistent_part_lengths_are_refused() -> None:
    # messageLen larger than seqLen * fragment length cannot be a real part.
    with pytest.raises(PartMismatchError, match="disagree"):
        parse(forge(FountainPart(1, 2, 500, 0x1234, b"x" * 10)))
    with pytest.raises(PartMismatchError, match="empty"):
        parse(forge(FountainPart(1, 1, 0, 0, b"x")))


def test_non_canonical_part_cbor_is_refused() -> None:
    # seq_num 1 encoded in two bytes (0x18 0x01) instead of one.
    body = bytes.fromhex("85180101011a00000000") + b"\x41" + b"a"
    with pytest.raises(DecodeError, match=r"canonical|CBOR"):
        parse(f"ur:x-test/1-1/{bytewords.encode(body)}")


def test_part_cbor_wrong_shape_and_types() -> None:
    for value in ([1, 2, 3], {"a": 1}, [1, 1, 1, 1, "text"], [1, -1, 1, 1, b"a"], [0, 1, 1, 0, b"a"]):
        with pytest.raises(DecodeError):
            parse(f"ur:x-test/1-1/{bytewords.encode(cbor2.dumps(value))}")


def test_oversized_lengths_hit_the_caps_before_allocation() -> None:
    limits = DecodeLimits(max_message_len=10_000, max_seq_len=100)
    huge = FountainPart(1, 2, 2_000_000, 1, b"x" * 1_000_000)
    with pytest.raises(LimitExceededError, match="exceeds the cap"):
        URDecoder(limits=limits).receive(forge(huge))
    many = FountainPart(1, 5000, 5000, 1, b"x")
    with pytest.raises(LimitExceededError, match="5000 parts"):
        URDecoder(limits=limits).receive(forge(many))
    with pytest.raises(LimitExceededError, match="characters"):
        parse("ur:x-test/" + "ae" * 30_000, limits)


def test_over_cap_part_of_another_message_is_foreign_once_assembling() -> None:
    limits = DecodeLimits(max_message_len=10_000, max_seq_len=100)
    ours = parts(message_ur(1000), 3)
    decoder = URDecoder(limits=limits)
    decoder.receive(ours[0])
    fraction = decoder.progress.fraction
    huge = forge(FountainPart(1, 2, 2_000_000, 1, b"x" * 1_000_000))
    many = forge(FountainPart(1, 5000, 5000, 1, b"x"))
    assert decoder.receive(huge) is ReceiveStatus.FOREIGN
    assert decoder.receive(many) is ReceiveStatus.FOREIGN
    assert decoder.progress.fraction == fraction and decoder.progress.foreign == 2


def test_single_part_over_message_cap() -> None:
    text = parts(message_ur(3000), 1, max_fragment=10_000)[0]
    with pytest.raises(LimitExceededError):
        URDecoder(limits=DecodeLimits(max_message_len=1000)).receive(text)


def test_corrupt_message_with_valid_parts_fails_checksum() -> None:
    # Parts whose CRC-32 header promises one message but whose data spells another.
    good = UREncoder(message_ur(100), 50)
    texts = []
    for _ in range(good.seq_len):
        part = FountainPart.from_cbor(bytewords.decode(good.next_part().split("/")[-1]))
        tampered = FountainPart(
            part.seq_num, part.seq_len, part.message_len, part.checksum, bytes(len(part.data))
        )
        texts.append(forge(tampered))
    decoder = URDecoder()
    with pytest.raises(ChecksumError, match="checksum"):
        feed(decoder, texts)


def test_held_rows_never_exceed_the_fragment_count() -> None:
    ur = message_ur(5000)
    encoder = UREncoder(ur, 20)
    fountain = parts(ur, 3000, max_fragment=20, first_seq=encoder.seq_len)
    decoder = URDecoder()
    for text in fountain:
        decoder.receive(text)
        assert decoder._fountain is not None
        assert len(decoder._fountain._rows) <= encoder.seq_len
        if decoder.is_complete:
            break
    assert decoder.result == ur
    assert decoder._fountain is not None and decoder._fountain._rows == {}


def test_fountain_only_stream_completes_with_little_overhead() -> None:
    # A part that is the XOR of two held mixed parts adds nothing; one that is
    # independent of them completes the system even with no simple part at all.
    ur = message_ur(5000)
    encoder = UREncoder(ur, 100)
    stream = parts(ur, 10 * encoder.seq_len, max_fragment=100, first_seq=encoder.seq_len)
    decoder = URDecoder()
    used = 0
    for text in stream:
        used += 1
        if decoder.receive(text) is ReceiveStatus.COMPLETE:
            break
    assert decoder.result == ur
    assert used <= 1.5 * encoder.seq_len
