"""The Bitcoin adapter: one P2WSH ``sortedmulti`` address whose keys are station HSM keys, spent by PSBT.

Each station signs every input's BIP-143 sighash (raw ECDSA in the HSM,
low-S); the host puts M of them in each input's witness. Taproot is out of
scope: no PKCS#11 mechanism makes BIP-340 signatures (CHAINS.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from custody.chains.base import ChainError
from custody.chains.bitcoin import signatures
from custody.chains.bitcoin.facts import BitcoinFacts, parse
from custody.chains.bitcoin.judge import judge
from custody.chains.bitcoin.script import check_binding, script_of, vault_witness_script
from custody.errors import SchemaError
from custody.schemas.chain_bitcoin import BitcoinBinding
from custody.schemas.key_record import Algorithm
from custody.schemas.request import Action, Announce, Cancel, SpendRequest
from custody.schemas.vault import VaultDefinition


class BitcoinAdapter:
    name = "bitcoin"

    def check_vault(self, vault: VaultDefinition) -> None:
        binding = vault.chain
        if not isinstance(binding, BitcoinBinding):
            raise SchemaError("vault: not a Bitcoin vault")
        if vault.asset.decimals != 8:
            raise SchemaError("vault: a Bitcoin vault holds bitcoin, with 8 decimals (amounts in sats)")
        for key in vault.keys:
            if key.algorithm is not Algorithm.SECP256K1:
                raise SchemaError(
                    f"vault: {key.station}'s key is {key.algorithm.value}; Bitcoin needs secp256k1"
                )
        try:
            check_binding(binding, [k.public_key for k in vault.keys], vault.threshold)
            for dest in vault.rules.destinations:
                script_of(dest, binding.network)
        except ChainError as exc:
            raise SchemaError(f"vault: {exc}") from None

    def needs_payload(self, action: Action) -> bool:
        """Announcements and cancellations are the stations' own statements: the chain has no place
        for them, and the transaction is signed only when the announcement is executed."""
        return not isinstance(action, Announce | Cancel)

    def parse(self, vault: VaultDefinition, payload: bytes) -> BitcoinFacts:
        return parse(vault, payload)

    def check_signature(self, facts: BitcoinFacts, public_key: bytes, signature: bytes) -> None:
        signatures.check(facts.sighashes, public_key, signature)

    def assemble(self, vault: VaultDefinition, request: SpendRequest, sigs: Mapping[bytes, bytes]) -> bytes:
        """The finalized PSBT (BIP-174 finalizer's output), from M stations' per-input signatures."""
        facts = parse(vault, request.payload)
        by_key = {}
        for key_id, chain_signature in sigs.items():
            key = vault.key(key_id)
            if key is None:
                raise ChainError(f"key {key_id.hex()[:16]} is not in this vault")
            by_key[key.public_key] = signatures.split(chain_signature, len(facts.inputs))
        return signatures.finalize(facts.psbt, by_key, vault.threshold, vault_witness_script(vault))

    def judge(self, vault: VaultDefinition, request: SpendRequest, final: bytes, now: int) -> list[str]:
        return judge(vault, parse(vault, request.payload), final)
