"""Inputs scripts/fuzz found that broke the invariant in the Chia adapter, each refused cleanly now.

Found by the ``vault`` and ``policy_toml`` targets: a Chia vault whose P-256
key is 33 bytes of the right form but no point on the curve. The SDK raised
a bare ValueError ("Secp error") from the vault's own constructor, so
``host vault`` and a station installing the policy crashed instead of
refusing it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from custody.errors import SchemaError
from custody.schemas.policy_toml import PolicyFileError, compile_policy
from custody.schemas.vault import StationPolicy, VaultDefinition

CRASHES = Path(__file__).resolve().parents[3] / "fuzz_corpus" / "_crashes"


def test_fuzz_vault_with_a_chia_key_off_the_curve_is_a_schema_error() -> None:
    data = (CRASHES / "vault-chia-key-off-curve.cbor").read_bytes()
    with pytest.raises(SchemaError, match="not a point on its curve"):
        VaultDefinition.from_cbor(data)
    with pytest.raises(SchemaError):
        StationPolicy.from_cbor(data)


def test_fuzz_policy_file_with_a_chia_key_off_the_curve_is_a_policy_file_error() -> None:
    text = (CRASHES / "policy-chia-key-off-curve.toml").read_bytes().decode("utf-8", "replace")
    with pytest.raises(PolicyFileError, match="not a point on its curve"):
        compile_policy(text)
