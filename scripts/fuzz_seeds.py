#!/usr/bin/env python3
"""Seed inputs for every fuzz target, and the context the chain targets are judged in.

Built from the test suite's own builders (software keys, the Chia Simulator,
a Safe binding, a Bitcoin vault over offline coins), so every seed is a
valid input and coverage starts deep. Writes tests/fuzz_corpus/_context/
and adds ``seed-*`` files to each tests/fuzz_corpus/<target>/; campaigns'
finds are merged in with ``scripts/fuzz --merge``.
Run: .venv/bin/python scripts/fuzz_seeds.py
"""

from __future__ import annotations

import hashlib
import sys
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cbor2  # noqa: E402
from fuzz_common import CONTEXT, CORPUS  # noqa: E402
from fuzz_station import station_seeds  # noqa: E402

from airgap.ur import bytewords  # noqa: E402
from airgap.ur.fountain import FountainEncoder  # noqa: E402
from airgap.ur.ur import UR, encode_single, parts_for_message  # noqa: E402
from appliance.card_files import card_text  # noqa: E402
from appliance.cards import UR_TYPE as CARD_UR_TYPE  # noqa: E402
from appliance.cards import Card  # noqa: E402
from custody.schemas.audit_log import GENESIS, SignedHead, export_bytes, make_entry  # noqa: E402
from custody.schemas.bundle import SignedBundle  # noqa: E402
from custody.schemas.key_record import KeyRecord  # noqa: E402
from custody.schemas.policy_toml import render_policy  # noqa: E402
from custody.schemas.request import SpendRequest  # noqa: E402
from custody.schemas.response import Refusal  # noqa: E402
from custody.schemas.vault import StationPolicy, VaultDefinition  # noqa: E402

Seeds = dict[str, list[bytes]]


def installed(vault: VaultDefinition) -> StationPolicy:
    return StationPolicy(vault=vault, key_label="vault-key", key_id=vault.keys[0].key_id)


def statement() -> tuple[StationPolicy, SpendRequest, list[bytes]]:
    from custody.policy.history import history_signature
    from custody.schemas.history import HistoryEntry
    from tests.custody.schemas.fixtures import KEYS, T0, request, vault

    v = vault()
    earlier = [request(v, request_id=bytes([i]) * 16, created_at=T0 - 600 * (i + 1)) for i in range(2)]
    history = tuple(
        sorted(
            (
                HistoryEntry(request=e.core(), signatures=(history_signature(KEYS[i].respond(e)),))
                for i, e in enumerate(earlier)
            ),
            key=lambda e: e.request.digest(),
        )
    )
    plain = request(v)
    with_history = replace(plain, history=history, request_id=b"\x09" * 16)
    responses = [KEYS[i].respond(plain).to_cbor() for i in range(3)]
    return installed(v), plain, [plain.to_cbor(), with_history.to_cbor(), *responses]


def chia() -> tuple[StationPolicy, SpendRequest]:
    from custody.chains.chia.adapter import ChiaAdapter
    from custody.chains.chia.build import choose_coins, payment_payload
    from custody.schemas.request import Withdraw
    from tests.custody.chains.chia.kit import DEST, T0, XCH, keys, mint

    cv = mint(keys(3), 2, fund=(30 * XCH, 25 * XCH))
    amount, fee = 40 * XCH, XCH // 10_000
    coins = choose_coins(cv.coins(), amount + fee)
    dest = ChiaAdapter().puzzle_hash_of(cv.definition, DEST)
    payload = payment_payload(cv.launcher_id, cv.current, coins, dest, amount, fee, None).to_bytes()
    request = SpendRequest(
        request_id=b"\x0c" * 16,
        vault_id=cv.definition.vault_id,
        policy_digest=cv.definition.digest(),
        created_at=T0 + 7200 - 60,
        expires_at=T0 + 7200 + 540,
        action=Withdraw(asset="TXCH", amount=amount, destination=DEST),
        fee=fee,
        payload=payload,
    )
    return installed(cv.definition), request


