"""What every fuzz target shares: the project's own error types, the invariant's failure, and the
fixed context (a station's installed policy, a request) that chain payloads are judged against.

The invariant (docs/fuzzing.md): an input is accepted, or refused with one of
``REFUSALS``. Anything else raised escapes the target and libFuzzer records
the input as a crash; so does a re-encode mismatch, raised as ``Violation``,
which is deliberately not a project error.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

from airgap.errors import AirgapError
from appliance.errors import ApplianceError
from appliance.review import review_lines
from custody.chains import facts_for
from custody.errors import CustodyError
from custody.policy.engine import decide
from custody.policy.vault_state import VaultState
from custody.schemas.request import SpendRequest
from custody.schemas.vault import StationPolicy
from host.errors import HostError

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fuzz_corpus"
#: Not fuzzed: the setting a target judges in, ``<name>-policy.cbor`` and ``<name>-request.cbor``.
CONTEXT = CORPUS / "_context"

#: The project's own error types: the only ways an input may be refused.
REFUSALS: tuple[type[Exception], ...] = (CustodyError, AirgapError, ApplianceError, HostError)


class Violation(AssertionError):
    """An accepted input broke a property that must hold (it re-encodes differently, say)."""


def require(condition: bool, what: str) -> None:
    """Raise Violation unless ``condition``: checked on accepted inputs only."""
    if not condition:
        raise Violation(what)


def text_of(data: bytes) -> str:
    """Fuzz bytes as the text a camera or a file would hand over: UTF-8 where it decodes, else each
    byte as one Latin-1 character, so mutations reach both non-ASCII text and every code unit."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


@cache
def policy(name: str) -> StationPolicy:
    """The station policy ``name`` (statement, chia, evm, bitcoin) the station has installed."""
    return StationPolicy.from_cbor((CONTEXT / f"{name}-policy.cbor").read_bytes())


@cache
def template(name: str) -> SpendRequest:
    """A valid request of that vault; chain targets put the fuzzed payload in its place."""
    return SpendRequest.from_cbor((CONTEXT / f"{name}-request.cbor").read_bytes())


def station_state(request: SpendRequest) -> VaultState:
    """The vault's state at a station that installed it a day before the request was made."""
    return VaultState(vault_id=request.vault_id, installed_at=request.created_at - 86400)


def station_now(request: SpendRequest) -> int:
    return request.created_at + 60


def judge(installed: StationPolicy, request: SpendRequest) -> None:
    """What the station does with a request it parsed: derive the chain facts (a project error
    refuses), then decide and draw the review, neither of which may raise on what was accepted."""
    try:
        facts = facts_for(installed.vault, request)
    except REFUSALS:
        return
    now = station_now(request)
    verdict = decide(installed.vault, station_state(request), request, now, facts)
    lines = review_lines("station-1", installed, request, verdict.checks, verdict, now, facts)
    require(bool(lines), "the review has no lines")


def with_payload(name: str, payload: bytes) -> SpendRequest:
    """The template request carrying ``payload`` (raises SchemaError past the payload cap)."""
    return replace(template(name), payload=payload)
