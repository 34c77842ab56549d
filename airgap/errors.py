"""One exception base for the link, so callers can fail closed with a single except clause.

Every error carries a human message fit to show an operator; none of them is
ever allowed to surface as a traceback from the command line.
"""

from __future__ import annotations


class AirgapError(Exception):
    """Base of every error raised by the ``airgap`` package."""


class DecodeError(AirgapError):
    """Input on the link was malformed: not a UR, bad bytewords, bad CBOR."""


class ChecksumError(DecodeError):
    """A CRC32 did not match: the text was mistyped, damaged or tampered with."""


class PartMismatchError(DecodeError):
    """A part's headers contradict themselves or the message being assembled."""


class LimitExceededError(DecodeError):
    """Input claimed more than the configured caps allow; nothing was allocated for it."""


class IncompleteError(DecodeError):
    """The input ended before a whole message was received."""


class SourceError(AirgapError):
    """A frame source (camera, video, folder) could not be opened or read."""


class RenderError(AirgapError):
    """A frame could not be rendered or written to its sink."""


class SandboxError(AirgapError):
    """The QR decoder could not be confined (no seccomp, no privilege drop): it must not run."""