def evm() -> tuple[StationPolicy, SpendRequest, list[bytes]]:
    from custody.chains.evm.build import transfer
    from custody.chains.evm.erc4527 import EthSignRequest, encode_sign_request, typed_data_json
    from custody.chains.evm.signatures import address_of
    from custody.schemas.chain_evm import EvmBinding, Token
    from custody.schemas.request import Withdraw
    from custody.schemas.vault import Asset
    from tests.custody.chains.evm.kit import DEST, ETH, T0, TST, addr, keys, rules

    token = Token(
        address=b"\x22" * 20, symbol="TST", decimals=18, max_per_spend=500 * TST, window_max=800 * TST
    )
    binding = EvmBinding(
        chain_id=1337,
        safe=b"\x11" * 20,
        version="1.4.1",
        first_nonce=0,
        tokens=(token,),
        multisend=b"\x33" * 20,
    )
    vault_keys = tuple(k.vault_key for k in keys(3))
    v = VaultDefinition(
        vault_id="safe",
        generation=1,
        asset=Asset(code="ETH", decimals=18),
        threshold=2,
        keys=vault_keys,
        rules=rules(),
        chain=binding,
    )
    eth = transfer(binding, 0, "ETH", addr(DEST), ETH)
    tst = transfer(binding, 0, "TST", addr(DEST), 10 * TST)
    request = SpendRequest(
        request_id=b"\x0e" * 16,
        vault_id="safe",
        policy_digest=v.digest(),
        created_at=T0 - 60,
        expires_at=T0 + 540,
        action=Withdraw(asset="ETH", amount=ETH, destination=DEST),
        payload=eth.to_payload(),
        sequence=0,
    )
    wires = [
        encode_sign_request(
            EthSignRequest(
                b"\x05" * 16, typed_data_json(tx), 2, 1337, "m/", address_of(vault_keys[0].public_key), "fuzz"
            )
        )
        for tx in (eth, tst)
    ]
    return installed(v), request, [eth.to_payload(), tst.to_payload(), *wires]


def bitcoin() -> tuple[StationPolicy, SpendRequest]:
    from tests.custody.chains.bitcoin.kit import BTC, keys, offline_coin, vault_for, withdrawal

    v = vault_for(tuple(k.vault_key for k in keys(3)), 2)
    coins = [offline_coin(v, BTC, 1), offline_coin(v, 2 * BTC, 2)]
    return installed(v), withdrawal(v, coins, BTC + BTC // 2)


def link_seeds(messages: list[bytes]) -> Seeds:
    seeds: Seeds = {
        "ur_text": [],
        "bytewords": [],
        "fountain_part": [],
        "fountain_decoder": [],
        "ur_decoder": [],
    }
    for n, message in enumerate(messages):
        ur = UR("x-spend-request", cbor2.dumps(message))
        single = encode_single(ur)
        seeds["ur_text"] += [single.encode(), single.upper().encode()]
        parts = parts_for_message(ur, 60 + 40 * n, count=8)
        seeds["ur_text"] += [p.encode() for p in parts[:2]]
        seeds["ur_decoder"] += ["\n".join(parts).encode(), "\n".join(reversed(parts)).upper().encode()]
        encoder = FountainEncoder(message, 40 + 20 * n)
        cbors = [encoder.next_part().to_cbor() for _ in range(encoder.seq_len + 3)]
        seeds["fountain_part"] += cbors[:1] + cbors[-1:]
        seeds["fountain_decoder"] += [b"".join(cbors), b"".join(reversed(cbors))]
        for style_byte, style in enumerate(bytewords.Style.__members__.values()):
            seeds["bytewords"].append(bytes([style_byte]) + bytewords.encode(message[:40], style).encode())
    return seeds


def audit_export_seed() -> bytes:
    entries, prev = [], GENESIS
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("init", {"station": "station-1"}),
        ("scan", {"bytes": 120, "vault": "cold"}),
        ("refuse", {"code": "x"}),
    ]
    for seq, (kind, fields) in enumerate(kinds, 1):
        entry = make_entry(seq, 1_790_000_000 + seq, kind, fields, prev)
        entries.append(entry)
        prev = entry.hash
    head = SignedHead(station="station-1", count=3, head=prev, at=1_790_000_100)
    return export_bytes(head, entries)


