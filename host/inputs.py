"""Reading the small files operators hand the host (records, vaults, bundles) without trusting their size."""

from __future__ import annotations

from custody.errors import SchemaError
from host.errors import UsageError

MAX_FILE = 1024 * 1024


def read_small(path: str, what: str, limit: int = MAX_FILE) -> bytes:
    """At most ``limit`` bytes are read: a file larger than any message is refused, not loaded."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read the {what} file {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise SchemaError(f"{path}: larger than any {what} ({limit} bytes)")
    return data
