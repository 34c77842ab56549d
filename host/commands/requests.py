"""``host request withdraw | announce | execute | cancel | rekey | raise-lock`` and ``host show``.

A request is checked against the vault's policy, per station, as the host
knows each station's state (``host.timeline``), before it is stored or
shown: a request no quorum would sign is refused here, with each station's
reason, instead of being walked into the vault room.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from airgap.errors import RenderError
from airgap.ur.ur import UR
from custody.chains import facts_for
from custody.errors import CustodyError
from custody.policy.engine import CLOCK_SKEW_SECONDS
from custody.schemas.chain_bitcoin import BitcoinBinding
from custody.schemas.chain_evm import EvmBinding
from custody.schemas.policy_toml import format_duration, parse_duration
from custody.schemas.request import (
    REQUEST_ID_LEN,
    Action,
    Announce,
    Cancel,
    Execute,
    RaiseLock,
    Rekey,
    SlowRekey,
    SpendRequest,
    Withdraw,
)
from custody.schemas.request import UR_TYPE as REQUEST_UR_TYPE
from custody.schemas.vault import VaultDefinition
from host.amounts import parse_amount
from host.bundles import describe, request_json
from host.commands.setup import vault_keys
from host.context import Context
from host.errors import LocalRefusal, UsageError
from host.history import history_for
from host.registry import RequestRow, VaultRow
from host.text import relative, when
from host.timeline import preflight


def _current(ctx: Context, vault_id: str) -> VaultRow:
    row = ctx.registry.vault(vault_id)
    if row is None:
        raise UsageError(f"no vault {vault_id!r} in the registry")
    return row


def _announcement(ctx: Context, text: str, *, rekey: bool = False) -> tuple[RequestRow, Announce | SlowRekey]:
    """The announcement (or, to cancel, the slow rekey) a request names."""
    row = ctx.registry.find_request(text)
    kinds = (Announce, SlowRekey) if rekey else (Announce,)
    if not isinstance(row.request.action, kinds):
        what = "an announcement or a slow rekey" if rekey else "an announcement"
        raise UsageError(f"request {text} is a {row.request.action.kind.value}, not {what}")
    return row, row.request.action


def slow_rekeys(ctx: Context, vault_id: str) -> list[SpendRequest]:
    """The vault's finalized slow rekeys: the custodies its coin may be held under."""
    return [
        r.request
        for r in ctx.registry.requests(vault_id)
        if r.finalized_at is not None and isinstance(r.request.action, SlowRekey)
    ]


def _action(ctx: Context, kind: str) -> tuple[str, Action]:
    a = ctx.args
    if kind in ("withdraw", "announce"):
        vault = _current(ctx, a.vault_id).definition
        asset = vault.asset
        if a.token is not None:
            limits = vault.limits(a.token) if a.token != vault.asset.code else None
            if limits is None:
                raise UsageError(f"--token {a.token}: vault {a.vault_id!r} lists no such token")
            asset = limits.asset
        amount = parse_amount(a.amount, asset)
        cls = Withdraw if kind == "withdraw" else Announce
        return a.vault_id, cls(asset=asset.code, amount=amount, destination=a.to)
    if kind in ("execute", "cancel"):
        row, ann = _announcement(ctx, a.announce_id, rekey=kind == "cancel")
        if row.finalized_at is None:
            raise UsageError(
                f"{ann.kind.value} {a.announce_id} was never finalized: it has too few signatures, so "
                "there is nothing to execute or cancel"
            )
        if kind == "cancel":
            return row.request.vault_id, Cancel(announce_id=row.request.request_id)
        assert isinstance(ann, Announce)
        return row.request.vault_id, Execute(
            announce_id=row.request.request_id,
            asset=ann.asset,
            amount=ann.amount,
            destination=ann.destination,
        )
    vault = _current(ctx, a.vault_id).definition
    if isinstance(vault.chain, BitcoinBinding):
        raise UsageError(
            f"a {kind} of a Bitcoin vault is a new address: define the new vault (host vault create), "
            "then withdraw this one's coins to it"
        )
    keys = vault_keys(ctx, a.station, a.vault_id) if kind in ("rekey", "slow-rekey") else vault.keys
    if kind != "raise-lock" and not 1 <= a.threshold <= len(keys):
        raise UsageError(f"--threshold must be between 1 and {len(keys)}")
    if a.threshold <= len(keys):  # (a raise beyond the keys is the stations' ratchet refusal)
        try:  # the vault it would make must itself be valid, on its chain too
            replace(vault, generation=vault.generation + 1, keys=keys, threshold=a.threshold)
        except CustodyError as exc:
            raise UsageError(f"the vault after this change would not be valid: {exc}") from None
    if kind == "slow-rekey":
        return a.vault_id, SlowRekey(keys=keys, threshold=a.threshold, initiators=a.initiators)
    if kind == "rekey":
        return a.vault_id, Rekey(keys=keys, threshold=a.threshold)
    return a.vault_id, RaiseLock(threshold=a.threshold)


