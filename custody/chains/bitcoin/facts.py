"""What a station learns from a PSBT spending its Bitcoin vault, and the rules it holds the PSBT to.

Every input's amount is taken from the whole previous transaction
(``non_witness_utxo``), whose hash must be the input's txid: a ``witness_utxo``
alone can lie about the amount and trick a signer into a huge fee (the segwit
fee attack, 2020). Every input must be locked by the vault's own witness
script and ask for SIGHASH_ALL. Every output is the withdrawal's destination
or change back to the vault's one address; nothing else is signed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from embit.script import Script
from embit.transaction import SIGHASH

from custody.chains.base import ChainError
from custody.chains.bitcoin.psbt import LOCKTIME_THRESHOLD, MAX_VALUE, Psbt, read
from custody.chains.bitcoin.script import address, p2wsh, vault_witness_script
from custody.policy.engine import Check, Code
from custody.policy.history import VaultView
from custody.schemas.chain_bitcoin import BitcoinBinding
from custody.schemas.request import Execute, SpendRequest, Withdraw
from custody.schemas.vault import VaultDefinition

#: The largest low-S DER signature with its sighash byte: the final size is estimated with these.
MAX_SIGNATURE_BYTES = 72


@dataclass(frozen=True, slots=True)
class Input:
    txid: bytes  # as block explorers show it
    vout: int
    amount: int  # from the previous transaction itself; 0 when it cannot be proven (refused)
    sequence: int


@dataclass(frozen=True, slots=True)
class Output:
    script: bytes
    address: str
    amount: int
    change: bool  # paid to the vault's own script: its exact scriptPubKey, nothing less


@dataclass(frozen=True, slots=True, kw_only=True)
class BitcoinFacts:
    binding: BitcoinBinding
    psbt: Psbt
    version: int
    locktime: int
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    sighashes: tuple[bytes, ...]  # BIP-143, one per input, SIGHASH_ALL
    foreign: tuple[str, ...]  # inputs not locked by the vault's witness script
    unproven: tuple[str, ...]  # inputs whose amount the previous transaction does not prove
    sighash_problems: tuple[str, ...]
    fake_change: tuple[str, ...]  # outputs that claim the vault's script but pay another
    vsize: int  # the final transaction's, with the largest signatures

    @property
    def message(self) -> bytes:
        return self.sighashes[0]

    @property
    def messages(self) -> tuple[bytes, ...]:
        return self.sighashes

    @property
    def spent(self) -> int:
        return sum(i.amount for i in self.inputs)

    @property
    def fee(self) -> int:
        return self.spent - sum(o.amount for o in self.outputs)

    @property
    def fee_rate(self) -> float:
        return self.fee / self.vsize

    def payments(self) -> list[Output]:
        return [o for o in self.outputs if not o.change]

    def review_rows(self, vault: VaultDefinition, stamp: Callable[[int], str]) -> list[tuple[str, str]]:
        fmt = vault.asset.format
        rows = [
            ("chain", self.binding.name),
            ("vault address", self.binding.address),
            ("spends", f"{fmt(self.spent)} ({self.spent} sats) from {len(self.inputs)} input(s)"),
        ]
        rows += [
            ("input", f"{i.txid.hex()}:{i.vout}  {fmt(i.amount)} ({i.amount} sats)") for i in self.inputs
        ]
        for o in self.outputs:
            what = "change" if o.change else "pays"
            to = "back to the vault" if o.change else f"to {o.address}"
            rows.append((what, f"{fmt(o.amount)} ({o.amount} sats) {to}"))
        rows += [
            (
                "fee",
                f"{fmt(self.fee)} ({self.fee} sats), {self.fee_rate:.1f} sat/vB over at most {self.vsize} vB",
            ),
            ("locktime", "none" if not self.locktime else f"block height {self.locktime}"),
        ]
        refused = self.foreign + self.unproven + self.sighash_problems + self.fake_change
        rows += [("REFUSED", p) for p in refused]
        rows.append(("signs", f"{len(self.sighashes)} BIP-143 sighash(es), SIGHASH_ALL, one per input"))
        return rows

    def checks(
        self, vault: VaultDefinition, view: VaultView, request: SpendRequest, now: int
    ) -> tuple[Check, ...]:
        cap = self.binding.max_fee_rate
        strays = [o for o in self.payments() if o.address not in vault.rules.destinations]
        return (
            _form(self),
            Check(
                "inputs",
                not self.foreign,
                "; ".join(self.foreign) or f"all {len(self.inputs)} locked by the vault's witness script",
                Code.FOREIGN_INPUT,
            ),
            Check(
                "input amounts",
                not self.unproven,
                "; ".join(self.unproven) or "each proven by its whole previous transaction",
                Code.INPUT_UNPROVEN,
            ),
            Check(
                "sighash",
                not self.sighash_problems,
                "; ".join(self.sighash_problems) or "SIGHASH_ALL on every input",
                Code.SIGHASH,
            ),
            Check(
                "outputs",
                not strays and not self.fake_change,
                "; ".join(
                    [f"{o.address} is neither an allowed destination nor the vault" for o in strays]
                    + list(self.fake_change)
                )
                or "each an allowed destination or change to the vault",
                Code.DESTINATION,
            ),
            Check(
                "chain fee",
                request.fee == self.fee,
                f"the transaction pays {self.fee} sats; the request says {request.fee}",
                Code.PAYLOAD_MISMATCH,
            ),
            Check(
                "fee rate",
                self.fee_rate <= cap,
                f"{self.fee_rate:.1f} sat/vB (max {cap})",
                Code.FEE,
            ),
            _matches(self, vault, request),
        )


def _form(facts: BitcoinFacts) -> Check:
    problems = []
    if facts.version not in (1, 2):
        problems.append(f"transaction version {facts.version} is not 1 or 2")
    if facts.locktime >= LOCKTIME_THRESHOLD:
        problems.append(f"locktime {facts.locktime} is a time, not a block height: it can hold the spend")
    if any(o.amount > MAX_VALUE for o in facts.outputs) or (facts.fee < 0 and not facts.unproven):
        problems.append("the outputs pay more than the inputs hold")
    return Check(
        "transaction",
        not problems,
        "; ".join(problems) or f"version {facts.version}, locktime {facts.locktime}",
        Code.PAYLOAD_INVALID,
    )


def _matches(facts: BitcoinFacts, vault: VaultDefinition, request: SpendRequest) -> Check:
    action, problem = request.action, ""
    payments = facts.payments()
    if isinstance(action, Withdraw | Execute):
        if len(payments) != 1:
            problem = f"the transaction pays {len(payments)} outputs other than change; a withdrawal pays one"
        else:
            p = payments[0]
            if (vault.asset.code, p.amount, p.address) != (action.asset, action.amount, action.destination):
                problem = f"the transaction pays {p.amount} sats to {p.address}"
    else:
        problem = (
            f"a {action.kind.value} on a Bitcoin vault is not a transaction: a new key set is a new vault "
            "address, which this vault pays by a withdrawal"
        )
    return Check(
        "spend matches",
        not problem,
        problem or f"the transaction does what this {action.kind.value} says",
        Code.PAYLOAD_MISMATCH,
    )


def final_vsize(n_inputs: int, outputs: tuple[Output, ...], script: bytes, threshold: int) -> int:
    """The final transaction's virtual size with ``threshold`` signatures of the largest size."""

    def varint(n: int) -> int:
        return 1 if n < 0xFD else 3 if n <= 0xFFFF else 5

    base = 4 + varint(n_inputs) + 41 * n_inputs + varint(len(outputs)) + 4
    base += sum(8 + varint(len(o.script)) + len(o.script) for o in outputs)
    items = 1 + 1 + threshold * (1 + MAX_SIGNATURE_BYTES) + varint(len(script)) + len(script)
    witness = 2 + n_inputs * (varint(threshold + 2) + items - 1)
    return math.ceil((4 * base + witness) / 4)


