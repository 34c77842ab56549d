"""The signing ceremony: one scanned payload in, one answer out, every step in the audit log.

Order is the point. The request is parsed and decided on the station's own
state before any card is asked for (policy before the HSM). The custodians
see every field and every rule's result. Cards are checked against their
commitments before the HSM is touched. Inside the session the log is checked
against the HSM seal, the policy against its sealed digest, the clock against
the sealed time, and the decision is taken again on the verified state.
Then the approval is logged and sealed, the HSM signs, the signature is
logged and sealed, and only then is the answer shown.

A request already approved here is not signed again: once its answer was
shown (a ``released`` entry follows it), a replay is refused. What a crash
left behind is finished instead: a signature logged but never shown is shown
(nothing new is signed); an approval sealed but never signed is signed under
that approval. Both still need the cards, because both end with a seal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from airgap.ur.ur import UR
from appliance import policy_store
from appliance.audit_store import logged_response
from appliance.cards import PresentedCard
from appliance.errors import CardError, HsmError, StationStateError
from appliance.review import review_lines
from appliance.screen import Screen
from appliance.seal import LogRollbackError
from appliance.station import SealedSession, Station
from appliance.wallet_envelopes import WALLET_ENVELOPES
from appliance.wallet_requests import Untranslatable, with_own_history
from custody.chains import ChainError, ChainFacts, adapter_for, facts_for
from custody.errors import CustodyError
from custody.policy.engine import EXPLANATIONS, Approve, Code, Refuse, decide
from custody.schemas.audit_log import AuditEntry, EntryKind
from custody.schemas.request import SpendRequest
from custody.schemas.response import REFUSAL_UR_TYPE, RESPONSE_UR_TYPE, Refusal, SignatureResponse
from custody.schemas.vault import StationPolicy

CardProvider = Callable[[int], Sequence[PresentedCard]]
FaultHook = Callable[[str], None]


class StationCode(StrEnum):
    """Refusals that come from the station's own checks rather than from the vault's rules."""

    MALFORMED = "malformed-request"
    NO_POLICY = "no-policy"
    POLICY_CHANGED = "policy-not-sealed"
    LOG_ROLLBACK = "log-rollback"
    KEY_MISMATCH = "key-mismatch"
    DECLINED = "declined"
    CARDS_REFUSED = "cards-refused"
    HSM_FAILED = "hsm-failed"


STATION_EXPLANATIONS: dict[StationCode, str] = {
    StationCode.MALFORMED: "The payload is not a valid spend request; nothing in it was acted on.",
    StationCode.NO_POLICY: "No policy for this vault is installed and sealed at this station.",
    StationCode.POLICY_CHANGED: "The policy on disk is not the one sealed in the HSM: edited or replaced.",
    StationCode.LOG_ROLLBACK: "The audit database is not the one the HSM sealed (an older copy was restored, "
    "or it was rewritten).",
    StationCode.KEY_MISMATCH: "The HSM key named by the policy is not the vault's key for this station.",
    StationCode.DECLINED: "The custodians declined after reviewing the request.",
    StationCode.CARDS_REFUSED: "The custodian cards were refused.",
    StationCode.HSM_FAILED: "The HSM failed; nothing was signed.",
}


class Outcome(StrEnum):
    SIGNED = "signed"
    REFUSED = "refused"
    REISSUED = "reissued"


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: Outcome
    ur: UR
    code: str
    text: str
    response: SignatureResponse | None = None  # when ``ur`` wraps it in another protocol (ERC-4527)


def _refusal_text(code: Code | StationCode, detail: str = "") -> str:
    base = EXPLANATIONS[code] if isinstance(code, Code) else STATION_EXPLANATIONS[code]
    if not detail or detail in base:
        return base
    return detail if detail.startswith(base) else f"{base} ({detail})"


class Ceremony:
    def __init__(
        self,
        station: Station,
        *,
        screen: Screen,
        cards: CardProvider,
        fault: FaultHook = lambda point: None,
    ) -> None:
        self.station = station
        self.screen = screen
        self.cards = cards
        self.fault = fault

    @property
    def name(self) -> str:
        return self.station.state.station

    def handle(self, ur: UR) -> Answer:
        """Take one scanned payload through the whole ceremony and show the answer."""
        return self._present(self._handle(ur))

    def _present(self, answer: Answer) -> Answer:
        """Show the answer; a signature shown is logged as released, so it is never shown again."""
        self.screen.say(f"{answer.outcome.value.upper()}: {answer.text}")
        self.screen.show_answer(f"{answer.outcome.value} answer", answer.ur)
        if answer.outcome is not Outcome.REFUSED:
            response = answer.response or SignatureResponse.from_cbor(answer.ur.cbor)
            self.station.log(
                EntryKind.RELEASED,
                {"request_digest": response.request_digest, "audit_seq": response.audit_seq},
                self.station.clock(),
                vault=response.vault_id,
                request_digest=response.request_digest,
            )
        return answer

    def refuse_unreadable(self, detail: str) -> Answer:
        """Frames that never assembled into a message (bad checksum, over the caps): refused and logged."""
        now = self.station.clock()
        self.station.log(EntryKind.SCAN, {"error": detail[:300]}, now)
        return self._present(self._refuse(None, StationCode.MALFORMED, detail[:300], now))

    def log_repeats(self, detail: str, count: int) -> None:
        """Unreadable input seen again ``count`` times after it was refused: one entry, not ``count``."""
        self.screen.say(f"unreadable input repeated {count} more time(s): {detail[:300]}")
        self.station.log(EntryKind.SCAN, {"error": detail[:300], "repeats": count}, self.station.clock())

    def _unreadable(self, data: bytes, detail: str, now: int, code: Code | StationCode) -> Answer:
        self.station.log(
            EntryKind.SCAN,
            {"payload_sha256": hashlib.sha256(data).digest(), "bytes": len(data), "error": detail[:300]},
            now,
        )
        return self._refuse(None, code, detail[:300], now)

    def _handle(self, ur: UR) -> Answer:
        now = self.station.clock()
        if ur.type in WALLET_ENVELOPES:
            return self._wallet(ur, now)
        try:
            request = SpendRequest.from_cbor(ur.cbor)
        except CustodyError as exc:
            return self._unreadable(ur.cbor, str(exc), now, StationCode.MALFORMED)
        return self._process(request, len(ur.cbor), now)

    def _wallet(self, ur: UR, now: int) -> Answer:
        """A coordinator's envelope (ERC-4527, crypto-psbt): its chain payload made the station's own
        request, through the same policy, review, cards, HSM and log, answered in that envelope."""
        try:
            translated = WALLET_ENVELOPES[ur.type](self.station.state_dir, ur.type, ur.cbor, now)
        except Untranslatable as exc:
            if exc.rows:
                self.screen.review([f"{k:<15} {v}" for k, v in exc.rows] + [f"REFUSED: {exc.detail}"])
            return self._unreadable(ur.cbor, exc.detail, now, exc.code or StationCode.MALFORMED)
        translated = with_own_history(translated, self.station.vault_state(translated.request.vault_id), now)
        answer = self._process(translated.request, len(ur.cbor), now)
        if answer.outcome is Outcome.REFUSED:
            return answer
        response = SignatureResponse.from_cbor(answer.ur.cbor)
        key = translated.policy.vault.key(response.key_id)
        assert key is not None  # the station signed with its own vault key
        return replace(
            answer, ur=translated.answer(key.public_key, response.chain_signature), response=response
        )

    def _process(self, request: SpendRequest, size: int, now: int) -> Answer:
        station = self.station
        digest, vault_id = request.digest(), request.vault_id
        station.log(
            EntryKind.SCAN,
            {
                "request_id": request.request_id,
                "request_digest": digest,
                "vault": vault_id,
                "bytes": size,
            },
            now,
            vault=vault_id,
            request_digest=digest,
        )
        try:
            policy = policy_store.load(station.state_dir, vault_id)
        except policy_store.PolicyMissingError as exc:
            return self._refuse(request, StationCode.NO_POLICY, str(exc), now)
        except StationStateError as exc:
            return self._refuse(request, StationCode.POLICY_CHANGED, str(exc), now)
        if station.logged_policy(vault_id) != policy:
            return self._refuse(
                request, StationCode.POLICY_CHANGED, "differs from the copy logged at installation", now
            )

        try:
            chain = facts_for(policy.vault, request)
        except CustodyError as exc:
            return self._refuse(request, Code.PAYLOAD_INVALID, str(exc)[:300], now)
        verdict = decide(policy.vault, station.vault_state(vault_id), request, now, chain)
        prior = self._prior(digest) if isinstance(verdict, Refuse) and verdict.code is Code.REPLAY else None
        lines = review_lines(self.name, policy, request, verdict.checks, verdict, now, chain)
        if prior is not None:
            lines.append(
                "the station stopped before showing this request's signature: the logged one will be shown"
                if prior.kind == EntryKind.SIGNATURE
                else "this request was approved here but the station stopped before signing: "
                "it will be signed under that approval"
            )
        self.screen.review(lines)
        outcome = (
            "resume" if prior is not None else ("approve" if isinstance(verdict, Approve) else verdict.code)
        )
        station.log(
            EntryKind.REVIEW,
            {"request_digest": digest, "verdict": str(outcome)},
            now,
            vault=vault_id,
            request_digest=digest,
        )
        if isinstance(verdict, Refuse) and prior is None:
            return self._refuse(request, verdict.code, verdict.text, now)

        if not self.screen.confirm("Custodians: is this exactly what you mean to sign?"):
            return self._refuse(request, StationCode.DECLINED, "", now)
        try:
            cards = station.check_cards(self.cards(station.state.card_set.threshold), now)
        except CardError as exc:
            self.screen.trouble(exc)
            return self._refuse(request, StationCode.CARDS_REFUSED, str(exc), now)
        try:
            self.screen.step(f"HSM login with the PIN of {len(cards)} cards")
            with station.sealed_session(cards, now) as sealed:
                self.screen.step("audit log checked against the HSM's seal")
                return self._sign(sealed, request, policy, now, chain)
        except LogRollbackError as exc:
            self.screen.trouble(exc)
            return self._refuse(request, StationCode.LOG_ROLLBACK, str(exc), now)
        except HsmError as exc:
            self.screen.trouble(exc)
            return self._refuse(request, StationCode.HSM_FAILED, str(exc), now)

    def _prior(self, request_digest: bytes) -> AuditEntry | None:
        """This request's signature that was logged but never shown, or its approval that was
        never signed: what a crash left behind. None once the answer was released."""
        return self.station.unfinished(request_digest)

    def _sign(
        self,
        sealed: SealedSession,
        request: SpendRequest,
        policy: StationPolicy,
        now: int,
        chain: ChainFacts | None,
    ) -> Answer:
        station, vault_id, digest = self.station, request.vault_id, request.digest()
        if sealed.seal.policies.get(vault_id) != policy.digest():
            return self._refuse(
                request, StationCode.POLICY_CHANGED, "digest differs from the sealed one", now, sealed
            )
        if now < sealed.seal.log_time:
            return self._refuse(
                request, Code.CLOCK_ROLLBACK, "the clock reads earlier than the sealed time", now, sealed
            )
        key = sealed.session.find_key(policy.key_label)
        if key.key_id != policy.key_id:
            return self._refuse(request, StationCode.KEY_MISMATCH, f"key {policy.key_label!r}", now, sealed)

        self.screen.step("policy digest, clock and key checked against the seal")
        prior = self._prior(digest)  # again, now that the log is verified and unsealed approvals voided
        if prior is not None and prior.kind == EntryKind.SIGNATURE:
            response = logged_response(prior)
            sealed.log(
                EntryKind.REISSUE,
                {"request_digest": digest, "signature_seq": prior.seq},
                now,
                vault=vault_id,
                request_digest=digest,
            )
            return Answer(
                Outcome.REISSUED,
                UR(RESPONSE_UR_TYPE, response.to_cbor()),
                "reissued",
                f"the response logged at entry {prior.seq} is shown again; nothing new was signed",
            )
        if prior is not None:
            approval = prior
        else:
            state = station.vault_state(vault_id)
            verdict = decide(policy.vault, state, request, now, chain)
            if isinstance(verdict, Refuse):  # the verified log says no, whatever the disk said before
                return self._refuse(request, verdict.code, verdict.text, now, sealed)
            approval = sealed.log(
                EntryKind.APPROVE,
                {"request": request.core().to_cbor(), "request_digest": digest},
                now,
                vault=vault_id,
                request_digest=digest,
            )
        self.fault("approved")
        # The chain's own message first: what the chain checks. Then the statement over it and the log head.
        chain_signature = b""
        if chain is not None and policy.vault.chain is not None:
            self.screen.step(f"signing {len(chain.messages)} chain message(s) in the HSM")
            chain_signature = b"".join(sealed.session.sign(key, m) for m in chain.messages)
            try:  # e.g. a Safe's v: recovery must give this station's own address
                adapter_for(policy.vault.chain).check_signature(chain, key.public_key, chain_signature)
            except ChainError as exc:
                detail = f"the chain would not take this key's signature ({exc})"
                return self._refuse(request, Code.PAYLOAD_INVALID, detail, now, sealed)
            self.screen.step("chain signature(s) verified as the chain will")
        unsigned = SignatureResponse(
            request_id=request.request_id,
            request_digest=digest,
            vault_id=vault_id,
            station=station.state.station,
            key_id=key.key_id,
            algorithm=key.algorithm,
            audit_seq=approval.seq,
            log_head=approval.hash,
            approved_at=approval.at,
            chain_signature=chain_signature,
        )
        self.screen.step("signing the station's statement over the request and the log head")
        response = replace(unsigned, signature=sealed.session.sign(key, unsigned.statement_digest()))
        entry = station.log(
            EntryKind.SIGNATURE,
            {"request_digest": digest, "response": response.to_cbor()},
            now,
            vault=vault_id,
            request_digest=digest,
        )
        self.fault("signature-logged")
        sealed.seal_entry(entry)
        self.fault("signature-sealed")
        self.screen.step(f"signature logged at entry {entry.seq} and sealed in the HSM; now shown")
        return Answer(
            Outcome.SIGNED,
            UR(RESPONSE_UR_TYPE, response.to_cbor()),
            "signed",
            f"signed with key {key.key_id.hex()[:16]}; logged at entries {approval.seq} and {entry.seq}",
        )

    def _refuse(
        self,
        request: SpendRequest | None,
        code: Code | StationCode,
        detail: str,
        now: int,
        sealed: SealedSession | None = None,
    ) -> Answer:
        refusal = Refusal(
            request_id=request.request_id if request else b"",
            request_digest=request.digest() if request else b"",
            vault_id=request.vault_id if request else "",
            station=self.station.state.station,
            code=code.value,
            text=_refusal_text(code, detail)[:500],
            at=now,
        )
        fields = {"refusal": refusal.to_cbor(), "code": code.value}
        vault, digest = (request.vault_id, request.digest()) if request else (None, None)
        if sealed is not None:
            sealed.log(EntryKind.REFUSE, fields, now, vault=vault, request_digest=digest)
        else:
            self.station.log(EntryKind.REFUSE, fields, now, vault=vault, request_digest=digest)
        return Answer(Outcome.REFUSED, UR(REFUSAL_UR_TYPE, refusal.to_cbor()), code.value, refusal.text)
