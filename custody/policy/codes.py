"""Why a station refuses: each refusal's code, and what it means on the custodians' screen.

The policy engine and every chain adapter's checks name one of these codes, so
a refusal reads the same whichever rule gave it.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["EXPLANATIONS", "Code"]


class Code(StrEnum):
    WRONG_VAULT = "wrong-vault"
    POLICY_MISMATCH = "policy-mismatch"
    CLOCK_ROLLBACK = "clock-rollback"
    NOT_YET_VALID = "not-yet-valid"
    EXPIRED = "expired"
    LIFETIME = "lifetime-too-long"
    HISTORY_INVALID = "history-invalid"
    HISTORY_INCOMPLETE = "history-incomplete"
    REPLAY = "replay"
    WRONG_ASSET = "wrong-asset"
    DESTINATION = "destination-not-allowed"
    MIN_AMOUNT = "under-minimum"
    PER_SPEND = "over-per-spend-limit"
    WINDOW = "over-window-limit"
    WINDOW_COUNT = "over-window-count"
    COOLDOWN = "cooldown"
    ANNOUNCE_REQUIRED = "announce-required"
    NO_ANNOUNCE_PHASE = "no-announce-phase"
    UNKNOWN_ANNOUNCEMENT = "unknown-announcement"
    ANNOUNCEMENT_UNSIGNED = "announcement-not-signed"
    ANNOUNCEMENT_MISMATCH = "announcement-mismatch"
    ANNOUNCEMENT_CLOSED = "announcement-closed"
    TOO_EARLY = "too-early"
    ANNOUNCEMENT_EXPIRED = "announcement-expired"
    REKEY_DELAY = "rekey-delay"
    LOCK_RATCHET = "lock-ratchet"
    FEE = "over-fee-cap"
    PAYLOAD_INVALID = "payload-invalid"
    PAYLOAD_MISMATCH = "payload-mismatch"
    UNACCOUNTED = "unaccounted-amount"
    SIDE_EFFECTS = "side-effects"
    CUSTODY = "custody-change"
    CLAWBACK = "clawback-too-short"
    RECOVERY_PATH = "no-recovery-path"
    WRONG_CHAIN = "wrong-chain"
    UNEXPLAINED = "unexplained-call"
    DELEGATECALL = "delegatecall"
    GAS_REFUND = "gas-refund"
    NONCE = "nonce"
    FOREIGN_INPUT = "foreign-input"
    INPUT_UNPROVEN = "input-unproven"
    SIGHASH = "sighash-not-all"


#: What each refusal means, for the custodians' screen and the refusal message.
EXPLANATIONS: dict[Code, str] = {
    Code.WRONG_VAULT: "The request is for a vault this policy does not cover.",
    Code.POLICY_MISMATCH: "The host built the request against a different vault definition than the one "
    "sealed here (an old or altered policy on one side).",
    Code.CLOCK_ROLLBACK: "The station's clock reads earlier than its last log entry: the clock was set back.",
    Code.NOT_YET_VALID: "The request was created in the future by more than the allowed clock skew.",
    Code.EXPIRED: "The request has expired; the host must build a new one.",
    Code.LIFETIME: "The request is valid for longer than the policy allows a request to live.",
    Code.HISTORY_INVALID: "The vault history the request carries is not sound: it names another vault, "
    "or a signature in it does not verify.",
    Code.HISTORY_INCOMPLETE: "The vault history the request carries leaves out a request this station "
    "signed; without it the vault's limits cannot be counted. The host must include it.",
    Code.REPLAY: "This request id was already approved (here or elsewhere in the vault); a request is signed "
    "at most once.",
    Code.WRONG_ASSET: "The request moves a different asset than the vault holds.",
    Code.DESTINATION: "The destination is not on the vault's allowlist.",
    Code.MIN_AMOUNT: "The amount is below the vault's minimum withdrawal.",
    Code.PER_SPEND: "The amount is larger than the per-spend maximum.",
    Code.WINDOW: "This amount would take the rolling-window total over its maximum.",
    Code.WINDOW_COUNT: "The rolling window already holds as many withdrawals as the vault allows.",
    Code.COOLDOWN: "Too little time has passed since the vault's last action.",
    Code.ANNOUNCE_REQUIRED: "This vault withdraws in two phases: announce, then execute after the delay.",
    Code.NO_ANNOUNCE_PHASE: "This vault has no announce delay; use a plain withdrawal.",
    Code.UNKNOWN_ANNOUNCEMENT: "No announcement with this id is in the request's history or this "
    "station's log.",
    Code.ANNOUNCEMENT_UNSIGNED: "The announcement does not carry a quorum of valid signatures in the "
    "history.",
    Code.ANNOUNCEMENT_MISMATCH: "The execution does not repeat the announced asset, amount and destination.",
    Code.ANNOUNCEMENT_CLOSED: "The announcement was already executed or cancelled, or an execution or "
    "cancellation of it was signed.",
    Code.TOO_EARLY: "The announce-to-execute delay has not passed yet.",
    Code.ANNOUNCEMENT_EXPIRED: "The announcement expired before it was executed; announce again.",
    Code.REKEY_DELAY: "The rekey delay since the vault's last action has not passed yet.",
    Code.LOCK_RATCHET: "The lock level only goes up: the new threshold must exceed the current one, "
    "and fit the key set. Lower it only by a rekey.",
    Code.FEE: "The fee is above the vault's cap.",
    Code.PAYLOAD_INVALID: "The chain spend is missing, malformed, or not a spend of this vault.",
    Code.PAYLOAD_MISMATCH: "The chain spend does not do what the request says.",
    Code.UNACCOUNTED: "Some of the spent value leaves without a visible output (an implicit fee).",
    Code.SIDE_EFFECTS: "The chain spend does more than this request may: other assets, drop coins, offers, "
    "issuances, or coins the vault does not authorise.",
    Code.CUSTODY: "The spend changes the vault's custody (or melts the vault) other than the request says.",
    Code.CLAWBACK: "The payment's clawback is not the vault's, or expires before the vault's announce delay.",
    Code.RECOVERY_PATH: "A rekey by fewer signers than the threshold needs a chain that holds its delay and "
    "lets the quorum cancel it: this vault has no recovery path for that many initiators.",
    Code.WRONG_CHAIN: "The transaction is for another chain or another Safe than this vault's.",
    Code.UNEXPLAINED: "The transaction makes a call the station cannot explain, or one that hands over "
    "assets (approve, unknown calldata, an unmapped call of the Safe to itself): no blind signing.",
    Code.DELEGATECALL: "The transaction DELEGATECALLs (runs another contract's code as the Safe: the Bybit "
    "2025 pattern). Only the vault's allowlisted MultiSendCallOnly may be, and its calls are each checked.",
    Code.GAS_REFUND: "The transaction pays a gas refund out of the vault (gas price, base gas, gas token, "
    "refund receiver or Safe gas set): the vault pays no one for executing it.",
    Code.FOREIGN_INPUT: "An input is not locked by the vault's own witness script: the station signs only "
    "the vault's coins.",
    Code.INPUT_UNPROVEN: "An input's amount is not proven by its whole previous transaction (missing, or a "
    "witness_utxo that disagrees with it): a lied amount hides a huge fee (the segwit fee attack).",
    Code.SIGHASH: "An input asks for a signature type other than SIGHASH_ALL: the signature would not cover "
    "every input and output, so others could be changed after signing.",
    Code.NONCE: "The nonce is not the vault's next one: it would reuse a nonce already signed, or skip one.",
}
