"""A station's signatures as the PSBT carries them, and the finalized transaction built from M of them.

A station's response holds one 64-byte low-S r || s per input, in input
order (custody.schemas.response); on the chain each is DER with the
SIGHASH_ALL byte after it. The witness of a ``sortedmulti`` input is the
CHECKMULTISIG dummy, then M signatures in the order of the sorted keys,
then the witness script (BIP-143, BIP-67).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from embit.script import Witness
from embit.transaction import SIGHASH, Transaction

from custody.chains.base import ChainError
from custody.chains.bitcoin.psbt import Psbt
from custody.schemas.key_record import Algorithm
from custody.schemas.signatures import SignatureError, split_chain_signature, verify_signature

SIGNATURE_LEN = 64


def split(chain_signature: bytes, count: int) -> list[bytes]:
    """The per-input signatures; ChainError unless there is exactly one per input."""
    if len(chain_signature) != SIGNATURE_LEN * count:
        raise ChainError(f"{len(chain_signature) // SIGNATURE_LEN} signature(s) for {count} input(s)")
    return split_chain_signature(chain_signature)


def check(sighashes: tuple[bytes, ...], public_key: bytes, chain_signature: bytes) -> None:
    """Each input's signature verifies, low-S, for ``public_key`` over that input's sighash."""
    pairs = zip(sighashes, split(chain_signature, len(sighashes)), strict=True)
    for n, (digest, signature) in enumerate(pairs):
        try:
            verify_signature(Algorithm.SECP256K1, public_key, digest, signature)
        except SignatureError as exc:
            raise ChainError(f"input {n}: {exc}") from None


def der(signature: bytes) -> bytes:
    """r || s as the chain carries it: DER, then the SIGHASH_ALL byte."""
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    return encode_dss_signature(r, s) + bytes([SIGHASH.ALL])


def raw(chain_der: bytes) -> bytes:
    """The r || s of a DER signature with its SIGHASH_ALL byte; ChainError for anything else."""
    if not chain_der or chain_der[-1] != SIGHASH.ALL:
        raise ChainError("a partial signature is not SIGHASH_ALL")
    try:
        r, s = decode_dss_signature(chain_der[:-1])
    except ValueError:
        raise ChainError("a partial signature is not DER") from None
    if encode_dss_signature(r, s) != chain_der[:-1] or r >= 2**256 or s >= 2**256:
        raise ChainError("a partial signature is not strict DER")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def with_signatures(psbt: Psbt, public_key: bytes, signatures: list[bytes]) -> bytes:
    """The PSBT as it came, carrying ``public_key``'s partial signature on every input."""
    maps = [dict(m) for m in psbt.input_maps]
    for fields, signature in zip(maps, signatures, strict=True):
        fields[b"\x02" + public_key] = der(signature)
    return psbt.encode(maps)


def finalize(psbt: Psbt, signatures: Mapping[bytes, list[bytes]], threshold: int, script: bytes) -> bytes:
    """The PSBT with every input finalized (BIP-174's finalizer) from the first ``threshold`` signers
    in sorted-key order; ``signatures`` maps each signing key to its per-input r || s.

    ChainError when fewer than ``threshold`` keys signed. Each input's witness is
    the CHECKMULTISIG dummy, the signatures, and the vault's witness ``script``.
    """
    signers = sorted(signatures)[:threshold]
    if len(signers) < threshold:
        raise ChainError(f"{len(signatures)} of the {threshold} signatures a spend needs")
    maps = []
    for n, fields in enumerate(psbt.input_maps):
        items = [b"", *(der(signatures[k][n]) for k in signers), script]
        kept = {k: v for k, v in fields.items() if k[0] in (0x00, 0x01)}  # the UTXOs stay (BIP-174)
        kept[b"\x08"] = Witness(items).serialize()
        maps.append(kept)
    return psbt.encode(maps)


def extract(psbt: Psbt) -> Transaction:
    """The network transaction of a finalized PSBT: its own unsigned transaction with the witnesses."""
    tx = copy.deepcopy(psbt.tx)
    for n, (vin, scope) in enumerate(zip(tx.vin, psbt.parsed.inputs, strict=True)):
        witness = scope.final_scriptwitness
        if witness is None or not witness.items:
            raise ChainError(f"input {n} is not finalized")
        vin.witness = Witness(list(witness.items))
    return tx
