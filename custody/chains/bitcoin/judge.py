"""The offline judge of a finalized vault spend: python-bitcointx's script interpreter on every input.

It is another implementation than the one that built the witness (embit
here, or any coordinator), run with Bitcoin Core's standard verification
flags (witness, low-S, NULLDUMMY, NULLFAIL, strict DER), against the vault's
own scriptPubKey and each input's amount as the request's PSBT proves it. A
node is the final judge (tests/host/bitcoin); this one needs no network.
"""

from __future__ import annotations

from bitcointx.core import CTransaction, ValidationError
from bitcointx.core.script import CScript, CScriptWitness
from bitcointx.core.scripteval import VerifyScript

from custody.chains.base import ChainError
from custody.chains.bitcoin.facts import BitcoinFacts
from custody.chains.bitcoin.psbt import read_final
from custody.chains.bitcoin.script import vault_script_pubkey
from custody.chains.bitcoin.signatures import extract
from custody.schemas.vault import VaultDefinition


def judge(vault: VaultDefinition, facts: BitcoinFacts, final: bytes) -> list[str]:
    """Every reason the transaction in the finalized PSBT ``final`` would not be accepted."""
    try:
        tx = extract(read_final(final))
    except ChainError as exc:
        return [f"the final PSBT: {exc}"]
    if tx.txid() != facts.psbt.tx.txid():
        return ["the final transaction is not the one the stations signed (another txid)"]
    spk = CScript(vault_script_pubkey(vault))
    try:
        btx = CTransaction.deserialize(tx.serialize())
    except (ValueError, IndexError) as exc:
        return [f"the final transaction does not parse: {exc}"]
    if len(btx.wit.vtxinwit) != len(facts.inputs):
        return ["the final transaction does not carry a witness for every input"]
    problems = []
    for n, spent in enumerate(facts.inputs):
        witness = CScriptWitness(list(btx.wit.vtxinwit[n].scriptWitness.stack))
        try:
            VerifyScript(CScript(), spk, btx, n, amount=spent.amount, witness=witness)
        except ValidationError as exc:
            problems.append(f"input {n}: {exc}")
    return problems
