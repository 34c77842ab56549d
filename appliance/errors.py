"""One exception base for the station, with an exit code per failure an operator must tell apart."""

from __future__ import annotations


class ApplianceError(Exception):
    """Base of every error raised by the ``appliance`` package."""

    exit_code = 1


class UsageError(ApplianceError):
    """The command was given something it cannot use (a bad URI, a missing file)."""

    exit_code = 2


class HsmError(ApplianceError):
    """Something about the HSM; the subclasses say what."""

    exit_code = 10


class ModuleMissingError(HsmError):
    exit_code = 11


class TokenMissingError(HsmError):
    exit_code = 12


class KeyMissingError(HsmError):
    exit_code = 13


class MechanismUnsupportedError(HsmError):
    exit_code = 14


class PinIncorrectError(HsmError):
    exit_code = 15


class PinLockedError(HsmError):
    exit_code = 16


class TokenRemovedError(HsmError):
    exit_code = 17


class KeyPolicyError(HsmError):
    """A key's attributes do not prove it was born in the HSM and can never leave it."""

    exit_code = 18


class SignatureCheckError(HsmError):
    """The HSM returned a signature that does not verify; it is not released."""

    exit_code = 19


class CardError(ApplianceError):
    """Custodian cards: unreadable, wrong, foreign, or too few."""

    exit_code = 20


class NotEnoughCardsError(CardError):
    exit_code = 21


class StationStateError(ApplianceError):
    """The station's stored state is missing or inconsistent."""

    exit_code = 30


class DeclinedError(ApplianceError):
    """The custodians said no after the review."""

    exit_code = 22
