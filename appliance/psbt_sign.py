"""``ur:crypto-psbt`` / ``ur:psbt`` at the station: a coordinator's PSBT (Sparrow, Specter, our host)
signed under the vault's own policy and answered as the same PSBT with this station's partial signatures.

The vault is the installed Bitcoin vault whose script locks the PSBT's first
input; the facts are parsed from the PSBT exactly as from the station's own
envelope, so every input, output, the fee and the fee rate are checked the
same way. The one payment that is not change becomes the withdrawal the
policy checks; a PSBT paying several is refused here with the reason.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from airgap.ur.ur import UR
from appliance.review import stamp
from appliance.wallet_requests import Translated, Untranslatable, installed_policies, withdrawal_request
from custody.chains.base import ChainError
from custody.chains.bitcoin.facts import facts_of
from custody.chains.bitcoin.psbt import Psbt, read
from custody.chains.bitcoin.script import vault_script_pubkey
from custody.chains.bitcoin.signatures import split, with_signatures
from custody.chains.bitcoin.ur import decode_psbt_ur, encode_psbt_ur
from custody.policy.codes import Code
from custody.schemas.chain_bitcoin import BitcoinBinding
from custody.schemas.request import Withdraw
from custody.schemas.vault import StationPolicy


def _policy_for(state_dir: Path, locking: bytes) -> StationPolicy:
    for policy in installed_policies(state_dir):
        vault = policy.vault
        if isinstance(vault.chain, BitcoinBinding) and vault_script_pubkey(vault) == locking:
            return policy
    raise Untranslatable(Code.WRONG_VAULT, "no Bitcoin vault of this station locks the PSBT's first input")


def _first_locking_script(psbt: Psbt) -> bytes:
    scope, vin = psbt.parsed.inputs[0], psbt.tx.vin[0]
    if scope.non_witness_utxo is not None and vin.vout < len(scope.non_witness_utxo.vout):
        return bytes(scope.non_witness_utxo.vout[vin.vout].script_pubkey.data)
    if scope.witness_utxo is not None:
        return bytes(scope.witness_utxo.script_pubkey.data)
    raise Untranslatable(Code.INPUT_UNPROVEN, "the PSBT's first input names no previous output")


def translate(state_dir: Path, ur_type: str, data: bytes, now: int) -> Translated:
    """The station's request for a PSBT UR; Untranslatable with the reason otherwise."""
    try:
        psbt = decode_psbt_ur(data)
        read_once = read(psbt)
    except ChainError as exc:
        raise Untranslatable(None, str(exc)[:300]) from None
    policy = _policy_for(state_dir, _first_locking_script(read_once))
    vault = policy.vault
    try:
        facts = facts_of(vault, read_once)
    except ChainError as exc:
        raise Untranslatable(Code.PAYLOAD_INVALID, str(exc)[:300]) from None
    payments = facts.payments()
    if len(payments) != 1:
        detail = f"the PSBT pays {len(payments)} outputs other than change; this path signs one withdrawal"
        raise Untranslatable(Code.PAYLOAD_MISMATCH, detail, facts.review_rows(vault, stamp))
    action = Withdraw(asset=vault.asset.code, amount=payments[0].amount, destination=payments[0].address)
    request = withdrawal_request(
        policy,
        request_id=hashlib.sha256(psbt).digest()[:16],
        action=action,
        payload=psbt,
        now=now,
        fee=max(facts.fee, 0),
    )

    def answer(public_key: bytes, chain_signature: bytes) -> UR:
        """The PSBT as it came, with this station's partial signature on every input."""
        signed = with_signatures(facts.psbt, public_key, split(chain_signature, len(facts.inputs)))
        return UR(ur_type, encode_psbt_ur(signed))

    return Translated(request=request, policy=policy, answer=answer)