def _lifetime(ctx: Context, limit: int) -> int:
    if ctx.args.expires_in is None:
        return limit
    try:
        life = parse_duration(ctx.args.expires_in)
    except ValueError as exc:
        raise UsageError(f"--expires-in: {exc}") from None
    if not 0 < life <= limit:
        raise UsageError(f"--expires-in must be positive and at most the vault's {format_duration(limit)}")
    return life


def _included(ctx: Context, vault_id: str) -> frozenset[bytes]:
    """Requests the operator adds to the history: ones a station signed but whose answer never came back."""
    found = set()
    for text in ctx.args.include or ():
        row = ctx.registry.find_request(text)
        if row.request.vault_id != vault_id:
            raise UsageError(f"--include {text}: that request is for vault {row.request.vault_id!r}")
        found.add(row.request.request_id)
    return frozenset(found)


Payload = tuple[bytes, int, frozenset[bytes], int]  # payload, sequence, history ids, fee


def _payload(
    ctx: Context, generations: list[VaultDefinition], action: Action, fee: int, expires: int, now: int
) -> Payload:
    """The chain's unsigned spend for ``action``, built from what the chain holds now, its sequence
    (a Safe's nonce), and the requests the history must carry for it; none for a statement vault."""
    vault = generations[-1]
    if vault.chain is None:
        if fee:
            raise UsageError("a statement vault pays no chain fee: drop --fee")
        return b"", 0, frozenset(), fee
    if isinstance(vault.chain, EvmBinding):
        return _safe_payload(ctx, vault, action, fee)
    if isinstance(vault.chain, BitcoinBinding):
        return _bitcoin_payload(ctx, vault, action, fee)
    from host.chain.spends import payload_for
    from host.commands.chain import backend_for

    target = None
    if isinstance(action, Cancel):
        row = ctx.registry.request(action.announce_id)
        assert row is not None  # _action found it
        target = row.request
    backend = backend_for(ctx, vault)
    slow = slow_rekeys(ctx, vault.vault_id)
    return payload_for(backend, generations, action, fee, expires, now, target, slow), 0, frozenset(), fee


def _safe_payload(ctx: Context, vault: VaultDefinition, action: Action, fee: int) -> Payload:
    """A SafeTx at the vault's next nonce; the request at the nonce before goes into the history, so
    the stations see there is no gap."""
    from custody.chains import adapter_for
    from host.commands.evm import next_nonce, read_for_request, safe_tx_for

    assert vault.chain is not None
    if not adapter_for(vault.chain).needs_payload(action):
        if fee:
            raise UsageError(f"a {action.kind.value} on a Safe is a statement: it pays no fee")
        return b"", 0, frozenset(), fee
    nonce, before = next_nonce(ctx.registry, vault)
    state = read_for_request(ctx, vault, nonce)
    payload = safe_tx_for(vault, action, fee, nonce, state).to_payload()
    return payload, nonce, frozenset({before} if before is not None else ()), fee


def _bitcoin_payload(ctx: Context, vault: VaultDefinition, action: Action, fee: int) -> Payload:
    """A PSBT from the vault's coins at the node (or another coordinator's); its fee is the request's."""
    from custody.chains import adapter_for
    from host.commands.bitcoin import psbt_for

    assert vault.chain is not None
    if fee:
        raise UsageError("a Bitcoin request's fee is the PSBT's: give --fee-rate instead of --fee")
    if not adapter_for(vault.chain).needs_payload(action):
        return b"", 0, frozenset(), 0
    psbt, fee = psbt_for(ctx, vault, action)
    return psbt, 0, frozenset(), fee


