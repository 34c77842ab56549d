"""The vault's script, address and descriptor: ``wsh(sortedmulti(M, K1..KN))`` over fixed HSM keys.

BIP-67 sorts the keys, so every party derives the same witness script from
the same key set whatever order it lists them in. Addresses go through
embit and are accepted only in their canonical form for the vault's network.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from embit.descriptor.checksum import checksum
from embit.networks import NETWORKS
from embit.script import Script, address_to_scriptpubkey

from custody.chains.base import ChainError
from custody.schemas.chain_bitcoin import BitcoinBinding

if TYPE_CHECKING:
    from custody.schemas.vault import VaultDefinition

#: OP_CHECKMULTISIG counts keys with OP_1..OP_16 here: more keys than that are not a standard vault.
MAX_KEYS = 16
OP_CHECKMULTISIG = 0xAE

#: The vault's networks as embit names them (for base58 versions and bech32 prefixes).
EMBIT_NETWORK = {"mainnet": "main", "testnet": "test", "signet": "signet", "regtest": "regtest"}


def _small_int(n: int) -> int:
    return 0x50 + n  # OP_1 .. OP_16


def witness_script(public_keys: list[bytes], threshold: int) -> bytes:
    """OP_M <keys, sorted> OP_N OP_CHECKMULTISIG: the script every vault input must commit to."""
    keys = sorted(public_keys)
    if not 1 <= threshold <= len(keys) <= MAX_KEYS:
        raise ChainError(f"a sortedmulti vault needs 1 <= M <= N <= {MAX_KEYS}")
    if any(len(k) != 33 or k[0] not in (2, 3) for k in keys) or len(set(keys)) != len(keys):
        raise ChainError("a sortedmulti vault's keys are distinct compressed secp256k1 public keys")
    body = b"".join(bytes([33]) + k for k in keys)
    return bytes([_small_int(threshold)]) + body + bytes([_small_int(len(keys)), OP_CHECKMULTISIG])


def p2wsh(script: bytes) -> bytes:
    """The scriptPubKey locking coins to ``script``: OP_0 <sha256(script)>."""
    return b"\x00\x20" + hashlib.sha256(script).digest()


def vault_witness_script(vault: VaultDefinition) -> bytes:
    return witness_script([k.public_key for k in vault.keys], vault.threshold)


def vault_script_pubkey(vault: VaultDefinition) -> bytes:
    return p2wsh(vault_witness_script(vault))


def address(script_pubkey: bytes, network: str) -> str:
    try:
        return str(Script(script_pubkey).address(NETWORKS[EMBIT_NETWORK[network]]))
    except (ValueError, KeyError):
        return f"script {script_pubkey.hex()}"  # no address form: shown, and never an allowed one


def vault_address(public_keys: list[bytes], threshold: int, network: str) -> str:
    return address(p2wsh(witness_script(public_keys, threshold)), network)


def script_of(text: str, network: str) -> bytes:
    """The scriptPubKey ``text`` pays; ChainError unless it is canonical for ``network``.

    Canonical: re-encoding the script gives the same text, so another
    network's address, a mixed-case bech32 or a bech32/bech32m mix-up is refused.
    """
    try:
        script = address_to_scriptpubkey(text).data
    except Exception:  # embit raises several types for malformed text; all mean "not an address"
        raise ChainError(f"{text!r} is not a Bitcoin address") from None
    if address(script, network) != text:
        raise ChainError(f"{text!r} is not a canonical {network} address")
    return bytes(script)


def descriptor(public_keys: list[bytes], threshold: int) -> str:
    """The BIP-380 descriptor with its checksum, for a watch-only wallet (Sparrow, Specter)."""
    keys = ",".join(k.hex() for k in public_keys)
    text = f"wsh(sortedmulti({threshold},{keys}))"
    return f"{text}#{checksum(text)}"


def check_binding(binding: BitcoinBinding, public_keys: list[bytes], threshold: int) -> None:
    derived = vault_address(public_keys, threshold, binding.network)
    if derived != binding.address:
        raise ChainError(f"the vault's keys and threshold make {derived}, not {binding.address}")
