"""The signed bundle: a request plus the station responses that approve it, checkable by anyone
who holds the vault definition and nothing else.

The request and each response are embedded as their exact canonical bytes, so
the bundle verifies the same bytes the stations signed; a flipped byte
anywhere either fails to parse or fails a check, never passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from custody.chains import chain_messages
from custody.errors import CustodyError, SchemaError
from custody.schemas import strict
from custody.schemas.request import SpendRequest, signatures_needed
from custody.schemas.response import SignatureResponse
from custody.schemas.signatures import SignatureError, split_chain_signature, verify_signature
from custody.schemas.vault import MAX_KEYS, VaultDefinition

UR_TYPE = "x-signed-bundle"
VERSION = 1


class Problem(StrEnum):
    WRONG_VAULT = "wrong-vault"
    EXPIRED = "expired"
    TAMPERED = "tampered"
    UNKNOWN_KEY = "unknown-key"
    BAD_SIGNATURE = "bad-signature"
    DUPLICATE_SIGNER = "duplicate-signer"
    TOO_FEW = "too-few"
    SPEND_MISMATCH = "spend-mismatch"  # the chain spend does not do what the request says
    CHAIN_REJECTS = "chain-rejects"  # the chain's own rules refuse the assembled spend


@dataclass(frozen=True, slots=True)
class Finding:
    problem: Problem
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedBundle:
    request: SpendRequest
    responses: tuple[SignatureResponse, ...]

    def to_cbor(self) -> bytes:
        return strict.encode(
            {
                "version": VERSION,
                "request": self.request.to_cbor(),
                "responses": [r.to_cbor() for r in self.responses],
            }
        )

    @classmethod
    def from_cbor(cls, data: bytes) -> SignedBundle:
        what = "signed bundle"
        v = strict.fields(
            strict.decode(data, what=what, max_bytes=256 * 1024),
            {"version": int, "request": bytes, "responses": list},
            what=what,
        )
        strict.version(v["version"], VERSION, what=what)
        if not 1 <= len(v["responses"]) <= MAX_KEYS or not all(isinstance(r, bytes) for r in v["responses"]):
            raise SchemaError(f"{what}: responses must be 1 to {MAX_KEYS} byte strings")
        return cls(
            request=SpendRequest.from_cbor(v["request"]),
            responses=tuple(SignatureResponse.from_cbor(r) for r in v["responses"]),
        )


def check_response(
    vault: VaultDefinition, request: SpendRequest, response: SignatureResponse
) -> Finding | None:
    """Why ``response`` does not count towards ``request``'s quorum, or None when it does."""
    if response.request_digest != request.digest() or response.request_id != request.request_id:
        return Finding(Problem.TAMPERED, "answers a different request (request digest differs)")
    if response.vault_id != vault.vault_id:
        return Finding(Problem.WRONG_VAULT, f"names vault {response.vault_id!r}, not {vault.vault_id!r}")
    key = vault.key(response.key_id)
    if key is None:
        return Finding(Problem.UNKNOWN_KEY, f"key {response.key_id.hex()[:16]} is not in the vault")
    if key.algorithm is not response.algorithm or key.station != response.station:
        return Finding(Problem.TAMPERED, "station or algorithm differs from the vault's record of the key")
    try:
        response.verify(key.public_key)
    except SignatureError as exc:
        return Finding(Problem.BAD_SIGNATURE, f"signature from {key.station}: {exc}")
    return _check_chain_signature(vault, request, response)


def _check_chain_signature(
    vault: VaultDefinition, request: SpendRequest, response: SignatureResponse
) -> Finding | None:
    """The signature the chain checks: over the message derived from the request's own payload."""
    try:
        messages = chain_messages(vault, request)
    except CustodyError as exc:
        return Finding(Problem.TAMPERED, f"the request's chain payload: {exc}")
    if messages is None:
        if response.chain_signature:
            return Finding(Problem.TAMPERED, "a chain signature on a request no chain honours")
        return None
    key = vault.key(response.key_id)
    assert key is not None  # checked by the caller
    if not response.chain_signature:
        return Finding(Problem.BAD_SIGNATURE, f"{key.station} gave no chain signature")
    chunks = split_chain_signature(response.chain_signature)
    if len(chunks) != len(messages):
        detail = f"{key.station} gave {len(chunks)} chain signature(s) for {len(messages)} message(s)"
        return Finding(Problem.BAD_SIGNATURE, detail)
    try:
        for message, signature in zip(messages, chunks, strict=True):
            verify_signature(key.algorithm, key.public_key, message, signature)
    except SignatureError as exc:
        return Finding(Problem.BAD_SIGNATURE, f"chain signature from {key.station}: {exc}")
    return None


def check_bundle(vault: VaultDefinition, bundle: SignedBundle, *, now: int | None = None) -> list[Finding]:
    """Every reason ``bundle`` is not a valid approval under ``vault``; empty means valid."""
    request = bundle.request
    findings: list[Finding] = []
    if request.vault_id != vault.vault_id:
        findings.append(Finding(Problem.WRONG_VAULT, f"request is for vault {request.vault_id!r}"))
    elif request.policy_digest != vault.digest():
        findings.append(Finding(Problem.WRONG_VAULT, "request names another definition of this vault"))
    if now is not None and now > request.expires_at:
        findings.append(Finding(Problem.EXPIRED, f"request expired at {request.expires_at}"))
    signers: set[bytes] = set()
    for number, response in enumerate(bundle.responses, 1):
        finding = check_response(vault, request, response)
        if finding is None and response.key_id in signers:
            finding = Finding(Problem.DUPLICATE_SIGNER, f"{response.station} signed more than once")
        if finding is not None:
            findings.append(Finding(finding.problem, f"response {number}: {finding.text}"))
        else:
            signers.add(response.key_id)
    # M for every action, rekeys included: a rekey by fewer signers would rest its delay and the
    # quorum's chance to cancel on the stations that chose to sign it (docs/vault-wide.md). The one
    # exception is a slow rekey, whose delay and cancellation the chain itself holds (docs/chia.md).
    need = signatures_needed(request.action, vault.threshold)
    if len(signers) < need:
        findings.append(
            Finding(Problem.TOO_FEW, f"{len(signers)} valid distinct signature(s), {need} needed")
        )
    return findings


def parse_and_check(vault: VaultDefinition, data: bytes, *, now: int | None = None) -> list[Finding]:
    """``check_bundle`` on raw bytes, where bytes that do not parse are one more finding."""
    try:
        bundle = SignedBundle.from_cbor(data)
    except CustodyError as exc:
        return [Finding(Problem.TAMPERED, str(exc))]
    return check_bundle(vault, bundle, now=now)
