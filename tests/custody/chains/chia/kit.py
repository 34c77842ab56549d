"""Chia vaults on the SDK's Simulator with software keys, for the adapter's tests.

The HSM is not what these test (tests/appliance does that on SoftHSM): the
keys here sign exactly as the station's adapter does, raw ECDSA over the
32-byte message, low-S.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from chia_wallet_sdk import Clvm, Coin, Simulator
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from custody.chains.chia.build import VAULT_AMOUNT, VaultCoin
from custody.chains.chia.custody import address, p2_puzzle_hash, vault_puzzle_hash
from custody.chains.chia.recovery import Custody
from custody.schemas.chain import CHIA_NETWORKS, ChiaBinding
from custody.schemas.key_record import Algorithm
from custody.schemas.request import SpendRequest
from custody.schemas.response import SignatureResponse
from custody.schemas.signatures import canonical_signature
from custody.schemas.vault import Asset, Rules, VaultDefinition, VaultKey

T0 = 1_790_000_000
XCH = 10**12
NET = CHIA_NETWORKS["simulator"]
DEST = address(hashlib.sha256(b"treasury").digest(), NET)
OTHER = address(hashlib.sha256(b"attacker").digest(), NET)
_CURVES = {Algorithm.P256: ec.SECP256R1(), Algorithm.SECP256K1: ec.SECP256K1()}


class ChainKey:
    """A station key in memory: P-256 (an r1 member) or secp256k1 (a k1 member)."""

    def __init__(self, seed: int, station: str, algorithm: Algorithm = Algorithm.P256) -> None:
        scalar = int.from_bytes(hashlib.sha256(b"chain key %d" % seed).digest(), "big") % (2**250) + 1
        self.algorithm = algorithm
        self.private = ec.derive_private_key(scalar, _CURVES[algorithm])
        self.public = self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
        self.station = station

    @property
    def vault_key(self) -> VaultKey:
        return VaultKey(station=self.station, algorithm=self.algorithm, public_key=self.public)

    def sign(self, digest: bytes) -> bytes:
        r, s = decode_dss_signature(self.private.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))))
        return canonical_signature(self.algorithm, r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def respond(
        self, request: SpendRequest, chain_message: bytes, *, approved_at: int, audit_seq: int = 7
    ) -> SignatureResponse:
        """The station's answer: the chain signature, and the statement over it and the log head."""
        unsigned = SignatureResponse(
            request_id=request.request_id,
            request_digest=request.digest(),
            vault_id=request.vault_id,
            station=self.station,
            key_id=self.vault_key.key_id,
            algorithm=self.algorithm,
            audit_seq=audit_seq,
            log_head=hashlib.sha256(b"head %d" % audit_seq).digest(),
            approved_at=approved_at,
            chain_signature=self.sign(chain_message),
        )
        return replace(unsigned, signature=self.sign(unsigned.statement_digest()))


def keys(n: int, algorithm: Algorithm = Algorithm.P256) -> list[ChainKey]:
    return [ChainKey(i, f"station-{i}", algorithm) for i in range(1, n + 1)]


def rules(**changes: Any) -> Rules:
    base = Rules(
        destinations=(DEST,),
        min_per_spend=XCH,
        max_per_spend=50 * XCH,
        window_max=100 * XCH,
        window_count=10,
        max_fee=XCH // 1000,
        window_seconds=86400,
        cooldown_seconds=3600,
        announce_delay_seconds=0,
        announce_expiry_seconds=0,
        rekey_delay_seconds=86400,
        max_request_lifetime_seconds=3600,
    )
    return replace(base, **changes)


@dataclass
class ChainVault:
    """A minted, funded vault on a Simulator, and its definition."""

    sim: Simulator
    definition: VaultDefinition
    current: VaultCoin
    signers: list[ChainKey]
    funder: Any = field(default=None)

    @property
    def launcher_id(self) -> bytes:
        assert isinstance(self.definition.chain, ChiaBinding)
        return self.definition.chain.launcher_id

    @property
    def receive(self) -> bytes:
        return p2_puzzle_hash(self.launcher_id)

    def coins(self) -> list[Coin]:
        return sorted(self.sim.unspent_coins(self.receive, False), key=lambda c: (c.amount, c.coin_id()))

    def balance(self, puzzle_hash: bytes | None = None) -> int:
        return sum(c.amount for c in self.sim.unspent_coins(puzzle_hash or self.receive, False))

    def advance(self, next_custody: bytes | None = None) -> None:
        """The vault coin after a spend that recreated it (under ``next_custody``)."""
        old = self.current
        custody = next_custody or old.custody
        coin = Coin(old.coin.coin_id(), vault_puzzle_hash(self.launcher_id, custody), VAULT_AMOUNT)
        self.current = VaultCoin(coin, (old.coin.parent_coin_info, old.custody, VAULT_AMOUNT), custody)


