"""Fuzz targets for the link: UR text, bytewords, fountain parts and the decoders' state.

Everything here arrives from a camera. Text targets read the fuzz bytes with
``text_of``; canonical forms (UR text out is lowercase, bytewords are one
spelling per byte) must come back byte for byte once accepted.
"""

from __future__ import annotations

import io

import cbor2
from fuzz_common import REFUSALS, require, text_of

from airgap.ur import bytewords
from airgap.ur.fountain import FountainDecoder, FountainPart, PartStatus
from airgap.ur.ur import UR, DecodeLimits, ReceiveStatus, URDecoder, encode_part, encode_single, parse

#: Small caps, so that a hostile stream's claims are refused quickly and memory stays small.
LIMITS = DecodeLimits(max_message_len=64 * 1024, max_seq_len=256)
_STYLES = (bytewords.Style.MINIMAL, bytewords.Style.STANDARD, bytewords.Style.URI)


def ur_text(data: bytes) -> None:
    """One UR text (single-part or a fountain part): parsed, then written back in canonical form."""
    text = text_of(data)
    try:
        parsed = parse(text, LIMITS)
    except REFUSALS:
        return
    require(text.isascii(), "UR text is ASCII")  # else a look-alike letter would stand for another
    canonical = text.strip().lower()
    if parsed.part is None:
        assert parsed.body is not None
        require(encode_single(UR(parsed.type, parsed.body)) == canonical, "single-part UR re-encodes")
    else:
        require(encode_part(parsed.type, parsed.part) == canonical, "UR part re-encodes")


def bytewords_text(data: bytes) -> None:
    """Bytewords in the style the first byte picks; accepted words are spelled back the same."""
    if not data:
        return
    style = _STYLES[data[0] % len(_STYLES)]
    text = text_of(data[1:])
    try:
        decoded = bytewords.decode(text, style)
    except REFUSALS:
        return
    require(text.isascii(), "bytewords are ASCII")
    require(bytewords.encode(decoded, style) == text.lower(), f"bytewords ({style}) re-encode")


def fountain_part(data: bytes) -> None:
    """One part's CBOR ``[seqNum, seqLen, messageLen, checksum, data]``; strictly canonical."""
    try:
        part = FountainPart.from_cbor(data)
    except REFUSALS:
        return
    require(part.to_cbor() == data, "fountain part re-encodes")


def _parts(data: bytes) -> list[bytes]:
    """The fuzz bytes as a CBOR sequence of parts' CBOR; the rest, if the sequence breaks, as one."""
    stream, out = io.BytesIO(data), list[bytes]()
    while stream.tell() < len(data) and len(out) < 64:
        start = stream.tell()
        try:
            cbor2.load(stream)
        except Exception:  # not our parser: this only cuts the fuzz input into parts
            out.append(data[start:])
            break
        out.append(data[start : stream.tell()])
    return out


def fountain_decoder(data: bytes) -> None:
    """The decoder's state as parts accumulate, in the order given: duplicates, foreign parts,
    the elimination, and the reassembled message's checksum. Its state must stay consistent."""
    decoder = FountainDecoder(max_message_len=LIMITS.max_message_len, max_seq_len=LIMITS.max_seq_len)
    for raw in _parts(data):
        try:
            part = FountainPart.from_cbor(raw)
            status = decoder.receive(part)
        except REFUSALS:
            continue
        identity = decoder.identity
        require(identity is not None, "a received part fixes the message")
        assert identity is not None
        require(0 <= decoder.rank <= identity[0], "rank within the fragment count")
        require(0.0 <= decoder.progress <= 1.0, "progress is a fraction")
        if status is PartStatus.COMPLETE:
            result = decoder.result
            require(result is not None and len(result) == identity[1], "a complete message has its length")
            require(decoder.receive(part) is PartStatus.IGNORED, "parts after completion are ignored")
            return


def ur_decoder(data: bytes) -> None:
    """UR text lines offered one by one to the station's decoder, as frames come from the camera."""
    decoder = URDecoder(limits=LIMITS)
    for line in text_of(data).split("\n")[:64]:
        try:
            status = decoder.receive(line)
        except REFUSALS:
            return
        progress = decoder.progress
        require(0.0 <= progress.fraction <= 1.0, "progress is a fraction")
        require(progress.invalid + progress.foreign <= progress.parts_seen, "parts are counted once")
        require(len(decoder.errors) <= 17, "the decoder remembers a bounded number of error reasons")
        if status is ReceiveStatus.COMPLETE:
            require(decoder.result is not None, "a complete decoder holds its message")
            return