def main() -> None:
    from appliance.hsm.uri import parse as parse_uri
    from custody.chains.bitcoin.ur import encode_psbt_ur

    statement_policy, statement_request, statement_seeds = statement()
    chia_policy, chia_request = chia()
    evm_policy, evm_request, evm_seeds = evm()
    btc_policy, btc_request = bitcoin()
    CONTEXT.mkdir(parents=True, exist_ok=True)
    contexts = {
        "statement": (statement_policy, statement_request),
        "chia": (chia_policy, chia_request),
        "evm": (evm_policy, evm_request),
        "bitcoin": (btc_policy, btc_request),
    }
    for name, (policy, request) in contexts.items():
        (CONTEXT / f"{name}-policy.cbor").write_bytes(policy.to_cbor())
        (CONTEXT / f"{name}-request.cbor").write_bytes(request.to_cbor())
    policies = [p for p, _ in contexts.values()]
    requests = [r for _, r in contexts.values()]
    plain = statement_request
    from tests.custody.schemas.fixtures import KEYS

    responses = [KEYS[i].respond(plain) for i in range(3)]
    card = Card(
        station="station-1",
        set_id=bytes(range(16)),
        index=2,
        threshold=3,
        count=5,
        user_share=b"\x42" * 16,
        so_share=b"\x24" * 16,
    )
    record = KeyRecord(
        algorithm=KEYS[0].algorithm,
        public_key=KEYS[0].public,
        key_id=KEYS[0].vault_key.key_id,
        token_serial="0123456789abcdef",
        label="vault-key",
        station="station-1",
        created_at=1_790_000_000,
    )
    refusal = Refusal(
        request_id=plain.request_id,
        request_digest=plain.digest(),
        vault_id="cold",
        station="station-2",
        code="destination",
        text="not an allowed destination",
        at=1_790_000_000,
    )
    chia_payload = chia_request.payload
    psbt = btc_request.payload
    seeds: Seeds = {
        **link_seeds([plain.to_cbor(), chia_payload, evm_request.to_cbor()]),
        "strict_cbor": [plain.to_cbor(), policies[2].to_cbor(), refusal.to_cbor(), b"\xa1\x61a\x82\x01\x40"],
        "spend_request": [*statement_seeds[:2], *(r.to_cbor() for r in requests[1:])],
        "request_core": [r.core().to_cbor() for r in requests],
        "responses": [*statement_seeds[2:], refusal.to_cbor()],
        "signed_bundle": [SignedBundle(request=plain, responses=tuple(responses)).to_cbor()],
        "key_record": [record.to_cbor()],
        "vault": [*(p.vault.to_cbor() for p in policies), *(p.to_cbor() for p in policies)],
        "audit_export": [audit_export_seed()],
        "policy_toml": [render_policy(p).encode() for p in policies]
        + [p.read_bytes() for p in sorted((ROOT / "firmware-config" / "policies").glob("*.toml"))],
        "card_text": [card_text(card).encode(), card_text(replace(card, so_share=None, index=5)).encode()],
        "card_qr": [encode_single(UR(CARD_UR_TYPE, card.to_cbor())).upper().encode()],
        "station_files": station_seeds(record),
        "pkcs11_uri": [
            str(parse_uri(u)).encode()
            for u in (
                "pkcs11:token=station-a;object=vault-1;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so",
                "pkcs11:serial=0123;slot-id=3;id=%01%02;manufacturer=SoftHSM%20project;model=SoftHSM%20v2",
                "pkcs11:token=a?module-name=softhsm2",
            )
        ],
        "chia_spend": [b"\x00" + chia_payload, b"\x01" + zlib.decompress(chia_payload)],
        "safe_tx": evm_seeds[:2],
        "eth_sign_request": evm_seeds[2:],
        "psbt": [b"\x00" + encode_psbt_ur(psbt), b"\x01" + psbt],
    }
    for target, inputs in seeds.items():
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for data in inputs:
            (folder / f"seed-{hashlib.sha1(data).hexdigest()}").write_bytes(data)
        print(f"{target}: {len(inputs)} seeds")


if __name__ == "__main__":
    main()
