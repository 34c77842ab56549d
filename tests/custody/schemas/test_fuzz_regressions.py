"""Policy files that broke the fuzz invariant (a PolicyFileError or a policy), refused cleanly now.

Written with the ``policy_toml`` target from its invariant: tomllib
recurses once per nested array or inline table, so a few thousand ``[``
(well within a policy file's size) raised RecursionError out of ``compile_policy``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import pytest

from custody.schemas.policy_toml import PolicyFileError, compile_policy


@pytest.fixture
def recursion_limit() -> Iterator[Callable[[int], None]]:
    """Python's own limit (1000); py_ecc and py-evm raise it to 100,000 when the EVM is imported."""
    before = sys.getrecursionlimit()
    yield sys.setrecursionlimit
    sys.setrecursionlimit(before)


@pytest.mark.parametrize(
    "text",
    ["x = " + "[" * 3000 + "]" * 3000, "x = " + "{a=" * 3000 + "1" + "}" * 3000],
    ids=["arrays", "tables"],
)
def test_fuzz_policy_nested_too_deeply_is_a_policy_file_error(
    text: str, recursion_limit: Callable[[int], None]
) -> None:
    recursion_limit(1000)
    with pytest.raises(PolicyFileError, match="nested too deeply"):
        compile_policy(text, "deep.toml")
    recursion_limit(100_000)  # as in a station that loaded the EVM: parsed, then refused as a policy
    with pytest.raises(PolicyFileError):
        compile_policy(text, "deep.toml")


def test_fuzz_audit_export_not_in_canonical_form_is_refused() -> None:
    """An export whose first entry's sequence number is written ``0x18 0x01`` (1 in two bytes).

    ``read_export`` read each item with a plain CBOR decoder and never compared it with its
    canonical encoding, so this export was accepted and did not write back to the bytes read: one
    export, many spellings. Every item is now checked against its canonical form.
    """
    import io
    from pathlib import Path

    from custody.errors import SchemaError
    from custody.schemas.audit_log import read_export

    data = (
        Path(__file__).resolve().parents[2] / "fuzz_corpus" / "_crashes" / "audit-export-non-minimal-seq.cbor"
    )
    _, entries = read_export(io.BytesIO(data.read_bytes()))
    with pytest.raises(SchemaError, match="canonical"):
        list(entries)


def test_fuzz_audit_entry_whose_body_is_not_a_map_is_a_schema_error() -> None:
    """Found by the ``audit_export`` campaign: an entry whose body is canonical CBOR but a list.
    ``AuditEntry.fields`` made a dict of it and raised ValueError, which ``host audit`` (catching
    CustodyError around it) let escape: one hostile export crashed the audit."""
    import io
    from pathlib import Path

    from custody.errors import SchemaError
    from custody.schemas.audit_log import read_export

    data = (
        Path(__file__).resolve().parents[2] / "fuzz_corpus" / "_crashes" / "audit-export-body-not-a-map.cbor"
    )
    _, entries = read_export(io.BytesIO(data.read_bytes()))
    with pytest.raises(SchemaError, match="not a map"):
        for entry in entries:
            entry.fields()
