"""``host collect``, ``host status`` and ``host finalize``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airgap.files import atomic_write
from airgap.scan import Unreadable
from airgap.ur.ur import UR, DecodeLimits
from custody.errors import CustodyError
from custody.schemas.bundle import SignedBundle
from custody.schemas.chain import ChiaBinding
from custody.schemas.chain_bitcoin import BitcoinBinding
from custody.schemas.chain_evm import EvmBinding
from custody.schemas.request import signatures_needed
from custody.schemas.response import REFUSAL_UR_TYPE, RESPONSE_UR_TYPE, Refusal, SignatureResponse
from custody.schemas.vault import VaultDefinition
from host.bundles import assemble, bundle_json, describe, next_generation
from host.collect import Judgement, Status, judge_refusal, judge_response
from host.context import Context
from host.errors import UsageError
from host.registry import Registry, RequestRow
from host.text import relative, when
from host.timeline import timeline

ANSWER_LIMITS = DecodeLimits(max_message_len=8192, max_seq_len=64)


def take_answer(registry: Registry, item: UR | Unreadable, only: bytes | None, now: int) -> Judgement:
    """One scanned answer judged, and stored if it counts: what ``collect`` does per message, and the
    window's scan screen too, so both accept and reject alike."""
    if isinstance(item, Unreadable):
        times = f" ({item.count} times)" if item.count > 1 else ""
        return Judgement(Status.REJECTED, "?", None, f"unreadable frames{times}: {item.reason}")
    if item.type == REFUSAL_UR_TYPE:
        try:
            refusal = Refusal.from_cbor(item.cbor)
        except CustodyError as exc:
            return Judgement(Status.REJECTED, "?", None, f"malformed refusal: {exc}")
        row = registry.request(refusal.request_id) if refusal.request_id else None
        registry.add_refusal(refusal, now)
        return judge_refusal(refusal, row)
    try:
        response = SignatureResponse.from_cbor(item.cbor)
    except CustodyError as exc:
        return Judgement(Status.REJECTED, "?", None, f"malformed signature response: {exc}")
    if only is not None and response.request_id != only:
        return Judgement(
            Status.REJECTED,
            response.station,
            response.request_id,
            f"answers request {response.request_id.hex()[:8]}, not {only.hex()[:8]} "
            "(collected with --request)",
        )
    with registry.transaction():
        row = registry.request(response.request_id)
        vault = registry.vault(row.request.vault_id, row.generation) if row else None
        held = registry.responses(response.request_id) if row else []
        judgement = judge_response(response, row, vault.definition if vault else None, held, now)
        if judgement.status is not Status.ACCEPTED:
            return judgement
        registry.add_response(response, now)
        where = f"response to request {response.request_id.hex()[:8]}"
        earlier = registry.see_head(response.station, response.audit_seq, response.log_head, where, now)
    if earlier is not None:
        judgement = Judgement(
            judgement.status,
            judgement.station,
            judgement.request_id,
            f"{judgement.text}; WARNING: {response.station}'s log entry {response.audit_seq} now has head "
            f"{response.log_head.hex()[:16]}, but {earlier.head.hex()[:16]} was seen there before "
            f"({earlier.source}): its log was rewritten. Audit it.",
        )
    return judgement


def answer_line(j: Judgement) -> str:
    """How an answer is reported, in ``collect`` and in the window alike: ``ACCEPTED     station: why``."""
    return f"{j.status.value.upper():<12} {j.station}: {j.text}"


def progress(registry: Registry, row: RequestRow) -> dict[str, Any]:
    vault_row = registry.vault(row.request.vault_id, row.generation)
    assert vault_row is not None  # a request row always names a stored generation (foreign key)
    vault = vault_row.definition
    signed = {r.response.station for r in registry.responses(row.request.request_id)}
    refused = {
        r.refusal.station: f"{r.refusal.code}: {r.refusal.text}"
        for r in registry.refusals(row.request.request_id)
    }
    need = signatures_needed(row.request.action, vault.threshold)
    return {
        "request_id": row.request.request_id.hex(),
        "summary": describe(row.request.action, vault),
        "vault_id": vault.vault_id,
        "needed": need,
        "signed_by": sorted(signed),
        "still_needed": max(0, need - len(signed)),
        "not_signed": [k.station for k in vault.keys if k.station not in signed],
        "refused_by": dict(sorted(refused.items())),
        "expires_at": row.request.expires_at,
        "finalized": row.finalized_at is not None,
    }


