"""Text as custodians read it aloud: long identifiers in groups of four."""

from __future__ import annotations

import re

#: An address, key id or digest: a run of 20+ letters and digits with at least one digit in it.
_IDENTIFIER = re.compile(r"\b(0x)?((?=[0-9A-Za-z]*[0-9])[0-9A-Za-z]{20,})\b")


def grouped(line: str, size: int = 4) -> str:
    """``line`` with each long identifier split into groups of ``size`` (a 0x prefix kept apart)."""

    def split(match: re.Match[str]) -> str:
        prefix, body = match.group(1) or "", match.group(2)
        groups = " ".join(body[i : i + size] for i in range(0, len(body), size))
        return f"{prefix} {groups}" if prefix else groups

    return _IDENTIFIER.sub(split, line)
