"""The Chia adapter: vaults whose members are station HSM keys, spent through the SDK's vault puzzles.

Facts, CHAINS.md and docs/chia.md say why each choice is made: members sign
``sha256(delegated_puzzle_hash || vault_coin_id)`` (binding a signature to
one vault coin), without fast-forward, low-S on both curves.
"""

from __future__ import annotations

from collections.abc import Mapping

from custody.chains.base import ChainError
from custody.chains.chia.assemble import assemble_bundle, judge_bundle
from custody.chains.chia.custody import decode_address, member_hash
from custody.chains.chia.facts import ChiaFacts, check_destinations, parse
from custody.chains.chia.payload import parse_payload
from custody.chains.chia.recovery import successor_custody
from custody.errors import SchemaError
from custody.schemas.chain import ChiaBinding
from custody.schemas.request import Action, SlowRekey, SpendRequest
from custody.schemas.vault import VaultDefinition


class ChiaAdapter:
    name = "chia"

    def check_vault(self, vault: VaultDefinition) -> None:
        binding = vault.chain
        if not isinstance(binding, ChiaBinding):
            raise SchemaError("vault: not a Chia vault")
        net = binding.net
        if (vault.asset.code, vault.asset.decimals) != (net.asset_code, 12):
            raise SchemaError(f"vault: a Chia {net.name} vault holds {net.asset_code} with 12 decimals")
        for key in vault.keys:
            member_hash(key)  # refuses Ed25519: no Chia member verifies it from an HSM
        check_destinations(vault, net)
        if binding.recovery_signers:
            if not 1 <= binding.recovery_signers < vault.threshold:
                raise SchemaError(
                    f"vault: recovery_signers must be 1 to {vault.threshold - 1}, fewer than the threshold"
                )
            if vault.rules.rekey_delay_seconds + binding.recovery_penalty_seconds == 0:
                raise SchemaError("vault: a recovery path needs a delay: a rekey delay or a recovery penalty")

    def needs_payload(self, action: Action) -> bool:
        return True  # every Chia action is a vault spend, the chain holds the delays

    def check_signature(self, facts: ChiaFacts, public_key: bytes, signature: bytes) -> None:
        """Nothing beyond the HSM layer's own verification: members verify plain (r, s)."""

    def parse(self, vault: VaultDefinition, payload: bytes) -> ChiaFacts:
        return parse(vault, payload)

    def assemble(
        self, vault: VaultDefinition, request: SpendRequest, signatures: Mapping[bytes, bytes]
    ) -> bytes:
        action = request.action
        rekey_to = (
            successor_custody(vault, action.keys, action.threshold).hash
            if isinstance(action, SlowRekey)
            else None
        )
        payload = parse_payload(request.payload)
        return bytes(assemble_bundle(vault, payload, signatures, rekey_to).to_bytes())

    def judge(self, vault: VaultDefinition, request: SpendRequest, final: bytes, now: int) -> list[str]:
        from chia_wallet_sdk import SpendBundle

        try:
            bundle = SpendBundle.from_bytes(final)
        except (ValueError, RuntimeError) as exc:
            raise ChainError(f"not a spend bundle: {exc}") from None
        return judge_bundle(bundle, now)

    @staticmethod
    def puzzle_hash_of(vault: VaultDefinition, destination: str) -> bytes:
        binding = vault.chain
        if not isinstance(binding, ChiaBinding):
            raise SchemaError("vault: not a Chia vault")
        return decode_address(destination, binding.net)
