"""The host's unsigned PSBT: a withdrawal from the vault's coins, change back to its one address.

Every input carries its whole previous transaction (the stations refuse an
amount it does not prove), its witness_utxo (for coordinators that want it)
and the vault's witness script; the change output names the script too, so a
watch-only wallet recognises it. Version 2, locktime 0, and every input
signals replaceability (BIP-125), so a stuck spend can be fee-bumped by a
new request.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from embit.psbt import PSBT
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from custody.chains.base import ChainError
from custody.chains.bitcoin.facts import Output, final_vsize
from custody.chains.bitcoin.psbt import read
from custody.chains.bitcoin.script import p2wsh, script_of, vault_witness_script
from custody.schemas.chain_bitcoin import BitcoinBinding
from custody.schemas.vault import VaultDefinition

RBF_SEQUENCE = 0xFFFFFFFD
#: Change smaller than this is left to the fee rather than made into an output nobody will spend.
MIN_CHANGE = 1_000


@dataclass(frozen=True, slots=True)
class Coin:
    """A vault UTXO as a node reports it, with the transaction that made it."""

    txid: bytes  # as block explorers show it
    vout: int
    amount: int
    prev_tx: bytes


def build(
    vault: VaultDefinition, coins: Sequence[Coin], destination: str, amount: int, fee_rate: int
) -> tuple[bytes, int]:
    """The PSBT paying ``amount`` sats to ``destination`` at ``fee_rate`` sat/vB, and its fee.

    Coins are taken in the order given until they cover the amount and the fee.
    """
    binding = vault.chain
    if not isinstance(binding, BitcoinBinding):
        raise ChainError("this vault is not a Bitcoin vault")
    script = vault_witness_script(vault)
    own = p2wsh(script)
    payee = Output(
        script=script_of(destination, binding.network), address=destination, amount=amount, change=False
    )
    change = Output(script=own, address=binding.address, amount=0, change=True)
    chosen: list[Coin] = []
    for coin in coins:
        chosen.append(coin)
        total = sum(c.amount for c in chosen)
        fee = math.ceil(fee_rate * final_vsize(len(chosen), (payee, change), script, vault.threshold))
        if total >= amount + fee:
            break
    else:
        held = sum(c.amount for c in coins)
        raise ChainError(f"the vault's coins hold {held} sats; {amount} plus the fee is more")
    left = total - amount - fee
    if left < MIN_CHANGE:
        fee, outputs = total - amount, [payee]
    else:
        outputs = [payee, Output(script=own, address=binding.address, amount=left, change=True)]
    tx = Transaction(
        version=2,
        vin=[TransactionInput(c.txid, c.vout, sequence=RBF_SEQUENCE) for c in chosen],
        vout=[TransactionOutput(o.amount, Script(o.script)) for o in outputs],
        locktime=0,
    )
    psbt = PSBT(tx)
    for scope, coin in zip(psbt.inputs, chosen, strict=True):
        prev = Transaction.parse(coin.prev_tx)
        if prev.txid() != coin.txid or coin.vout >= len(prev.vout):
            raise ChainError(f"the transaction given for {coin.txid.hex()}:{coin.vout} is another")
        scope.non_witness_utxo = prev
        scope.witness_utxo = prev.vout[coin.vout]
        scope.witness_script = Script(script)
    for scope, out in zip(psbt.outputs, outputs, strict=True):
        if out.change:
            scope.witness_script = Script(script)
    data = bytes(psbt.serialize())
    if read(data).tx.serialize() != tx.serialize():  # embit writes the transaction it rebuilds
        raise ChainError("the PSBT written is not the transaction built")
    return data, fee
