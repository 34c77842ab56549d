"""``host verify`` (for anyone: two files, no registry) and ``host audit`` (a station's log export)."""

from __future__ import annotations

import io
import json
from typing import Any, BinaryIO

import cbor2

from airgap.errors import IncompleteError
from airgap.progress import TaskBar
from airgap.scan import Unreadable
from airgap.ur.ur import DecodeLimits
from custody.errors import CustodyError, SchemaError
from custody.schemas.audit_log import EXPORT_UR_TYPE, read_export
from custody.schemas.bundle import Finding, Problem, SignedBundle, check_bundle
from custody.schemas.commitment import SALT_LEN, vault_commitment
from custody.schemas.request import SpendRequest, signatures_needed
from custody.schemas.vault import Rules, VaultDefinition
from host.audit_check import Known, audit_export
from host.bundles import describe
from host.context import Context
from host.errors import UsageError
from host.inputs import read_small
from host.text import when


def _hex(text: str, length: int, flag: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != length:
        raise UsageError(f"{flag} takes {length} bytes as {2 * length} hex digits")
    return value


def pin_findings(ctx: Context, vault: VaultDefinition) -> list[Finding]:
    """What the --expect-digest and --commitment/--salt pins say about the vault file given."""
    a, findings = ctx.args, []
    if a.expect_digest is not None and _hex(a.expect_digest, 32, "--expect-digest") != vault.digest():
        findings.append(
            Finding(Problem.WRONG_VAULT, f"the vault file's digest is not the expected {a.expect_digest}")
        )
    if (a.commitment is None) != (a.salt is None):
        raise UsageError("--commitment and --salt go together")
    if a.commitment is not None:
        commitment = _hex(a.commitment, 32, "--commitment")
        if vault_commitment(vault.digest(), _hex(a.salt, SALT_LEN, "--salt")) != commitment:
            findings.append(
                Finding(Problem.WRONG_VAULT, "the vault file does not open the published commitment")
            )
    return findings


def _say_vault(ctx: Context, vault: VaultDefinition) -> None:
    ctx.say(
        f"  vault {vault.vault_id} generation {vault.generation}, {vault.threshold} of {len(vault.keys)}, "
        f"digest {vault.digest().hex()}"
    )
    for key in vault.keys:
        ctx.say(f"  key   {key.station:<16} {key.algorithm.value:<9} {key.key_id.hex()}")


def _vault_json(vault: VaultDefinition) -> dict[str, Any]:
    return {
        "vault_id": vault.vault_id,
        "vault_generation": vault.generation,
        "vault_digest": vault.digest().hex(),
        "keys": [{"station": k.station, "key_id": k.key_id.hex()} for k in vault.keys],
    }


def cmd_verify(ctx: Context) -> int:
    vault = VaultDefinition.from_cbor(read_small(ctx.args.vault, "vault"))
    data = read_small(ctx.args.bundle, "bundle")
    now = ctx.args.at if ctx.args.at is not None else ctx.clock()
    bundle: SignedBundle | None = None
    findings = pin_findings(ctx, vault)
    try:
        bundle = SignedBundle.from_cbor(data)
        findings += check_bundle(vault, bundle, now=now)
        if vault.chain is not None and not findings:
            from host.chain.judging import chain_findings

            findings += chain_findings(vault, bundle, now)
    except CustodyError as exc:
        findings.append(Finding(Problem.TAMPERED, f"the bundle does not parse: {exc}"))
    ok = not findings
    result = {
        "valid": ok,
        **_vault_json(vault),
        "reasons": [{"problem": f.problem.value, "text": f.text} for f in findings],
    }
    if bundle is not None:
        result["request_id"] = bundle.request.request_id.hex()
        result["signers"] = [r.station for r in bundle.responses]
    ctx.data(result)
    if ok and bundle is not None:
        ctx.say(f"VALID: {describe(bundle.request.action, vault)}")
        _say_vault(ctx, vault)
        ctx.say(
            f"  signed by {', '.join(r.station for r in bundle.responses)} "
            f"({len(bundle.responses)} of {signatures_needed(bundle.request.action, vault.threshold)} needed)"
        )
        if ctx.args.expect_digest is None and ctx.args.commitment is None:
            ctx.say("  the vault file was not pinned: compare its digest with the one published for it")
        return 0
    ctx.say(f"INVALID: {len(findings)} reason(s)")
    for f in findings:
        ctx.say(f"  {f.problem.value}: {f.text}")
    _say_vault(ctx, vault)
    return 1


def cmd_check_vault(ctx: Context) -> int:
    """A vault file against its published digest or commitment: no bundle, no registry."""
    vault = VaultDefinition.from_cbor(read_small(ctx.args.vault, "vault"))
    if ctx.args.expect_digest is None and ctx.args.commitment is None:
        raise UsageError("give --expect-digest HEX, or --commitment HEX with --salt HEX")
    findings = pin_findings(ctx, vault)
    ctx.data({"valid": not findings, **_vault_json(vault), "reasons": [f.text for f in findings]})
    ctx.say("VAULT MATCHES its published pin" if not findings else "VAULT DOES NOT MATCH")
    for f in findings:
        ctx.say(f"  {f.text}")
    _say_vault(ctx, vault)
    return 0 if not findings else 1


def _export_stream(ctx: Context) -> BinaryIO:
    if ctx.args.file is not None:
        try:
            return open(ctx.args.file, "rb")
        except OSError as exc:
            raise UsageError(f"cannot read {ctx.args.file}: {exc.strerror or exc}") from None
    from host.scanning import scan_messages

    for item in scan_messages(
        ctx.args.scan, frozenset({EXPORT_UR_TYPE}), DecodeLimits(), in_process=ctx.args.in_process_decoder
    ):
        if isinstance(item, Unreadable):
            times = f" ({item.count} times)" if item.count > 1 else ""
            ctx.say(f"note: unreadable input ignored{times}: {item.reason}")
            continue
        data = cbor2.loads(item.cbor)
        if not isinstance(data, bytes):
            raise SchemaError("audit export QR: expected the export as one byte string")
        return io.BytesIO(data)
    raise IncompleteError(f"no complete audit export was read from {ctx.args.scan}")


def _known(ctx: Context, station: str, now: int) -> Known:
    registry = ctx.registry
    keys = {
        r.record.key_id: (r.record.algorithm, r.record.public_key) for r in registry.station_keys(station)
    }
    seen = {h.seq: (h.head, f"{h.source}, {h.seen_at}") for h in registry.heads(station)}
    collected = {row.request.digest(): r.collected_at for row, r in registry.responses_of(station)}

    def request_by_digest(digest: bytes) -> SpendRequest | None:
        row = registry.request_by_digest(digest)
        return row.request if row else None

    def rules_of(vault_id: str) -> Rules | None:
        row = registry.vault(vault_id)
        return row.definition.rules if row else None

    return Known(request_by_digest, keys, seen, collected, rules_of, now, ctx.args.max_age)


def cmd_audit(ctx: Context) -> int:
    registry, now = ctx.registry, ctx.clock()
    with _export_stream(ctx) as stream:
        header, entries = read_export(stream)
        known = _known(ctx, header.station, now)
        # On a terminal only; the export's signed count is the estimate (a longer chain fills the bar).
        description = f"auditing {header.station}'s log ({header.count} entries)"
        with TaskBar(ctx.err, total=header.count, description=description) as bar:
            report = audit_export(header, entries, known, on_entry=bar.update)
    chain = report.chain
    assert chain is not None
    with registry.transaction():
        if report.ok:
            registry.see_head(header.station, chain.last_seq, chain.head, "audit import", now)
        registry.add_audit(
            header.station,
            now,
            chain.count,
            chain.head,
            report.ok,
            json.dumps([{"flag": f.flag.value, "text": f.text} for f in report.findings]),
        )
    ctx.data(
        {
            "station": header.station,
            "entries": chain.count,
            "head": chain.head.hex(),
            "head_signed_at": header.at,
            "ok": report.ok,
            "signatures": report.signatures,
            "matched": report.matched,
            "findings": [{"flag": f.flag.value, "text": f.text} for f in report.findings],
            "more_findings": report.suppressed,
            "anomalies": [{"kind": a.kind, "vault_id": a.vault_id, "text": a.text} for a in report.anomalies],
        }
    )
    if not known.station_keys:
        ctx.say(
            f"note: {header.station!r} has no enrolled key; "
            "neither its head nor its signatures can be checked"
        )
    ctx.say(
        f"{header.station}: {chain.count} entries, head {chain.head.hex()[:16]} signed {when(header.at)}; "
        f"{report.signatures} signature(s), {report.matched} matching requests built here"
    )
    for f in report.findings:
        ctx.say(f"  FLAG {f.flag.value}: {f.text}")
    if report.suppressed:
        ctx.say(f"  ... and {report.suppressed} more")
    for a in report.anomalies:
        ctx.say(f"  ANOMALY {a.kind} ({a.vault_id}): {a.text}")
    verdict = "audit clean" if report.ok else "audit FLAGGED: investigate before this station signs again"
    if report.ok and report.anomalies:
        verdict += f"; {len(report.anomalies)} anomaly(ies) for a person to judge"
    ctx.say(verdict)
    return 0 if report.ok else 31
