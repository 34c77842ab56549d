"""Where a vault lives, as the host prints it: its chain, and the Safe or launcher it is bound to."""

from __future__ import annotations

from typing import Any

from custody.schemas.chain_bitcoin import BitcoinBinding
from custody.schemas.chain_evm import EvmBinding
from custody.schemas.policy_toml import format_duration
from custody.schemas.vault import VaultDefinition


def chain_json(d: VaultDefinition) -> dict[str, Any] | None:
    if not isinstance(d.chain, EvmBinding):
        return dict(chain_lines(d)) if d.chain is not None else None
    from custody.chains.evm.safe_tx import checksum

    evm = d.chain
    return {
        "chain": "evm",
        "chain_id": evm.chain_id,
        "name": evm.name,
        "safe": checksum(evm.safe),
        "version": evm.version,
        "first_nonce": evm.first_nonce,
        "tokens": [
            {"symbol": t.symbol, "address": checksum(t.address), "decimals": t.decimals} for t in evm.tokens
        ],
        "multisend": checksum(evm.multisend) if evm.multisend else None,
    }


def chain_lines(d: VaultDefinition) -> list[tuple[str, str]]:
    """Where the vault lives: its network, launcher id and receive address (recomputed, not stored)."""
    if d.chain is None:
        return [("chain", "none: a statement vault")]
    if isinstance(d.chain, EvmBinding):
        from custody.chains.evm.safe_tx import checksum

        evm = d.chain
        lines = [
            ("chain", f"{evm.name} (chain id {evm.chain_id})"),
            ("Safe", f"{checksum(evm.safe)} (version {evm.version}, first nonce {evm.first_nonce})"),
        ]
        for t in evm.tokens:
            lines.append(("token", f"{t.symbol} at {checksum(t.address)}, {t.decimals} decimals"))
        if evm.multisend:
            lines.append(("multisend", f"{checksum(evm.multisend)} (MultiSendCallOnly)"))
        return lines
    if isinstance(d.chain, BitcoinBinding):
        from custody.chains.bitcoin.script import descriptor

        btc = d.chain
        return [
            ("chain", btc.name),
            ("address", f"{btc.address} (one address: change returns to it)"),
            ("descriptor", descriptor([k.public_key for k in d.keys], d.threshold)),
            ("fee rate", f"at most {btc.max_fee_rate} sat/vB"),
        ]
    from custody.chains.chia.custody import address, p2_puzzle_hash
    from custody.chains.chia.recovery import vault_custody

    net, custody = d.chain.net, vault_custody(d)
    lines = [
        ("chain", f"chia {net.name}"),
        ("launcher id", d.chain.launcher_id.hex()),
        ("custody", custody.hash.hex()),
        ("address", address(p2_puzzle_hash(d.chain.launcher_id), net)),
    ]
    for k in custody.paths:
        lines.append(
            (
                "slow rekey",
                f"{k} of {len(d.keys)} may schedule one; the chain holds it "
                f"{format_duration(custody.delay(k))}",
            )
        )
    return lines
