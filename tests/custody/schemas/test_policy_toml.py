"""Policy files: the shipped examples compile, export round-trips, and errors name the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from custody.schemas.policy_toml import (
    PolicyFileError,
    compile_policy,
    format_duration,
    load_policy_file,
    parse_duration,
    render_policy,
)

EXAMPLES = Path(__file__).parents[3] / "firmware-config" / "policies"
COLD = (EXAMPLES / "cold-vault.toml").read_text()


def test_the_examples_compile_to_what_the_issue_asks() -> None:
    cold = load_policy_file(EXAMPLES / "cold-vault.toml")
    hot = load_policy_file(EXAMPLES / "hot-vault.toml")
    assert (cold.vault.threshold, len(cold.vault.keys)) == (3, 5)
    assert (cold.vault.rules.cooldown_seconds, cold.vault.rules.announce_delay_seconds) == (
        30 * 86400,
        90 * 86400,
    )
    assert (hot.vault.threshold, len(hot.vault.keys)) == (2, 3)
    assert (hot.vault.rules.cooldown_seconds, hot.vault.rules.announce_delay_seconds) == (3600, 86400)


def test_render_then_compile_is_the_same_policy() -> None:
    for name in ("cold-vault.toml", "hot-vault.toml"):
        policy = load_policy_file(EXAMPLES / name)
        assert compile_policy(render_policy(policy, comment="exported")) == policy


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ('cooldown = "30d"', 'cooldown = "30 days"', "cooldown =", "not a duration"),
        ("window_count = 3", 'window_count = "3"', "window_count", "must be int"),
        ("window_count = 3", "window_count = 3\nwindow_cuont = 3", "window_cuont", "unknown setting"),
        ("window_count = 3", "window_count = 33", "window_count", "window_count"),
        ("min_per_spend = 100_000", "min_per_spend = 6_000_000", "min_per_spend", "exceeds max_per_spend"),
        ("threshold = 3", "threshold = 6", "threshold = 6", "threshold 6"),
        ("decimals = 12", "decimals = 31", "decimals = 31", "decimals"),
        ("max_per_spend = 5_000", "max_per_spend = 50_000", "max_per_spend", "exceeds window_max"),
        ('key_label = "cold-prefarm"', 'key_label = ""', "key_label", "key label"),
        ('public_key = "02847a', 'public_key = "zz847a', "zz847a", "hexadecimal"),
    ],
)
def test_errors_point_at_the_line(old: str, new: str, needle: str, message: str) -> None:
    assert old in COLD
    text = COLD.replace(old, new, 1)
    with pytest.raises(PolicyFileError, match=message) as caught:
        compile_policy(text, "cold.toml")
    assert f"cold.toml:{line_of(text, needle)}:" in str(caught.value)


def test_a_missing_table_and_broken_toml_are_named() -> None:
    with pytest.raises(PolicyFileError, match="station: missing"):
        compile_policy(COLD.split("[station]")[0], "p.toml")
    with pytest.raises(PolicyFileError, match="not valid TOML"):
        compile_policy("[vault\n", "p.toml")


def test_durations() -> None:
    assert parse_duration("1h30m") == 5400 and parse_duration(90) == 90 and parse_duration("2w") == 14 * 86400
    assert format_duration(90 * 86400 + 61) == "90d1m1s"
    for bad in ("", "5x", "-1d", "1.5h"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_a_safe_vault_policy_round_trips_through_toml() -> None:
    """EVM bindings (tokens, multisend) render and compile back to the same policy."""
    from custody.chains.evm.signatures import address_of
    from custody.schemas.chain_evm import EvmBinding, Token
    from custody.schemas.key_record import Algorithm
    from custody.schemas.vault import Asset, StationPolicy, VaultDefinition
    from tests.custody.chains.evm.kit import DEST, addr, keys, rules

    ks = keys(3)
    token = Token(address=bytes([7]) * 20, symbol="USDC", decimals=6, max_per_spend=10**9, window_max=10**10)
    binding = EvmBinding(
        chain_id=1,
        safe=addr(DEST)[::-1],
        version="1.4.1",
        first_nonce=12,
        tokens=(token,),
        multisend=bytes(19) + b"\x09",
    )
    vault = VaultDefinition(
        vault_id="treasury",
        generation=1,
        asset=Asset(code="ETH", decimals=18),
        threshold=2,
        keys=tuple(k.vault_key for k in ks),
        rules=rules(),
        chain=binding,
    )
    assert all(k.algorithm is Algorithm.SECP256K1 and address_of(k.public_key) for k in vault.keys)
    policy = StationPolicy(vault=vault, key_label="vault", key_id=vault.keys[0].key_id)
    text = render_policy(policy)
    assert 'chain = "evm"' in text and "[[vault.chain.tokens]]" in text and "Ethereum" in text
    assert compile_policy(text) == policy
    plain = StationPolicy(
        vault=VaultDefinition(
            **{
                **_fields(vault),
                "chain": EvmBinding(chain_id=1, safe=binding.safe, version="1.3.0", first_nonce=0),
            }
        ),
        key_label="vault",
        key_id=vault.keys[0].key_id,
    )
    assert compile_policy(render_policy(plain)) == plain


def _fields(vault: object) -> dict[str, object]:
    return {
        name: getattr(vault, name)
        for name in ("vault_id", "generation", "asset", "threshold", "keys", "rules")
    }
