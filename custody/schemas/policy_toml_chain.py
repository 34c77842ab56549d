"""The ``[vault.chain]`` table of a policy file: each chain's settings as people write them.

Addresses are written as the chain writes them (a Safe and its tokens as
0x-prefixed hex), amounts as integers in base units, durations as text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from custody.schemas.chain import ChainBinding, ChiaBinding
from custody.schemas.chain_bitcoin import BitcoinBinding

Fail = Callable[[str, str], Exception]
Check = Callable[[dict[str, Any], str, dict[str, Any]], dict[str, Any]]

CHIA_TABLE: dict[str, Any] = {
    "chain": str,
    "network": str,
    "launcher_id": str,
    "recovery_signers": int,
    "recovery_penalty": (int, str),
}
EVM_TABLE: dict[str, Any] = {
    "chain": str,
    "chain_id": int,
    "safe": str,
    "version": str,
    "first_nonce": int,
    "multisend": str,
    "tokens": list,
}
BITCOIN_TABLE: dict[str, Any] = {"chain": str, "network": str, "address": str, "max_fee_rate": int}
TOKEN_TABLE: dict[str, Any] = {
    "address": str,
    "symbol": str,
    "decimals": int,
    "max_per_spend": int,
    "window_max": int,
}


def hex_bytes(text: str, path: str, fail: Fail, *, prefixed: bool = False) -> bytes:
    body = text[2:] if prefixed and text.startswith("0x") else text
    if prefixed and not text.startswith("0x") and text:
        raise fail(path, "must be a 0x-prefixed address")
    try:
        return bytes.fromhex(body)
    except ValueError:
        raise fail(path, "must be hexadecimal") from None


def compile_chain(
    table: dict[str, Any], check: Check, fail: Fail, duration: Callable[[Any, str], int]
) -> dict[str, Any]:
    """The binding's CBOR map from its TOML table."""
    if table.get("chain") == "bitcoin":
        return check(table, "vault.chain", BITCOIN_TABLE)
    if table.get("chain") == "evm":
        c = check(table, "vault.chain", EVM_TABLE)
        tokens = []
        for i, entry in enumerate(c["tokens"]):
            path = f"vault.chain.tokens[{i}]"
            if not isinstance(entry, dict):
                raise fail(path, "each token is a [[vault.chain.tokens]] table")
            t = check(entry, path, TOKEN_TABLE)
            tokens.append({**t, "address": hex_bytes(t["address"], f"{path}.address", fail, prefixed=True)})
        return {
            **c,
            "safe": hex_bytes(c["safe"], "vault.chain.safe", fail, prefixed=True),
            "multisend": hex_bytes(c["multisend"], "vault.chain.multisend", fail, prefixed=True),
            "tokens": sorted(tokens, key=lambda t: t["address"]),
        }
    c = check(table, "vault.chain", CHIA_TABLE)
    return {
        **c,
        "launcher_id": hex_bytes(c["launcher_id"], "vault.chain.launcher_id", fail),
        "recovery_penalty": duration(c["recovery_penalty"], "vault.chain.recovery_penalty"),
    }


def render_chain(binding: ChainBinding, format_duration: Callable[[int], str]) -> list[str]:
    """The ``[vault.chain]`` lines for ``binding``."""
    out = ["", "[vault.chain]", f'chain = "{binding.chain}"']
    if isinstance(binding, ChiaBinding):
        signers = binding.recovery_signers
        return [
            *out,
            f'network = "{binding.network}"',
            f'launcher_id = "{binding.launcher_id.hex()}"',
            f"recovery_signers = {signers}  # "
            + (
                f"{signers} of the keys may schedule a rekey the chain delays"
                if signers
                else "every rekey needs the full quorum"
            ),
            f'recovery_penalty = "{format_duration(binding.recovery_penalty_seconds)}"  '
            "# added to the rekey delay per missing signer",
        ]
    if isinstance(binding, BitcoinBinding):
        return [
            *out,
            f'network = "{binding.network}"',
            f'address = "{binding.address}"  # wsh(sortedmulti) of the vault\'s keys; change returns here',
            f"max_fee_rate = {binding.max_fee_rate}  # sat/vB; the fee itself is capped by max_fee",
        ]
    from custody.chains.evm.safe_tx import checksum

    out += [
        f"chain_id = {binding.chain_id}  # {binding.name}",
        f'safe = "{checksum(binding.safe)}"',
        f'version = "{binding.version}"',
        f"first_nonce = {binding.first_nonce}  # the Safe's nonce when this definition took effect",
        f'multisend = "{checksum(binding.multisend) if binding.multisend else ""}"  '
        "# the MultiSendCallOnly a batch may DELEGATECALL into; empty: none",
    ]
    if not binding.tokens:
        out.append("tokens = []  # ERC-20s the vault may send: [[vault.chain.tokens]] tables")
    for t in binding.tokens:
        out += [
            "",
            "[[vault.chain.tokens]]",
            f'address = "{checksum(t.address)}"',
            f'symbol = "{t.symbol}"',
            f"decimals = {t.decimals}",
            f"max_per_spend = {t.max_per_spend}",
            f"window_max = {t.window_max}",
        ]
    return out
