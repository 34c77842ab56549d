"""Every fuzz target by name: where it lives, the entry point it drives, and its input bound.

Kept free of the targets' own imports, so that the driver can list and run
them without loading a chain SDK; the child process imports one module only,
under atheris' coverage instrumentation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    module: str  # scripts/<module>.py
    function: str
    entry: str  # the project's entry point, for docs/fuzzing.md and --list
    max_len: int  # longest input libFuzzer makes; past every cap the target refuses up front


TARGETS: tuple[Target, ...] = (
    Target("ur_text", "fuzz_link", "ur_text", "airgap.ur.ur.parse", 4096),
    Target("bytewords", "fuzz_link", "bytewords_text", "airgap.ur.bytewords.decode (3 styles)", 2048),
    Target("fountain_part", "fuzz_link", "fountain_part", "airgap.ur.fountain.FountainPart.from_cbor", 1024),
    Target(
        "fountain_decoder", "fuzz_link", "fountain_decoder", "FountainDecoder.receive, part by part", 8192
    ),
    Target("ur_decoder", "fuzz_link", "ur_decoder", "airgap.ur.ur.URDecoder.receive, line by line", 8192),
    Target("strict_cbor", "fuzz_messages", "strict_cbor", "custody.schemas.strict.decode", 4096),
    Target(
        "spend_request", "fuzz_messages", "spend_request", "SpendRequest.from_cbor + decide + review", 16384
    ),
    Target(
        "request_core", "fuzz_messages", "request_core", "custody.schemas.history.RequestCore.from_cbor", 4096
    ),
    Target("responses", "fuzz_messages", "responses", "SignatureResponse / Refusal.from_cbor", 4096),
    Target("signed_bundle", "fuzz_messages", "signed_bundle", "SignedBundle.from_cbor + check_bundle", 16384),
    Target(
        "key_record", "fuzz_messages", "key_record", "custody.schemas.key_record.KeyRecord.from_cbor", 2048
    ),
    Target("vault", "fuzz_messages", "vault", "VaultDefinition / StationPolicy.from_cbor", 8192),
    Target("audit_export", "fuzz_messages", "audit_export", "custody.schemas.audit_log.read_export", 16384),
    Target("policy_toml", "fuzz_files", "policy_toml", "custody.schemas.policy_toml.compile_policy", 8192),
    Target("card_text", "fuzz_files", "card_text", "appliance.card_files.read_card_text", 8192),
    Target("card_qr", "fuzz_files", "card_qr", "appliance.card_files.card_from_payloads", 2048),
    Target("pkcs11_uri", "fuzz_files", "pkcs11_uri", "appliance.hsm.uri.parse", 1024),
    Target(
        "station_files", "fuzz_station", "station_files", "Seal / LogIndex / StationState.from_cbor", 8192
    ),
    Target("chia_spend", "fuzz_chia", "chia_spend", "chia facts_for (parse_payload + facts) + decide", 16384),
    Target("safe_tx", "fuzz_evm", "safe_tx", "evm facts_for (safe_tx.parse_payload + facts) + decide", 8192),
    Target("eth_sign_request", "fuzz_evm", "eth_sign_request", "appliance.eth_sign.translate + decide", 8192),
    Target(
        "psbt", "fuzz_bitcoin", "psbt", "appliance.psbt_sign.translate; bitcoin facts_for + decide", 16384
    ),
)

BY_NAME = {t.name: t for t in TARGETS}
