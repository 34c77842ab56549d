"""Property tests: round trips, lossy fountain streams, and a fuzz of the decoder."""

from __future__ import annotations

import contextlib
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airgap.errors import DecodeError
from airgap.ur import bytewords
from airgap.ur.bytewords import Style
from airgap.ur.ur import UR, DecodeLimits, ReceiveStatus, URDecoder, UREncoder, parse

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
PROPS = settings(max_examples=60, deadline=None, derandomize=True)


@PROPS
@given(st.binary(min_size=1, max_size=300), st.sampled_from(list(Style)))
def test_bytewords_round_trip(data: bytes, style: Style) -> None:
    text = bytewords.encode(data, style)
    assert bytewords.decode(text, style) == data
    assert bytewords.decode(text.upper(), style) == data


@PROPS
@given(
    st.binary(min_size=1, max_size=3000),
    st.integers(min_value=10, max_value=400),
    st.floats(min_value=0.0, max_value=0.6),
    st.integers(min_value=0, max_value=2**16),
)
def test_fountain_converges_despite_loss(message: bytes, max_fragment: int, loss: float, seed: int) -> None:
    ur = UR("x-prop", message)
    encoder = UREncoder(ur, max_fragment, first_seq_num=seed % 50)
    rng = random.Random(seed)
    decoder = URDecoder()
    budget = 20 * encoder.seq_len + 50
    for _ in range(budget):
        text = encoder.next_part()
        if rng.random() < loss:
            continue
        if decoder.receive(text) is ReceiveStatus.COMPLETE:
            break
    assert decoder.result == ur


def _valid_parts() -> list[str]:
    encoder = UREncoder(UR("x-fuzz", bytes(range(256)) * 2), 60)
    return [encoder.next_part() for _ in range(12)]


VALID = _valid_parts()


@FUZZ
@given(st.text(max_size=400))
def test_arbitrary_text_never_crashes(text: str) -> None:
    decoder = URDecoder(limits=DecodeLimits(max_message_len=4096, max_seq_len=64))
    with contextlib.suppress(DecodeError):
        decoder.receive(text)


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_mutated_parts_never_crash_or_corrupt(text: str, data: st.DataObject) -> None:
    chars = list(text)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        i = data.draw(st.integers(min_value=0, max_value=len(chars) - 1))
        op = data.draw(st.sampled_from(["flip", "drop", "dup"]))
        if op == "flip":
            chars[i] = data.draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-/:"))
        elif op == "drop":
            del chars[i]
        else:
            chars.insert(i, chars[i])
    mutated = "".join(chars)
    try:
        parse(mutated)
    except DecodeError:
        return
    decoder = URDecoder()
    for good in [mutated, *VALID]:
        try:
            if decoder.receive(good) is ReceiveStatus.COMPLETE:
                break
        except DecodeError:
            return
    # A mutation that survives every CRC must not yield a wrong message.
    assert decoder.result is None or decoder.result.cbor == bytes(range(256)) * 2
