"""Judging what comes back from a station: a signature that counts, or why it does not.

Pure: the caller looks up the request and the signatures already held, and
stores only what this says to keep. A signature is kept only if it answers a
request this host built (by digest), under that request's vault generation,
from a key in the vault, with a valid (low-S) signature, approved at a time
this host's clock has reached, and from a station that has not signed it
already. Two answers are the same when their statements and signatures
match modulo ECDSA malleability, so a malleated twin can never make the
genuine answer look like a second signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from custody.policy.vault_state import CLOCK_SKEW_SECONDS
from custody.schemas.bundle import check_response
from custody.schemas.response import Refusal, SignatureResponse
from custody.schemas.signatures import canonical_signature
from custody.schemas.vault import VaultDefinition
from host.registry import RequestRow, ResponseRow


class Status(StrEnum):
    ACCEPTED = "accepted"
    ALREADY_HELD = "already-held"  # the same response scanned again: harmless
    REJECTED = "rejected"  # does not count, and is not stored
    REFUSAL = "refusal"  # a station said no, with a reason


@dataclass(frozen=True, slots=True)
class Judgement:
    status: Status
    station: str
    request_id: bytes | None
    text: str


def same_answer(a: SignatureResponse, b: SignatureResponse) -> bool:
    """The same statement with the same signature, modulo ECDSA malleability (s and n - s)."""
    return a.statement_digest() == b.statement_digest() and canonical_signature(
        a.algorithm, a.signature
    ) == canonical_signature(b.algorithm, b.signature)


def judge_response(
    response: SignatureResponse,
    row: RequestRow | None,
    vault: VaultDefinition | None,
    held: list[ResponseRow],
    now: int,
) -> Judgement:
    """``row`` is the registry's request with ``response``'s id (None: never built here)."""

    def reject(text: str) -> Judgement:
        return Judgement(Status.REJECTED, response.station, response.request_id, text)

    if row is None or vault is None:
        return reject(
            f"answers request {response.request_id.hex()[:8]}, which this host never built (foreign)"
        )
    finding = check_response(vault, row.request, response)
    if finding is not None:
        return reject(f"{finding.problem.value}: {finding.text}")
    if response.approved_at > now + CLOCK_SKEW_SECONDS:
        return reject(
            f"clock-ahead: approved at {response.approved_at}, {response.approved_at - now} s after this "
            "host's clock: the station's clock is ahead, so its delays cannot be trusted; not counted. "
            "Set its clock and audit it"
        )
    for earlier in held:
        if earlier.response.key_id == response.key_id:
            if same_answer(earlier.response, response):
                return Judgement(
                    Status.ALREADY_HELD, response.station, response.request_id, "already collected"
                )
            return reject(
                "duplicate signer: this station's signature on this request is already held, and this one "
                f"differs (logged at entry {response.audit_seq}, the held one at "
                f"{earlier.response.audit_seq}): the station signed twice"
            )
    return Judgement(Status.ACCEPTED, response.station, response.request_id, "valid signature")


def judge_refusal(refusal: Refusal, row: RequestRow | None) -> Judgement:
    request_id = refusal.request_id or None
    where = f"request {refusal.request_id.hex()[:8]}" if refusal.request_id else "an unreadable request"
    if refusal.request_id and row is None:
        where += " (not built here)"
    elif row is not None and refusal.request_digest != row.request.digest():
        where += " (a different version of it: the digest differs)"
    return Judgement(Status.REFUSAL, refusal.station, request_id, f"{where}: {refusal.code}: {refusal.text}")