def mint(
    signers: list[ChainKey],
    threshold: int,
    fund: tuple[int, ...] = (60 * XCH, 40 * XCH),
    *,
    vault_id: str = "cold",
    now: int = T0,
    **rule_changes: Any,
) -> ChainVault:
    return mint_keys(
        tuple(k.vault_key for k in signers),
        threshold,
        fund,
        vault_id=vault_id,
        now=now,
        signers=signers,
        **rule_changes,
    )


def mint_keys(
    vault_keys: tuple[VaultKey, ...],
    threshold: int,
    fund: tuple[int, ...] = (60 * XCH, 40 * XCH),
    *,
    vault_id: str = "cold",
    now: int = T0,
    signers: list[ChainKey] | None = None,
    recovery_signers: int = 0,
    recovery_penalty_seconds: int = 0,
    **rule_changes: Any,
) -> ChainVault:
    """A vault over any station keys (software or SoftHSM), minted and funded on a new Simulator;
    ``recovery_signers`` gives it recovery paths (a slow rekey by that many or more)."""
    sim = Simulator.with_seed(11)
    sim.set_next_timestamp(now)
    clvm = Clvm()
    unminted = ChiaBinding(
        network="simulator",
        launcher_id=bytes(32),
        recovery_signers=recovery_signers,
        recovery_penalty_seconds=recovery_penalty_seconds,
    )
    vault_rules = rules(**rule_changes)
    custody = Custody.of(vault_keys, threshold, unminted, vault_rules.rekey_delay_seconds).hash
    funder = sim.bls(sum(fund) + VAULT_AMOUNT)
    minted = clvm.mint_vault(funder.coin.coin_id(), custody, clvm.nil())
    launcher = minted.vault.info.launcher_id
    receive = p2_puzzle_hash(launcher)
    outputs = [clvm.create_coin(receive, amount, clvm.alloc([launcher])) for amount in fund]
    clvm.spend_standard_coin(
        funder.coin, funder.pk, clvm.delegated_spend([*minted.parent_conditions, *outputs])
    )
    sim.spend_coins(clvm.coin_spends(), [funder.sk])
    proof = minted.vault.proof
    current = VaultCoin(
        minted.vault.coin,
        (proof.parent_parent_coin_info, proof.parent_inner_puzzle_hash or b"", proof.parent_amount),
        custody,
    )
    definition = VaultDefinition(
        vault_id=vault_id,
        generation=1,
        asset=Asset(code=NET.asset_code, decimals=12),
        threshold=threshold,
        keys=vault_keys,
        rules=vault_rules,
        chain=replace(unminted, launcher_id=launcher),
    )
    return ChainVault(sim, definition, current, signers or [], funder)


def leaky_payload(cv: ChainVault, amount: int, dest: bytes) -> bytes:
    """A payment whose change is short by 1 XCH and reserves no fee: an implicit fee nobody named."""
    from custody.chains.chia.build import _fund_spend, _payload

    clvm = Clvm()
    coin = cv.coins()[-1]
    delegated = clvm.delegated_spend(
        [
            clvm.create_coin(dest, amount, clvm.alloc([dest])),
            clvm.create_coin(cv.receive, coin.amount - amount - XCH, clvm.alloc([cv.launcher_id])),
        ]
    )
    spend = _fund_spend(clvm, cv.launcher_id, cv.current, coin, delegated)
    return _payload(clvm, cv.current, cv.current.custody, [(coin, delegated)], [spend]).to_bytes()


def fake_change_payload(cv: ChainVault, amount: int, fee: int, dest: bytes) -> bytes:
    """A payment whose "change", hinted with the vault's launcher id, goes to an address not the vault's."""
    from custody.chains.chia.build import _fund_spend, _payload

    clvm = Clvm()
    coin = cv.coins()[-1]
    lookalike = hashlib.sha256(b"not the vault").digest()
    delegated = clvm.delegated_spend(
        [
            clvm.create_coin(dest, amount, clvm.alloc([dest])),
            clvm.create_coin(lookalike, coin.amount - amount - fee, clvm.alloc([cv.launcher_id])),
            clvm.reserve_fee(fee),
        ]
    )
    spend = _fund_spend(clvm, cv.launcher_id, cv.current, coin, delegated)
    return _payload(clvm, cv.current, cv.current.custody, [(coin, delegated)], [spend]).to_bytes()