def progress_lines(p: dict[str, Any], now: int) -> list[str]:
    """A request's progress (from ``progress``) as ``collect`` and ``status`` print it."""
    lines = [f"request {p['request_id'][:8]}: {p['summary']}"]
    signed = ", ".join(p["signed_by"]) or "nobody yet"
    lines.append(f"  signed by   {signed}  ({len(p['signed_by'])} of {p['needed']} needed)")
    for station, why in p["refused_by"].items():
        lines.append(f"  refused by  {station}: {why}")
    if p["finalized"]:
        lines.append("  finalized")
    elif p["still_needed"]:
        lines.append(f"  still needed: {p['still_needed']} more, from any of {', '.join(p['not_signed'])}")
        lines.append(f"  expires {relative(p['expires_at'], now)}")
    else:
        lines.append(f"  quorum reached: host finalize {p['request_id'][:8]} --out BUNDLE.cbor")
    return lines


def _say_progress(ctx: Context, p: dict[str, Any], now: int) -> None:
    for line in progress_lines(p, now):
        ctx.say(line)


def cmd_collect(ctx: Context) -> int:
    from host.scanning import scan_messages

    registry, now = ctx.registry, ctx.clock()
    only = registry.find_request(ctx.args.request).request.request_id if ctx.args.request else None
    judgements: list[Judgement] = []
    for spec in ctx.args.sources:
        for item in scan_messages(
            spec,
            frozenset({RESPONSE_UR_TYPE, REFUSAL_UR_TYPE}),
            ANSWER_LIMITS,
            in_process=ctx.args.in_process_decoder,
            idle_timeout=ctx.args.timeout,
        ):
            j = take_answer(registry, item, only, now)
            judgements.append(j)
            ctx.say(answer_line(j))
    touched = list(dict.fromkeys(j.request_id for j in judgements if j.request_id is not None))
    if only is not None and only not in touched:
        touched.append(only)
    reports = []
    for request_id in touched:
        row = registry.request(request_id)
        if row is not None:
            reports.append(progress(registry, row))
            _say_progress(ctx, reports[-1], now)
    if not judgements:
        ctx.say("nothing was read: no signature response or refusal completed in the frames given")
    ctx.data(
        {
            "answers": [
                {
                    "status": j.status.value,
                    "station": j.station,
                    "request_id": j.request_id.hex() if j.request_id else None,
                    "text": j.text,
                }
                for j in judgements
            ],
            "requests": reports,
        }
    )
    return 1 if any(j.status is Status.REJECTED for j in judgements) else 0


def cmd_status(ctx: Context) -> int:
    registry, now = ctx.registry, ctx.clock()
    vault_ids = [ctx.args.vault_id] if ctx.args.vault_id else registry.vault_ids()
    out: list[dict[str, Any]] = []
    for vault_id in vault_ids:
        generations = registry.vault_generations(vault_id)
        if not generations:
            ctx.say(f"no vault {vault_id!r} in the registry")
            return 2
        rows = registry.requests_with_responses(vault_id)
        t = timeline(generations, rows)
        pending = [
            progress(registry, r) for r, _ in rows if r.finalized_at is None and r.request.expires_at >= now
        ]
        out.append(
            {
                "vault_id": vault_id,
                "generation": t.generation,
                "lock_level": t.threshold,
                "keys": t.keys,
                "last_action_at": t.last_action_at,
                "changes": [{"generation": g, "at": at, "what": w} for g, at, w in t.changes],
                "announcements": [
                    {
                        "request_id": a.request_id.hex(),
                        "amount": str(a.amount),
                        "destination": a.destination,
                        "signers": list(a.signers),
                        "status": a.status,
                        "opens_at": a.opens_at,
                        "closes_at": a.closes_at,
                    }
                    for a in t.announcements
                ],
                "pending": pending,
                "finalized": [r.request.request_id.hex() for r, _ in rows if r.finalized_at is not None],
            }
        )
        asset = generations[-1].definition.asset
        ctx.say(f"vault {vault_id}: generation {t.generation}, lock level {t.threshold} of {t.keys}")
        for g, at, what in t.changes:
            ctx.say(f"  generation {g}: {what}, {when(at)}")
        last = f"{when(t.last_action_at)} ({relative(t.last_action_at, now)})" if t.last_action_at else "none"
        ctx.say(f"  last finalized action  {last}")
        for a in t.announcements:
            window = ""
            if a.opens_at is not None and a.closes_at is not None and a.status == "open":
                window = f"; executable from {when(a.opens_at)} to {when(a.closes_at)}"
                window += " (open now)" if a.opens_at <= now <= a.closes_at else ""
            ctx.say(
                f"  announcement {a.request_id.hex()[:8]}: {asset.format(a.amount)} to {a.destination}, "
                f"{a.status}{window}"
            )
        for p in pending:
            _say_progress(ctx, p, now)
        expired = sum(1 for r, _ in rows if r.finalized_at is None and r.request.expires_at < now)
        if expired:
            ctx.say(f"  {expired} request(s) expired without a quorum")
    audits = registry.audits()
    for station, at, count, ok in audits:
        ctx.say(f"audit {station}: {count} entries imported {when(at)}: {'clean' if ok else 'FLAGGED'}")
    ctx.data(
        {"vaults": out, "audits": [{"station": s, "at": a, "entries": c, "ok": o} for s, a, c, o in audits]}
    )
    return 0


