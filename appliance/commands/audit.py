"""``appliance audit export | verify``: the log, with its HSM-signed head, for the host's audit."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from appliance.console import Console, check_uri, collect_cards
from appliance.errors import UsageError


def cmd_audit_export(args: argparse.Namespace, console: Console) -> int:
    import io

    from appliance.audit_export import export_log
    from appliance.station import Station

    if args.out is None and args.qr_out is None:
        raise UsageError("say where to export: --out FILE and/or --qr-out DIR|X.gif|X.mp4")
    check_uri(args)
    buffer = io.BytesIO()
    with Station(args.state, clock=console.clock) as station:
        presented = collect_cards(args, console, station.state.card_set.threshold)
        head = export_log(station, presented, buffer)
    data = buffer.getvalue()
    if args.out is not None:
        args.out.write_bytes(data)
        console.say(f"{head.count} entries written to {args.out}")
    if args.qr_out is not None:
        count = export_audit_qr(data, args.qr_out)
        console.say(f"{count} QR frames written to {args.qr_out}")
    console.say(
        f"log head: {head.head.hex()} at entry {head.count}, signed in the HSM by "
        f"{len(head.signatures)} key(s); checked against the seal before export"
    )
    return 0


def export_audit_qr(data: bytes, out: Path) -> int:
    import cbor2

    from airgap.link_defaults import DEFAULT_FPS, WEBCAM_MAX_FRAGMENT
    from airgap.qr.render import animation_frames
    from airgap.qr.sinks import write_animation
    from airgap.ur.ur import UR
    from custody.schemas.audit_log import EXPORT_UR_TYPE

    # One CBOR byte string holds the export (itself a CBOR sequence), as a UR payload must be one item.
    frames = animation_frames(UR(EXPORT_UR_TYPE, cbor2.dumps(data)), WEBCAM_MAX_FRAGMENT)
    write_animation(frames, out, DEFAULT_FPS)
    return len(frames)


def cmd_audit_verify(args: argparse.Namespace, console: Console) -> int:
    from appliance import station_state
    from appliance.audit_store import AuditStore
    from custody.schemas.audit_log import read_export, verify_chain

    if args.file is not None:
        with args.file.open("rb") as stream:
            header, entries = read_export(stream)
            report = verify_chain(entries)
        if report.ok and (report.head != header.head or report.last_seq != header.count):
            report = replace(report, problems=("the header's head or count does not match the entries",))
        if report.ok and station_state.exists(args.state):
            own = station_state.load(args.state)
            keys = {r.key_id: (r.algorithm, r.public_key) for r in own.keys.values()}
            if header.station == own.station and not header.valid_signers(keys):
                report = replace(report, problems=("the head is not signed by any of this station's keys",))
        source = f"{args.file} (station {header.station})"
    else:
        with AuditStore(args.state) as store:
            report = verify_chain(store.entries())
        source = str(args.state)
    for problem in report.problems:
        console.say(f"problem: {problem}")
    if not report.ok:
        console.say(f"{source}: the audit log's chain is BROKEN ({report.count} entries read)")
        return 31
    console.say(f"{source}: {report.count} entries, chain intact, head {report.head.hex()}")
    return 0
