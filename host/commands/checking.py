"""``host verify`` (for anyone: two files, no registry) and ``host audit`` (a station's log export)."""

from __future__ import annotations

import io
import json
from typing import BinaryIO

import cbor2

from airgap.errors import AirgapError, IncompleteError
from airgap.ur.ur import DecodeLimits
from custody.errors import CustodyError, SchemaError
from custody.schemas.audit_log import EXPORT_UR_TYPE, read_export
from custody.schemas.bundle import Finding, Problem, SignedBundle, check_bundle, required_signers
from custody.schemas.request import SpendRequest
from custody.schemas.vault import VaultDefinition
from host.audit_check import Known, audit_export
from host.bundles import describe
from host.context import Context
from host.errors import UsageError
from host.inputs import read_small


def cmd_verify(ctx: Context) -> int:
    vault = VaultDefinition.from_cbor(read_small(ctx.args.vault, "vault"))
    data = read_small(ctx.args.bundle, "bundle")
    now = ctx.args.at if ctx.args.at is not None else ctx.clock()
    bundle: SignedBundle | None = None
    try:
        bundle = SignedBundle.from_cbor(data)
        findings = check_bundle(vault, bundle, now=now)
    except CustodyError as exc:
        findings = [Finding(Problem.TAMPERED, f"the bundle does not parse: {exc}")]
    ok = not findings
    result = {
        "valid": ok,
        "vault_id": vault.vault_id,
        "vault_generation": vault.generation,
        "vault_digest": vault.digest().hex(),
        "reasons": [{"problem": f.problem.value, "text": f.text} for f in findings],
    }
    if bundle is not None:
        result["request_id"] = bundle.request.request_id.hex()
        result["signers"] = [r.station for r in bundle.responses]
    ctx.data(result)
    if ok and bundle is not None:
        ctx.say(f"VALID: {describe(bundle.request.action, vault.asset)}")
        ctx.say(
            f"  vault {vault.vault_id} generation {vault.generation}; signed by "
            f"{', '.join(r.station for r in bundle.responses)} "
            f"({len(bundle.responses)} of {required_signers(vault, bundle.request)} needed)"
        )
        return 0
    ctx.say(f"INVALID: {len(findings)} reason(s)")
    for f in findings:
        ctx.say(f"  {f.problem.value}: {f.text}")
    return 1


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
        if isinstance(item, AirgapError):
            raise item
        data = cbor2.loads(item.cbor)
        if not isinstance(data, bytes):
            raise SchemaError("audit export QR: expected the export as one byte string")
        return io.BytesIO(data)
    raise IncompleteError(f"no complete audit export was read from {ctx.args.scan}")


def cmd_audit(ctx: Context) -> int:
    registry, now = ctx.registry, ctx.clock()
    with _export_stream(ctx) as stream:
        header, entries = read_export(stream)
        enrolled = registry.station(header.station)
        seen = {h.seq: (h.head, f"{h.source}, {h.seen_at}") for h in registry.heads(header.station)}

        def request_by_digest(digest: bytes) -> SpendRequest | None:
            row = registry.request_by_digest(digest)
            return row.request if row else None

        known = Known(request_by_digest, enrolled.record.public_key if enrolled else None, seen)
        report = audit_export(header, entries, known)
    chain = report.chain
    assert chain is not None
    with registry.transaction():
        if report.ok:
            registry.see_head(header.station, chain.last_seq, chain.head, "audit import", now)
        for request_id, at in report.approvals if report.ok else ():  # a flagged log's times are not believed
            registry.set_approved_at(request_id, header.station, at)
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
            "ok": report.ok,
            "signatures": report.signatures,
            "matched": report.matched,
            "findings": [{"flag": f.flag.value, "text": f.text} for f in report.findings],
            "more_findings": report.suppressed,
        }
    )
    if enrolled is None:
        ctx.say(
            f"note: {header.station!r} is not an enrolled station; "
            "signatures were not checked against its key"
        )
    ctx.say(
        f"{header.station}: {chain.count} entries, head {chain.head.hex()[:16]}; "
        f"{report.signatures} signature(s), {report.matched} matching requests built here"
    )
    for f in report.findings:
        ctx.say(f"  FLAG {f.flag.value}: {f.text}")
    if report.suppressed:
        ctx.say(f"  ... and {report.suppressed} more")
    ctx.say("audit clean" if report.ok else "audit FLAGGED: investigate before this station signs again")
    return 0 if report.ok else 31