def _chain_spend(ctx: Context, vault: VaultDefinition, bundle: SignedBundle, now: int) -> list[str]:
    """A chain vault's assembled spend, judged offline now and written where asked; what to tell the
    operator about it. UsageError with the chain's reasons."""
    chia = isinstance(vault.chain, ChiaBinding) and bundle.request.payload
    if not chia and ctx.args.spend_bundle is not None:
        raise UsageError(f"--spend-bundle: vault {vault.vault_id!r} has no Chia spend")
    if vault.chain is None or not bundle.request.payload:
        return []
    from host.chain.judging import chain_findings, final_spend

    findings = chain_findings(vault, bundle, now)
    if findings:
        raise UsageError(
            "the chain would refuse this spend: "
            + "; ".join(f"{f.problem.value}: {f.text}" for f in findings)
        )
    final = final_spend(vault, bundle)
    if isinstance(vault.chain, EvmBinding):
        return _safe_files(ctx, vault, bundle, final)
    if isinstance(vault.chain, BitcoinBinding):
        from host.commands.bitcoin import final_files

        return final_files(vault, final, Path(ctx.args.out))
    from chia_wallet_sdk import SpendBundle

    from custody.chains.chia.assemble import push_tx_text

    spend = SpendBundle.from_bytes(final)
    lines = [f"the chain's spend ({len(spend.coin_spends)} coin spends) passed the chain's rules offline"]
    if ctx.args.spend_bundle is not None:
        atomic_write(Path(ctx.args.spend_bundle), push_tx_text(spend).encode())
        lines.append(f"push_tx JSON: {ctx.args.spend_bundle}")
    return lines


def _safe_files(ctx: Context, vault: VaultDefinition, bundle: SignedBundle, calldata: bytes) -> list[str]:
    from custody.chains.evm.safe_tx import parse_exec, parse_payload
    from custody.chains.evm.signatures import address_of
    from host.chain.judging import chain_signatures
    from host.commands.evm import write_exec_files

    tx = parse_payload(bundle.request.payload)
    packed = parse_exec(tx, calldata)
    keys = [vault.key(key_id) for key_id in chain_signatures(vault, bundle)]
    signers = sorted(address_of(k.public_key) for k in keys if k is not None)
    exec_path, json_path = write_exec_files(vault, tx, calldata, packed, signers, Path(ctx.args.out))
    return [
        f"the SafeTx {tx.safe_tx_hash().hex()} (nonce {tx.nonce}) carries {len(signers)} owner signature(s) "
        "sorted by owner, each low-S with v 27 or 28",
        f"execTransaction calldata: {exec_path}",
        f"Safe Transaction Service JSON: {json_path}",
    ]


def cmd_finalize(ctx: Context) -> int:
    registry, now = ctx.registry, ctx.clock()
    row = registry.find_request(ctx.args.request)
    vault_row = registry.vault(row.request.vault_id, row.generation)
    assert vault_row is not None
    vault = vault_row.definition
    if row.bundle is not None:
        data = row.bundle
        bundle = SignedBundle.from_cbor(data)
        ctx.say("already finalized; writing the same bundle again")
    else:
        held = [r.response for r in registry.responses(row.request.request_id)]
        bundle = assemble(vault, row.request, held, now)
        data = bundle.to_cbor()
    spend = _chain_spend(ctx, vault, bundle, now)
    out = Path(ctx.args.out)
    json_out = Path(ctx.args.json_out) if ctx.args.json_out else out.with_suffix(".json")
    rendering = bundle_json(bundle)
    atomic_write(out, data)
    atomic_write(json_out, (json.dumps(rendering, indent=2, sort_keys=True) + "\n").encode())
    successor = None
    if row.bundle is None:
        with registry.transaction():
            registry.finalize(row.request.request_id, data, now)
            successor = next_generation(vault, row.request)
            if successor is not None:
                registry.add_vault(successor, now, authorized_by=row.request.request_id)
    ctx.data({**rendering, "bundle": str(out), "json": str(json_out)})
    signers = ", ".join(r.station for r in bundle.responses)
    ctx.say(f"bundle for request {row.request.request_id.hex()[:8]} written to {out} ({len(data)} bytes)")
    ctx.say(f"  {describe(row.request.action, vault)}")
    need = signatures_needed(row.request.action, vault.threshold)
    ctx.say(f"  signed by {signers} ({len(bundle.responses)} of {need} needed)")
    ctx.say(f"  readable copy: {json_out}")
    for line in spend:
        ctx.say(f"  {line}")
    if spend:
        ctx.say(f"next: host submit {row.request.request_id.hex()[:8]}")
    if successor is not None:
        ctx.say(
            f"vault {vault.vault_id} is now generation {successor.generation} ({successor.threshold} of "
            f"{len(successor.keys)}): export its policies and install them at each station with "
            f"--authorization {out}"
        )
    return 0