def parse(vault: VaultDefinition, data: bytes) -> BitcoinFacts:
    """The facts of ``data`` as a spend of ``vault``; ChainError if it is not a PSBT this station reads."""
    return facts_of(vault, read(data))


def facts_of(vault: VaultDefinition, psbt: Psbt) -> BitcoinFacts:
    """The facts of a PSBT already read strictly (``psbt.read``) as a spend of ``vault``."""
    binding = vault.chain
    if not isinstance(binding, BitcoinBinding):
        raise ChainError("this vault is not a Bitcoin vault")
    tx = psbt.tx
    script = vault_witness_script(vault)
    own = p2wsh(script)
    inputs, sighashes = [], []
    foreign, unproven, sighash_problems, fake = [], [], [], []
    for n, (vin, scope) in enumerate(zip(tx.vin, psbt.parsed.inputs, strict=True)):
        where = f"input {n} ({vin.txid.hex()}:{vin.vout})"
        prev, amount, spk = scope.non_witness_utxo, 0, b""
        if prev is None:
            unproven.append(f"{where} has no previous transaction (non_witness_utxo)")
        elif prev.txid() != vin.txid or vin.vout >= len(prev.vout):
            unproven.append(f"{where}: the previous transaction given is not the one it spends")
        else:
            amount, spk = prev.vout[vin.vout].value, prev.vout[vin.vout].script_pubkey.data
        witness_utxo = scope.witness_utxo
        claimed = None if witness_utxo is None else (witness_utxo.value, witness_utxo.script_pubkey.data)
        if claimed is not None and prev is not None and claimed != (amount, spk):
            unproven.append(f"{where}: its witness_utxo disagrees with the previous transaction")
        if spk and spk != own:
            foreign.append(f"{where} is locked by {address(spk, binding.network)}, not the vault")
        if scope.witness_script is not None and scope.witness_script.data != script:
            foreign.append(f"{where} names another witness script")
        if scope.sighash_type not in (None, SIGHASH.ALL):
            sighash_problems.append(f"{where} asks for sighash type {scope.sighash_type:#x}, not ALL")
        inputs.append(Input(txid=vin.txid, vout=vin.vout, amount=amount, sequence=vin.sequence))
        sighashes.append(tx.sighash_segwit(n, Script(script), amount, SIGHASH.ALL))
    outputs = []
    for n, (vout, scope) in enumerate(zip(tx.vout, psbt.parsed.outputs, strict=True)):
        spk = bytes(vout.script_pubkey.data)
        out = Output(script=spk, address=address(spk, binding.network), amount=vout.value, change=spk == own)
        if scope.witness_script is not None and not out.change:
            fake.append(f"output {n} claims a witness script but pays {out.address}: fake change")
        outputs.append(out)
    return BitcoinFacts(
        binding=binding,
        psbt=psbt,
        version=tx.version,
        locktime=tx.locktime,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        sighashes=tuple(sighashes),
        foreign=tuple(foreign),
        unproven=tuple(unproven),
        sighash_problems=tuple(sighash_problems),
        fake_change=tuple(fake),
        vsize=final_vsize(len(inputs), tuple(outputs), script, vault.threshold),
    )
