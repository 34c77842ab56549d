"""The audit chain: recomputed by anyone, every alteration found, exports read in constant memory."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest

from custody.errors import CustodyError
from custody.schemas.audit_log import (
    GENESIS,
    AuditEntry,
    HeadSignature,
    SignedHead,
    export_bytes,
    make_entry,
    read_export,
    verify_chain,
)


def chain(n: int) -> list[AuditEntry]:
    entries, prev = [], GENESIS
    for seq in range(1, n + 1):
        entry = make_entry(seq, 1000 + seq, "scan", {"n": seq}, prev)
        entries.append(entry)
        prev = entry.hash
    return entries


def test_an_intact_chain_verifies() -> None:
    report = verify_chain(chain(50))
    assert report.ok and report.count == 50 and report.last_seq == 50 and report.head == chain(50)[-1].hash


@pytest.mark.parametrize(
    ("alter", "message"),
    [
        (lambda es: es[:10] + es[11:], "expected sequence number 11"),
        (lambda es: [*es[:10], replace(es[10], body=b"\xa1an\x00"), *es[11:]], "altered"),
        (lambda es: [*es[:10], replace(es[10], at=5), *es[11:]], "altered"),
        (lambda es: [es[1], es[0], *es[2:]], "expected sequence number 1"),
    ],
)
def test_each_alteration_is_found(alter, message: str) -> None:  # type: ignore[no-untyped-def]
    report = verify_chain(alter(chain(20)))
    assert not report.ok and any(message in p for p in report.problems)


def test_a_rewritten_tail_still_chains_but_ends_on_another_head() -> None:
    original = chain(20)
    rewritten = original[:15]
    prev = rewritten[-1].hash
    for seq in range(16, 21):
        rewritten.append(make_entry(seq, 2000 + seq, "scan", {"forged": seq}, prev))
        prev = rewritten[-1].hash
    report = verify_chain(rewritten)
    assert report.ok and report.head != original[-1].hash  # only a remembered head can tell


def test_export_round_trip_and_truncation() -> None:
    entries = chain(30)
    data = export_bytes(SignedHead(station="s", count=30, head=entries[-1].hash, at=1030), entries)
    header, read = read_export(io.BytesIO(data))
    assert header.station == "s" and header.at == 1030 and list(read) == entries
    _, short = read_export(io.BytesIO(data[:-10]))
    with pytest.raises(CustodyError):
        list(short)
    _, extra = read_export(io.BytesIO(data + b"\x00"))
    with pytest.raises(CustodyError, match="after the last entry"):
        list(extra)
    with pytest.raises(CustodyError):
        read_export(io.BytesIO(b"\xff\x00"))


def test_the_head_is_signed_under_its_own_tag_and_checked_per_key() -> None:
    from tests.custody.schemas.fixtures import KEYS

    entries = chain(3)
    head = SignedHead(station="station-1", count=3, head=entries[-1].hash, at=1003)
    signed = replace(
        head,
        signatures=(
            HeadSignature(key_id=KEYS[0].vault_key.key_id, signature=KEYS[0].sign(head.statement_digest())),
        ),
    )
    keys = {k.vault_key.key_id: (k.vault_key.algorithm, k.vault_key.public_key) for k in KEYS}
    header, _ = read_export(io.BytesIO(export_bytes(signed, entries)))
    assert header.valid_signers(keys) == [KEYS[0].vault_key.key_id]
    for lie in (replace(header, count=2), replace(header, head=entries[0].hash), replace(header, at=1004)):
        assert lie.valid_signers(keys) == []  # the head, count and time are all under the signature
    assert header.valid_signers({KEYS[1].vault_key.key_id: keys[KEYS[1].vault_key.key_id]}) == []
