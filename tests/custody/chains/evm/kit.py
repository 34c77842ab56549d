"""Safe vaults in the embedded EVM (the real Safe bytecode in py-evm) with software secp256k1 keys.

The keys sign exactly as a station does: raw ECDSA over the 32-byte
safeTxHash, low-S (tests/appliance does the same on SoftHSM).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from eth_utils.crypto import keccak

from custody.chains.evm.adapter import EvmAdapter
from custody.chains.evm.safe_tx import SafeTx, checksum
from custody.chains.evm.signatures import address_of
from custody.schemas.chain_evm import EvmBinding, Token
from custody.schemas.key_record import Algorithm
from custody.schemas.request import Action, SpendRequest
from custody.schemas.vault import Asset, Rules, VaultDefinition, VaultKey
from host.evm.embedded import EmbeddedEvm
from tests.custody.chains.chia.kit import ChainKey

T0 = 1_790_000_000
ETH = 10**18
TST = 10**18  # the test token has 18 decimals too
DEST = checksum(keccak(b"treasury")[-20:])
OTHER = checksum(keccak(b"attacker")[-20:])


def addr(text: str) -> bytes:
    return bytes.fromhex(text[2:])


def keys(n: int, first: int = 1) -> list[ChainKey]:
    return [ChainKey(100 + i, f"station-{i}", Algorithm.SECP256K1) for i in range(first, first + n)]


def rules(**changes: Any) -> Rules:
    base = Rules(
        destinations=(DEST,),
        min_per_spend=ETH // 100,
        max_per_spend=5 * ETH,
        window_max=8 * ETH,
        window_count=10,
        max_fee=0,
        window_seconds=86400,
        cooldown_seconds=0,
        announce_delay_seconds=0,
        announce_expiry_seconds=0,
        rekey_delay_seconds=0,
        max_request_lifetime_seconds=3600,
    )
    return replace(base, **changes)


@dataclass
class SafeVault:
    evm: EmbeddedEvm
    definition: VaultDefinition
    keys: list[ChainKey]

    @property
    def binding(self) -> EvmBinding:
        assert isinstance(self.definition.chain, EvmBinding)
        return self.definition.chain

    @property
    def safe(self) -> str:
        return checksum(self.binding.safe)

    def nonce(self) -> int:
        return int(self.evm.safe(self.safe, self.binding.version).functions.nonce().call())


def make_vault(
    evm: EmbeddedEvm, n: int, m: int, *, salt: int, version: str = "1.4.1", **rule_changes: Any
) -> SafeVault:
    """A funded Safe (10 ETH, 1,000 TST) whose owners are ``n`` software station keys, ``m`` to sign."""
    ks = keys(n)
    definition = safe_for(evm, tuple(k.vault_key for k in ks), m, salt=salt, version=version, **rule_changes)
    return SafeVault(evm, definition, ks)


def safe_for(
    evm: EmbeddedEvm,
    vault_keys: tuple[VaultKey, ...],
    m: int,
    *,
    salt: int,
    version: str = "1.4.1",
    **rule_changes: Any,
) -> VaultDefinition:
    """A funded Safe owned by ``vault_keys`` (station keys, in the HSM or not), and its vault."""
    owners = [checksum(address_of(k.public_key)) for k in vault_keys]
    safe = evm.create_safe(owners, m, salt, version)
    evm.fund(safe, 10 * ETH)
    evm.send_token(safe, 1000 * TST)
    token = Token(
        address=addr(evm.infra.token),
        symbol="TST",
        decimals=18,
        max_per_spend=500 * TST,
        window_max=800 * TST,
    )
    binding = EvmBinding(
        chain_id=evm.chain_id,
        safe=addr(safe),
        version=version,
        first_nonce=0,
        tokens=(token,),
        multisend=addr(evm.infra.multisend),
    )
    return VaultDefinition(
        vault_id="safe",
        generation=1,
        asset=Asset(code="ETH", decimals=18),
        threshold=m,
        keys=vault_keys,
        rules=rules(**rule_changes),
        chain=binding,
    )


def request_for(
    sv: SafeVault, tx: SafeTx | None, action: Action, *, seed: str, now: int = T0, **extra: Any
) -> SpendRequest:
    """A request carrying ``tx`` (None: a statement the stations sign alone, as a Safe announcement)."""
    return SpendRequest(
        request_id=hashlib.sha256(seed.encode()).digest()[:16],
        vault_id=sv.definition.vault_id,
        policy_digest=sv.definition.digest(),
        created_at=now - 60,
        expires_at=now + 540,
        action=action,
        payload=tx.to_payload() if tx is not None else b"",
        sequence=tx.nonce if tx is not None else 0,
        **extra,
    )


def signatures(sv: SafeVault, tx: SafeTx, who: tuple[int, ...]) -> dict[bytes, bytes]:
    digest = tx.safe_tx_hash()
    return {sv.keys[i].vault_key.key_id: sv.keys[i].sign(digest) for i in who}


def execute(sv: SafeVault, request: SpendRequest, who: tuple[int, ...]) -> bytes:
    """Assemble the signatures of ``who`` and have the Safe execute it; the calldata sent."""
    from custody.chains.evm.safe_tx import parse_payload

    tx = parse_payload(request.payload)
    calldata = EvmAdapter().assemble(sv.definition, request, signatures(sv, tx, who))
    sv.evm.execute(sv.safe, calldata)
    return calldata
