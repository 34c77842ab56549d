"""What an error a command raises means to the operator: its exit code and its sentence.

One mapping for the command line and the window, so a failure reads the same
in both and neither shows a traceback for something the operator can act on.
"""

from __future__ import annotations

from airgap.errors import AirgapError, IncompleteError, RenderError, SourceError
from airgap.window.app import DisplayError
from custody.errors import CustodyError
from host.errors import HostError


def failure(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and message for an error the operator can act on; None for anything else (a bug)."""
    if isinstance(exc, HostError):
        return exc.exit_code, str(exc)
    if isinstance(exc, IncompleteError):
        return 3, str(exc)
    if isinstance(exc, SourceError | RenderError | DisplayError):
        return 4, str(exc)
    if isinstance(exc, AirgapError | CustodyError):
        return 1, str(exc)
    if isinstance(exc, OSError):
        return 4, f"{exc.strerror or exc}: {exc.filename or ''}"
    return None
