"""The EVM adapter: Safe multisigs whose owners are station HSM keys, decoded before they are signed.

CHAINS.md says what the contract accepts that the station must not rely on
(high-S, eth_sign v, approved hashes, modules, refunds); the facts and the
judge here refuse each.
"""

from __future__ import annotations

from collections.abc import Mapping

from eth_utils.address import to_checksum_address

from custody.chains.base import ChainError
from custody.chains.evm.facts import EvmFacts, parse
from custody.chains.evm.safe_tx import parse_exec, parse_payload
from custody.chains.evm.signatures import (
    address_of,
    judge_signatures,
    owner_addresses,
    owner_signature,
    pack,
)
from custody.errors import SchemaError
from custody.schemas.chain_evm import EvmBinding
from custody.schemas.key_record import Algorithm
from custody.schemas.request import Action, Announce, Cancel, SpendRequest, signatures_needed
from custody.schemas.vault import VaultDefinition


def is_checksummed(address: str) -> bool:
    """``address`` is a 0x-prefixed, EIP-55 checksummed 20-byte address."""
    if len(address) != 42 or not address.startswith("0x"):
        return False
    try:
        return to_checksum_address(bytes.fromhex(address[2:])) == address
    except ValueError:
        return False


class EvmAdapter:
    name = "evm"

    def check_vault(self, vault: VaultDefinition) -> None:
        if not isinstance(vault.chain, EvmBinding):
            raise SchemaError("vault: not an EVM vault")
        if vault.asset.decimals != 18:
            raise SchemaError("vault: an EVM vault holds its chain's native asset, with 18 decimals")
        for key in vault.keys:
            if key.algorithm is not Algorithm.SECP256K1:
                raise SchemaError(
                    f"vault: {key.station}'s key is {key.algorithm.value}; a Safe owner is a secp256k1 key"
                )
        if vault.chain.safe in owner_addresses(vault.keys):
            raise SchemaError("vault: the Safe cannot own itself")
        for dest in vault.rules.destinations:
            if not is_checksummed(dest):
                raise SchemaError(f"destination {dest!r} is not an EIP-55 checksummed address")

    def needs_payload(self, action: Action) -> bool:
        """Announcements and cancellations are the stations' own statements: a Safe has no timelock,
        so the transaction is signed only when the announcement is executed."""
        return not isinstance(action, Announce | Cancel)

    def parse(self, vault: VaultDefinition, payload: bytes) -> EvmFacts:
        return parse(vault, payload)

    def check_signature(self, facts: EvmFacts, public_key: bytes, signature: bytes) -> None:
        """Before release: the signature recovers, with v 27 or 28, to the station's own address."""
        owner_signature(facts.safe_tx_hash, signature, address_of(public_key))

    def assemble(
        self, vault: VaultDefinition, request: SpendRequest, signatures: Mapping[bytes, bytes]
    ) -> bytes:
        tx = parse_payload(request.payload)
        pairs = []
        for key_id, signature in signatures.items():
            key = vault.key(key_id)
            if key is None:
                raise ChainError(f"key {key_id.hex()[:16]} is not an owner of this vault")
            pairs.append((address_of(key.public_key), signature))
        return tx.exec_calldata(pack(tx.safe_tx_hash(), pairs))

    def judge(self, vault: VaultDefinition, request: SpendRequest, final: bytes, now: int) -> list[str]:
        binding = vault.chain
        if not isinstance(binding, EvmBinding):
            raise ChainError("this vault is not a Safe")
        tx = parse_payload(request.payload)
        problems = []
        if (tx.chain_id, tx.safe) != (binding.chain_id, binding.safe):
            problems.append("the SafeTx is for another chain or Safe than the vault's")
        packed = parse_exec(tx, final)
        needed = signatures_needed(request.action, vault.threshold)
        return problems + judge_signatures(tx.safe_tx_hash(), packed, owner_addresses(vault.keys), needed)
