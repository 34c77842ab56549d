"""What the node itself refuses: the regtest node's consensus verdict (``generateblock``) on vault spends
that the station would never release or the host would never finalize, built by hand here.

Each case also runs through the host's offline judge (python-bitcointx's
interpreter), which must agree with the node.
"""

from __future__ import annotations

from typing import Any

import pytest
from embit.script import Script, Witness
from embit.transaction import SIGHASH

from custody.chains.bitcoin.adapter import BitcoinAdapter
from custody.chains.bitcoin.build import Coin
from custody.chains.bitcoin.facts import parse
from custody.chains.bitcoin.psbt import read_final
from custody.chains.bitcoin.script import witness_script
from custody.chains.bitcoin.signatures import der, extract
from host.chain.bitcoin_rpc import RpcError, utxos_of
from tests.custody.chains.bitcoin.kit import (
    BTC,
    T0,
    chain_signatures,
    keys,
    script_pubkey,
    vault_for,
    withdrawal,
)

KEYS = keys(3, first=20)
VAULT = vault_for(tuple(k.vault_key for k in KEYS), 2)


@pytest.fixture
def spend(regtest: Any) -> tuple[Any, bytes, Any]:
    """A fresh coin of the vault, its withdrawal request and the valid final PSBT for it."""
    regtest.fund(script_pubkey(VAULT), BTC)
    coin = [Coin(u.txid, u.vout, u.amount, u.prev_tx) for u in utxos_of(regtest.rpc, script_pubkey(VAULT))][
        -1
    ]
    request = withdrawal(VAULT, [coin], BTC // 2, seed=coin.txid.hex())
    final = BitcoinAdapter().assemble(VAULT, request, chain_signatures(VAULT, KEYS, request, (0, 1)))
    return request, final, regtest


def _final_with(final: bytes, items: list[bytes]) -> bytes:
    """``final`` with input 0's witness replaced by ``items``."""
    psbt = read_final(final)
    maps = [dict(m) for m in psbt.input_maps]
    maps[0][b"\x08"] = Witness(items).serialize()
    return psbt.encode(maps)


def _witnessed(final: bytes, items: list[bytes]) -> bytes:
    return bytes(extract(read_final(_final_with(final, items))).serialize())


def _refused(regtest: Any, raw_tx: bytes) -> None:
    with pytest.raises(RpcError, match=r"block-validation-failed|mempool"):
        regtest.mine_tx(raw_tx)


def test_the_valid_spend_is_mined(spend: tuple[Any, bytes, Any]) -> None:
    request, final, regtest = spend
    assert BitcoinAdapter().judge(VAULT, request, final, T0) == []
    regtest.mine_tx(bytes(extract(read_final(final)).serialize()))


def test_one_signature_short_is_refused_by_the_node_and_the_interpreter(
    spend: tuple[Any, bytes, Any],
) -> None:
    request, final, regtest = spend
    items = list(read_final(final).parsed.inputs[0].final_scriptwitness.items)
    short = _witnessed(final, [items[0], items[1], items[3]])
    _refused(regtest, short)
    assert BitcoinAdapter().judge(VAULT, request, _final_with(final, [items[0], items[1], items[3]]), T0)


def test_a_flipped_bit_in_a_signature_is_refused(spend: tuple[Any, bytes, Any]) -> None:
    request, final, regtest = spend
    items = list(read_final(final).parsed.inputs[0].final_scriptwitness.items)
    flipped = bytearray(items[2])
    flipped[20] ^= 0x01
    _refused(regtest, _witnessed(final, [items[0], items[1], bytes(flipped), items[3]]))
    assert BitcoinAdapter().judge(
        VAULT, request, _final_with(final, [items[0], items[1], bytes(flipped), items[3]]), T0
    )


def test_signatures_over_a_lied_input_amount_are_refused(spend: tuple[Any, bytes, Any]) -> None:
    request, final, regtest = spend
    facts = parse(VAULT, request.payload)
    script = witness_script([k.public for k in KEYS], 2)
    lied = facts.psbt.tx.sighash_segwit(0, Script(script), facts.inputs[0].amount - 1, SIGHASH.ALL)
    signers = sorted(KEYS[:2], key=lambda k: k.public)
    items = [b"", *(der(k.sign(lied)) for k in signers), script]
    _refused(regtest, _witnessed(final, items))
    assert BitcoinAdapter().judge(VAULT, request, _final_with(final, items), T0)


def test_signatures_out_of_key_order_are_refused(spend: tuple[Any, bytes, Any]) -> None:
    request, final, regtest = spend
    items = list(read_final(final).parsed.inputs[0].final_scriptwitness.items)
    _refused(regtest, _witnessed(final, [items[0], items[2], items[1], items[3]]))
    assert BitcoinAdapter().judge(
        VAULT, request, _final_with(final, [items[0], items[2], items[1], items[3]]), T0
    )


def test_a_high_s_signature_is_refused_by_the_mempool(spend: tuple[Any, bytes, Any]) -> None:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    from custody.schemas.signatures import SECP256K1_ORDER

    request, final, regtest = spend
    items = list(read_final(final).parsed.inputs[0].final_scriptwitness.items)
    r, s = decode_dss_signature(items[1][:-1])
    high = der(r.to_bytes(32, "big") + (SECP256K1_ORDER - s).to_bytes(32, "big"))
    from host.chain.bitcoin_rpc import mempool_accept

    allowed, reason = mempool_accept(regtest.rpc, _witnessed(final, [items[0], high, items[2], items[3]]))
    assert not allowed and "S value is unnecessarily high" in reason
    assert BitcoinAdapter().judge(
        VAULT, request, _final_with(final, [items[0], high, items[2], items[3]]), T0
    )
