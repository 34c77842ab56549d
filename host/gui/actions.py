"""The window's glue to the host commands: balances, pending requests, show, scan, finalize, verify.

No Qt here. Each action runs the same code path as its command (``cmd_finalize``,
``cmd_verify``, ``cmd_vault_balance``, ``take_answer``) against the window's one
registry, and comes back as an ``Outcome``: whether it held, and the command's
own lines. The window shows them; ``--script`` prints them. Errors the operator
can act on become an outcome with their sentence, never a traceback.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from airgap.errors import DecodeError
from airgap.qr.decode import Quad, located_payloads
from airgap.ur.ur import UR, Progress, URDecoder
from custody.schemas.request import UR_TYPE as REQUEST_UR_TYPE
from custody.schemas.response import REFUSAL_UR_TYPE, RESPONSE_UR_TYPE
from custody.schemas.vault import VaultDefinition
from host.bundles import describe
from host.collect import Judgement
from host.commands.collecting import ANSWER_LIMITS, progress, take_answer
from host.context import Context
from host.failures import failure

Image = npt.NDArray[np.uint8]
ANSWER_TYPES = frozenset({RESPONSE_UR_TYPE, REFUSAL_UR_TYPE})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action came to: ``ok`` as its command's exit code would say, and the lines to show."""

    ok: bool
    lines: tuple[str, ...]
    headline: str
    #: What a transcript prints (``--script``): the headline, after each answer for a scan.
    report: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, ok: bool, lines: list[str], headline: str | None = None, report: list[str] | None = None
    ) -> Outcome:
        head = headline if headline is not None else (lines[0] if lines else "")
        return cls(ok, tuple(lines), head, tuple(report) if report is not None else (head,))


def run_command(ctx: Context, command: Callable[[Context], int], **args: Any) -> tuple[Outcome, str]:
    """``command`` with the window's arguments overridden by ``args``, on the window's own registry
    (one connection, so a scan's answers are seen by finalize at once): its outcome, with the lines it
    said, and what it wrote on stdout (its JSON, with ``json=True``)."""
    out, err = io.StringIO(), io.StringIO()
    sub = Context(argparse.Namespace(**{**vars(ctx.args), **args}), out, err, ctx.clock)
    sub._registry = ctx.registry  # shared, and closed by the window's own context, not this one
    said = err if sub.json else out
    try:
        code = command(sub)
    except Exception as exc:
        known = failure(exc)
        if known is None:
            raise
        text = f"FAILED: {known[1]}"
        return Outcome.of(False, [text, *said.getvalue().splitlines()], text), out.getvalue()
    return Outcome.of(code == 0, said.getvalue().splitlines()), out.getvalue()


# the requests screen


@dataclass(frozen=True, slots=True)
class VaultLine:
    vault_id: str
    quorum: str
    chain: str
    balance: Outcome


def vaults(ctx: Context) -> list[VaultLine]:
    """Every vault's current generation, with its balance read from its chain where it has one."""
    from host.commands.vault_chain import chain_lines

    lines = []
    for vault_id in ctx.registry.vault_ids():
        row = ctx.registry.vault(vault_id)
        if row is None:
            continue
        d = row.definition
        quorum = f"{d.threshold} of {len(d.keys)}, generation {d.generation}"
        lines.append(VaultLine(vault_id, quorum, chain_lines(d)[0][1], balance(ctx, d)))
    return lines


def balance(ctx: Context, vault: VaultDefinition) -> Outcome:
    """What ``host vault balance --json`` reads, as one amount; the reason when it cannot be read."""
    if vault.chain is None:
        return Outcome.of(False, ["no chain backend"])
    from host.commands.chain import cmd_vault_balance

    try:
        result, data = run_command(ctx, cmd_vault_balance, vault_id=vault.vault_id, address=None, json=True)
    except Exception as exc:  # a chain library's own error: the list must still open, and say why
        return Outcome.of(False, [f"FAILED: {type(exc).__name__}: {exc}"])
    if not result.ok:
        return result
    try:
        total = int(json.loads(data)["balance"])
    except (ValueError, KeyError, TypeError):
        return Outcome.of(False, ["FAILED: the chain's answer had no balance"])
    return Outcome.of(True, [vault.asset.format(total)])


@dataclass(frozen=True, slots=True)
class RequestLine:
    """A request as the list shows it: each of its vault's stations signed, refused or not yet."""

    request_id: str
    vault_id: str
    summary: str
    signatures: str
    state: str
    stations: tuple[tuple[str, str], ...]


def request_lines(ctx: Context, keep: str | None = None) -> list[RequestLine]:
    """Every request still open or finalized and not yet expired, and ``keep`` (an id) whatever its
    state: the ones an operator can still act on."""
    now, lines = ctx.clock(), []
    for row in ctx.registry.requests():
        rid = row.request.request_id.hex()
        if row.request.expires_at < now and row.finalized_at is None and rid != keep:
            continue
        p = progress(ctx.registry, row)
        stations = []
        for station in sorted({*p["signed_by"], *p["not_signed"], *p["refused_by"]}):
            if station in p["signed_by"]:
                stations.append((station, "signed"))
            elif station in p["refused_by"]:
                stations.append((station, f"refused ({p['refused_by'][station]})"))
            else:
                stations.append((station, "not yet"))
        if p["finalized"]:
            state = "finalized"
        elif row.request.expires_at < now:
            state = "expired"
        elif p["still_needed"]:
            state = f"{p['still_needed']} more needed"
        else:
            state = "ready to finalize"
        signatures = f"{len(p['signed_by'])} of {p['needed']}"
        lines.append(RequestLine(rid, p["vault_id"], p["summary"], signatures, state, tuple(stations)))
    return lines


