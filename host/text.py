"""Small renderings shared by the commands: key ids for reading aloud, and times."""

from __future__ import annotations

import datetime as dt

from custody.schemas.policy_toml import format_duration


def grouped(key_id: bytes) -> str:
    """A key id as eight groups of eight hex digits: easy to compare aloud with the station's screen."""
    text = key_id.hex()
    return " ".join(text[i : i + 8] for i in range(0, len(text), 8))


def when(at: int) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def relative(at: int, now: int) -> str:
    return f"in {format_duration(at - now)}" if at >= now else f"{format_duration(now - at)} ago"