def cmd_request(ctx: Context) -> int:
    kind = ctx.args.kind
    vault_id, action = _action(ctx, kind)
    row = _current(ctx, vault_id)
    vault = row.definition
    now = ctx.clock()
    generations = ctx.registry.vault_generations(vault_id)
    rows = ctx.registry.requests_with_responses(vault_id)
    created = now - CLOCK_SKEW_SECONDS // 5  # a station clock a minute behind still sees it as created
    expires = created + _lifetime(ctx, vault.rules.max_request_lifetime_seconds)
    fee = parse_amount(getattr(ctx.args, "fee", None) or "0", vault.asset, zero=True)
    payload, sequence, needed, fee = _payload(
        ctx, [g.definition for g in generations], action, fee, expires, now
    )
    request = SpendRequest(
        request_id=os.urandom(REQUEST_ID_LEN),
        vault_id=vault_id,
        policy_digest=vault.digest(),
        created_at=created,
        expires_at=expires,
        action=action,
        history=history_for(generations, rows, action, now, _included(ctx, vault_id) | needed),
        fee=fee,
        payload=payload,
        sequence=sequence,
    )
    try:
        facts = facts_for(vault, request)
    except CustodyError as exc:  # the stations would refuse it as unreadable: never show it to them
        raise LocalRefusal(f"not built: the chain spend does not parse as this vault's: {exc}") from None
    outlook = preflight(generations, rows, request, now, facts)
    refusing = [o for o in outlook.outlooks if o.refuses]
    if not outlook.ok:
        by_reason: dict[str, list[str]] = {}
        for o in refusing:
            by_reason.setdefault(o.reason, []).append(o.station)
        lines = [f"{', '.join(names)}: {reason}" for reason, names in by_reason.items()]
        raise LocalRefusal(
            f"not built: the vault's policy would refuse this {kind} at {len(refusing)} of "
            f"{len(outlook.outlooks)} stations, leaving {outlook.willing} of the {outlook.needed} needed.\n  "
            + "\n  ".join(lines)
        )
    ctx.registry.add_request(request, vault.generation)
    ctx.data(
        {
            **request_json(request),
            "needed": outlook.needed,
            "stations": [
                {"station": o.station, "refuses": o.refuses, "reason": o.reason} for o in outlook.outlooks
            ],
            "history": len(request.history),
        }
    )
    ctx.say(f"request {request.request_id.hex()}  ({kind})")
    ctx.say(f"  {describe(action, vault)}")
    ctx.say(f"  vault {vault_id} generation {vault.generation}; {outlook.needed} signature(s) needed")
    if isinstance(action, SlowRekey) and vault.chain is not None:
        from custody.chains.chia.recovery import vault_custody
        from custody.schemas.policy_toml import format_duration as fmt

        wait = fmt(vault_custody(vault).delay(action.initiators))
        ctx.say(f"  the chain holds it {wait} once submitted; the main quorum can cancel it meanwhile")
    ctx.say(f"  digest  {request.digest().hex()}")
    ctx.say(f"  expires {when(request.expires_at)} ({relative(request.expires_at, now)})")
    ctx.say(f"  history {len(request.history)} earlier request(s) of the vault, for the stations to count")
    for o in outlook.outlooks:
        if o.refuses:
            ctx.say(f"  will refuse: {o.station}: {o.reason}")
    ctx.say(f"next: host show {request.request_id.hex()[:8]}, and take it to the stations")
    return 0


def cmd_show(ctx: Context) -> int:
    from airgap.qr.render import animation_frames, qr_matrix
    from airgap.qr.sinks import print_terminal, show_window, write_animation
    from airgap.ur.ur import parts_for_message

    row = ctx.registry.find_request(ctx.args.request)
    request = row.request
    ur = UR(REQUEST_UR_TYPE, request.to_cbor())
    vault = ctx.registry.vault(request.vault_id, row.generation)
    summary = describe(request.action, vault.definition) if vault else request.action.kind.value
    ctx.say(f"request {request.request_id.hex()}: {summary}")
    ctx.say(f"  digest {request.digest().hex()}  (the station's review screen shows the same)")
    if ctx.args.terminal:
        parts = parts_for_message(ur, ctx.args.max_fragment, passes=1)
        if len(parts) > 1 and not ctx.out.isatty():
            raise RenderError(
                f"the request needs {len(parts)} frames; a terminal that is not interactive shows one. "
                f"Use --out, a window, or --max-fragment {len(request.to_cbor())}"
            )
        deadline = time.monotonic() + (ctx.args.seconds or 0)
        while True:
            for text in parts:
                if len(parts) > 1:
                    ctx.out.write("\x1b[H\x1b[2J")
                print_terminal(qr_matrix(text), ctx.out)
                if len(parts) > 1:
                    time.sleep(1 / ctx.args.fps)
            if len(parts) == 1 or time.monotonic() >= deadline:
                return 0
    frames = animation_frames(ur, ctx.args.max_fragment, module_px=ctx.args.module_px)
    if ctx.args.out is not None:
        write_animation(frames, Path(ctx.args.out), ctx.args.fps)
        ctx.say(f"{len(frames)} frames written to {ctx.args.out}")
        return 0
    show_window(
        frames, ctx.args.fps, title=f"request {request.request_id.hex()[:8]}", seconds=ctx.args.seconds
    )
    return 0