# show


@dataclass(frozen=True, slots=True)
class Shown:
    """A request as the show screen presents it; ``lines`` are what ``host show`` prints about it."""

    request_id: str
    ur: UR
    summary: str
    digest: str
    lines: tuple[str, ...]


def request_message(ctx: Context, request_id: str) -> Shown:
    """The request's UR, what it does, and its digest (the station's review screen shows the same)."""
    row = ctx.registry.find_request(request_id)
    request = row.request
    vault = ctx.registry.vault(request.vault_id, row.generation)
    summary = describe(request.action, vault.definition) if vault else request.action.kind.value
    lines = (
        f"request {request.request_id.hex()}: {summary}",
        f"  digest {request.digest().hex()}  (the station's review screen shows the same)",
    )
    ur = UR(REQUEST_UR_TYPE, request.to_cbor())
    return Shown(request.request_id.hex(), ur, summary, request.digest().hex(), lines)


# scan


def scan_answers(
    ctx: Context,
    spec: str,
    *,
    in_process: bool,
    idle_timeout: float | None,
    on_frame: Callable[[Image, list[Quad]], None],
    on_progress: Callable[[Progress], None],
    stopped: Callable[[], bool],
) -> Iterator[Judgement]:
    """Each answer read from ``spec``, judged and stored as ``host collect`` does; every frame goes
    to ``on_frame`` with where its codes were found, and reading ends when ``stopped()`` says so."""
    from airgap.camera.frames import open_source
    from airgap.scan import messages

    registry, now = ctx.registry, ctx.clock()
    with ExitStack() as stack:
        source = open_source(spec)
        stack.callback(source.close)
        locate: Callable[[Image], tuple[list[str], list[Quad]]] = located_payloads
        if not in_process:
            from airgap.qr.isolated import IsolatedDecoder

            locate = stack.enter_context(IsolatedDecoder()).located

        def decode(image: Image) -> list[str]:
            try:
                texts, quads = locate(image)
            except DecodeError:
                on_frame(image, [])
                raise
            on_frame(image, quads)
            return texts

        frames = itertools.takewhile(lambda _: not stopped(), source.frames())
        for item in messages(
            frames,
            lambda: URDecoder(limits=ANSWER_LIMITS, expected_types=ANSWER_TYPES),
            decode_image=decode,
            idle_timeout=idle_timeout,
            on_progress=on_progress,
        ):
            yield take_answer(registry, item, None, now)


def scan_summary(ctx: Context, judgements: list[Judgement]) -> list[str]:
    """What a sitting came to, counted by status, then each request it touched as ``collect`` says it."""
    from host.commands.collecting import progress_lines

    if not judgements:
        return ["nothing was read: no signature response or refusal completed in the frames given"]
    counts: dict[str, int] = {}
    for j in judgements:
        counts[j.status.value] = counts.get(j.status.value, 0) + 1
    lines = [f"{len(judgements)} answer(s): " + ", ".join(f"{n} {s}" for s, n in counts.items())]
    now = ctx.clock()
    for request_id in dict.fromkeys(j.request_id for j in judgements if j.request_id is not None):
        row = ctx.registry.request(request_id)
        if row is not None:
            lines += progress_lines(progress(ctx.registry, row), now)
    return lines


# finalize and verify


def bundle_path(out_dir: Path, request_id: str) -> Path:
    return out_dir / f"bundle-{request_id[:8]}.cbor"


def finalize(ctx: Context, request_id: str, out_dir: Path) -> Outcome:
    """``host finalize REQUEST --out DIR/bundle-ID.cbor``, its readable copy beside it."""
    from host.commands.collecting import cmd_finalize

    out = bundle_path(out_dir, request_id)
    result, _ = run_command(
        ctx, cmd_finalize, request=request_id, out=str(out), json_out=None, spend_bundle=None
    )
    written = [line for line in result.lines if line.startswith("bundle for request")]
    return Outcome.of(result.ok, list(result.lines), written[0] if result.ok and written else result.headline)


def verify(ctx: Context, request_id: str) -> Outcome:
    """``host verify`` of the request's finalized bundle against the vault generation it was built
    for, both as the registry holds them: what anyone given the two files would see."""
    from host.commands.checking import cmd_verify

    try:
        row = ctx.registry.find_request(request_id)
    except Exception as exc:
        known = failure(exc)
        if known is None:
            raise
        return Outcome.of(False, [f"FAILED: {known[1]}"])
    if row.bundle is None:
        text = f"FAILED: request {request_id[:8]} is not finalized: nothing to verify yet (finalize it first)"
        return Outcome.of(False, [text])
    vault = ctx.registry.vault(row.request.vault_id, row.generation)
    assert vault is not None  # a request row always names a stored generation (foreign key)
    with tempfile.TemporaryDirectory(prefix="host-gui-verify-") as folder:
        vault_file, bundle_file = Path(folder) / "vault.cbor", Path(folder) / "bundle.cbor"
        vault_file.write_bytes(vault.definition.to_cbor())
        bundle_file.write_bytes(row.bundle)
        result, _ = run_command(
            ctx,
            cmd_verify,
            vault=str(vault_file),
            bundle=str(bundle_file),
            expect_digest=None,
            commitment=None,
            salt=None,
            at=None,
            json=False,
        )
    if result.ok:
        return result
    headline = None
    if result.headline.startswith("INVALID"):
        reasons = itertools.takewhile(lambda line: not line.startswith("  vault "), result.lines[1:])
        headline = "; ".join([result.headline, *(line.strip() for line in reasons)])
    return Outcome.of(False, list(result.lines), headline)
