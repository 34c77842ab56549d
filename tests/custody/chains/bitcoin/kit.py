"""Bitcoin vaults with software secp256k1 keys, and coins made offline (seeded) or on a regtest node.

The keys sign as a station does: raw ECDSA over each input's BIP-143
sighash, low-S (tests/appliance does the same on SoftHSM).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from embit import bech32
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from custody.chains.bitcoin.build import Coin, build
from custody.chains.bitcoin.facts import parse
from custody.chains.bitcoin.script import vault_address, vault_script_pubkey
from custody.schemas.chain_bitcoin import BitcoinBinding
from custody.schemas.key_record import Algorithm
from custody.schemas.request import Action, SpendRequest, Withdraw
from custody.schemas.signatures import canonical_signature
from custody.schemas.vault import Asset, Rules, VaultDefinition, VaultKey
from tests.custody.chains.chia.kit import ChainKey

T0 = 1_790_000_000
BTC = 100_000_000


def p2wpkh_address(seed: str) -> str:
    return str(bech32.encode("bcrt", 0, hashlib.sha256(seed.encode()).digest()[:20]))


DEST = p2wpkh_address("treasury")
OTHER = p2wpkh_address("attacker")


def keys(n: int, first: int = 1) -> list[ChainKey]:
    return [ChainKey(300 + i, f"station-{i}", Algorithm.SECP256K1) for i in range(first, first + n)]


def rules(**changes: Any) -> Rules:
    base = Rules(
        destinations=(DEST,),
        min_per_spend=10_000,
        max_per_spend=5 * BTC,
        window_max=8 * BTC,
        window_count=10,
        max_fee=200_000,
        window_seconds=86400,
        cooldown_seconds=0,
        announce_delay_seconds=0,
        announce_expiry_seconds=0,
        rekey_delay_seconds=0,
        max_request_lifetime_seconds=3600,
    )
    return replace(base, **changes)


def vault_for(
    vault_keys: tuple[VaultKey, ...], m: int, *, max_fee_rate: int = 50, **rule_changes: Any
) -> VaultDefinition:
    address = vault_address([k.public_key for k in vault_keys], m, "regtest")
    return VaultDefinition(
        vault_id="btc",
        generation=1,
        asset=Asset(code="BTC", decimals=8),
        threshold=m,
        keys=vault_keys,
        rules=rules(**rule_changes),
        chain=BitcoinBinding(network="regtest", address=address, max_fee_rate=max_fee_rate),
    )


def script_pubkey(vault: VaultDefinition) -> bytes:
    return vault_script_pubkey(vault)


def offline_coin(vault: VaultDefinition, amount: int, seed: int) -> Coin:
    """A coin of ``amount`` sats at the vault, in a made-up (never mined) transaction."""
    funding = Transaction(
        version=2,
        vin=[TransactionInput(hashlib.sha256(b"coin %d" % seed).digest(), 0)],
        vout=[
            TransactionOutput(7_000 + seed, Script(bytes.fromhex("0014") + bytes(20))),
            TransactionOutput(amount, Script(script_pubkey(vault))),
        ],
    )
    return Coin(txid=funding.txid(), vout=1, amount=amount, prev_tx=funding.serialize())


def request_for(
    vault: VaultDefinition, psbt: bytes, action: Action, *, fee: int, seed: str, now: int = T0
) -> SpendRequest:
    return SpendRequest(
        request_id=hashlib.sha256(seed.encode()).digest()[:16],
        vault_id=vault.vault_id,
        policy_digest=vault.digest(),
        created_at=now - 60,
        expires_at=now + 540,
        action=action,
        fee=fee,
        payload=psbt,
    )


def withdrawal(
    vault: VaultDefinition,
    coins: list[Coin],
    amount: int,
    *,
    dest: str = DEST,
    fee_rate: int = 10,
    seed: str = "w",
) -> SpendRequest:
    psbt, fee = build(vault, coins, dest, amount, fee_rate)
    return request_for(
        vault, psbt, Withdraw(asset="BTC", amount=amount, destination=dest), fee=fee, seed=seed
    )


def chain_signatures(
    vault: VaultDefinition, ks: list[ChainKey], request: SpendRequest, who: tuple[int, ...]
) -> dict[bytes, bytes]:
    facts = parse(vault, request.payload)
    return {ks[i].vault_key.key_id: b"".join(ks[i].sign(m) for m in facts.messages) for i in who}


Field = tuple[bytes, bytes]
PsbtMap = list[Field]


def compact_size(n: int) -> bytes:
    """BIP-174's (Bitcoin's) CompactSize, minimal."""
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFF_FFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def _read_compact(data: bytes, at: int) -> tuple[int, int]:
    first = data[at]
    if first < 0xFD:
        return first, at + 1
    size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
    return int.from_bytes(data[at + 1 : at + 1 + size], "little"), at + 1 + size


def split_psbt(data: bytes) -> list[PsbtMap]:
    """A well-formed PSBT's maps in order (global, then one per input, then one per output), each as
    its key-value pairs: the raw layout of BIP-174, so a test can write what no library would."""
    assert data.startswith(b"psbt\xff")
    maps: list[PsbtMap] = []
    at = 5
    while at < len(data):
        fields: PsbtMap = []
        while True:
            n, at = _read_compact(data, at)
            if n == 0:
                break
            key, at = data[at : at + n], at + n
            n, at = _read_compact(data, at)
            value, at = data[at : at + n], at + n
            fields.append((key, value))
        maps.append(fields)
    return maps


def join_psbt(maps: list[PsbtMap]) -> bytes:
    """The PSBT of ``maps`` (the inverse of ``split_psbt``), keys and values length-prefixed as given."""
    out = b"psbt\xff"
    for fields in maps:
        for key, value in fields:
            out += compact_size(len(key)) + key + compact_size(len(value)) + value
        out += b"\x00"
    return out


def sign_rfc6979(key: ChainKey, digest: bytes) -> bytes:
    """``key``'s low-S r || s over ``digest`` with RFC 6979's deterministic nonce (``ChainKey.sign``
    draws a random one): the same signature on every run."""
    der = key.private.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return canonical_signature(key.algorithm, r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def deterministic_signatures(
    vault: VaultDefinition, ks: list[ChainKey], request: SpendRequest, who: tuple[int, ...]
) -> dict[bytes, bytes]:
    """As ``chain_signatures``, signed with RFC 6979 nonces."""
    facts = parse(vault, request.payload)
    return {ks[i].vault_key.key_id: b"".join(sign_rfc6979(ks[i], m) for m in facts.messages) for i in who}
