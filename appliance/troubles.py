"""What a station fault means and what the custodians should do about it, in words.

A refusal's code says what happened; people at a station also need to know
whether to retry, fetch someone or stop. Pure: the terminal and the window
both draw these.
"""

from __future__ import annotations

from dataclasses import dataclass

from airgap.errors import AirgapError, SourceError
from appliance import errors
from appliance.seal import LogRollbackError


@dataclass(frozen=True, slots=True)
class Trouble:
    title: str
    meaning: str
    action: str
    detail: str


_TABLE: tuple[tuple[type[Exception], str, str, str], ...] = (
    (
        errors.ModuleMissingError,
        "HSM software missing",
        "The PKCS#11 module this station was set up with cannot be loaded.",
        "Check the HSM's driver is installed at the path in the station's token URI; nothing was signed.",
    ),
    (
        errors.TokenMissingError,
        "HSM not found",
        "No token with this station's label and serial is present.",
        "Connect this station's own HSM and scan the request again; another HSM is never used.",
    ),
    (
        errors.TokenRemovedError,
        "HSM removed",
        "The HSM went away during the ceremony.",
        "Reconnect it and scan the request again: the log shows what was completed.",
    ),
    (
        errors.PinLockedError,
        "HSM PIN locked",
        "The HSM refuses every login after too many wrong PINs.",
        "Stop. Unlocking needs the security officer's cards (appliance cards rotate); record the incident.",
    ),
    (
        errors.PinIncorrectError,
        "HSM refused the PIN",
        "The cards were accepted but the HSM did not take the PIN they make: the cards and the token "
        "no longer belong together.",
        "Stop before the PIN locks: check this is the station's own HSM and its current card set.",
    ),
    (
        errors.KeyMissingError,
        "Station key missing",
        "The key the vault's policy names is not on this HSM.",
        "Check the HSM is this station's; re-enrolling a key is a rekey of the vault, not a fix here.",
    ),
    (
        errors.KeyPolicyError,
        "Key attributes wrong",
        "A key's attributes do not prove it was made in the HSM and can never leave it.",
        "Do not sign with this token. Run 'appliance selftest' and call the key ceremony's officers.",
    ),
    (
        errors.SignatureCheckError,
        "HSM signature did not verify",
        "The HSM returned a signature that does not check; it was not released.",
        "Run 'appliance selftest'. A faulty or tampered HSM must be replaced.",
    ),
    (
        errors.MechanismUnsupportedError,
        "HSM cannot sign this",
        "The HSM does not offer the signing mechanism this key needs.",
        "Use an HSM model the station supports (docs/hsm.md).",
    ),
    (
        LogRollbackError,
        "Audit log rolled back",
        "The audit database is not the one the HSM sealed: an older copy was restored, or it was rewritten.",
        "Stop. Nothing is signed until the sealed log is restored; report it, with 'appliance audit verify'.",
    ),
    (
        errors.CardError,
        "Cards refused",
        "A card was wrong, foreign, retired, mistyped or missing; the HSM was not touched.",
        "Present this station's current cards, by number; a refused card is named.",
    ),
    (
        errors.StationStateError,
        "Station state damaged",
        "The station's own files are missing or do not agree with each other.",
        "Stop and compare with the last audit export; do not edit them by hand.",
    ),
    (
        errors.HsmError,
        "HSM failed",
        "The HSM reported an error; nothing was signed.",
        "Scan the request again; if it repeats, run 'appliance selftest'.",
    ),
    (
        SourceError,
        "Camera unavailable",
        "The camera or frame source cannot be opened or read.",
        "Check the camera is connected and named correctly (--source).",
    ),
    (
        AirgapError,
        "Input not usable",
        "What was scanned or shown cannot be used.",
        "Scan again from the host's screen.",
    ),
)


def explain(error: Exception) -> Trouble:
    """The most specific entry for ``error``; any other error still gets words, never a traceback."""
    for kind, title, meaning, action in _TABLE:
        if isinstance(error, kind):
            return Trouble(title, meaning, action, str(error)[:300])
    return Trouble(
        "Station error",
        "The station met an error it has no specific advice for; nothing was signed.",
        "Note the detail below and stop the sitting.",
        f"{type(error).__name__}: {str(error)[:300]}",
    )
