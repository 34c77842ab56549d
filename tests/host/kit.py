"""Simulated stations for host tests: a software key, a real hash-chained audit log, QR answers.

The host never sees inside a station, only its key record, its answers and
its audit export, so a station here is exactly those three things, built the
way the appliance builds them (approve entry, then the signature over the
response naming it, then the signature entry). The appliance's own tests
cover the HSM side; tests/host/test_with_appliance.py joins the two.
"""

from __future__ import annotations

import io
import random
from dataclasses import replace
from pathlib import Path

from airgap.qr.render import animation_frames
from airgap.qr.sinks import write_png_folder
from airgap.ur.ur import UR
from custody.chains import chain_messages
from custody.schemas.audit_log import (
    GENESIS,
    AuditEntry,
    EntryKind,
    HeadSignature,
    SignedHead,
    export_bytes,
    make_entry,
)
from custody.schemas.key_record import KeyRecord
from custody.schemas.request import SpendRequest
from custody.schemas.response import REFUSAL_UR_TYPE, RESPONSE_UR_TYPE, Refusal, SignatureResponse
from custody.schemas.vault import VaultDefinition
from host.cli import main
from tests.custody.schemas.fixtures import KEYS, T0, SoftKey

HOUR, DAY = 3600, 86400


class FakeStation:
    def __init__(self, key: SoftKey, label: str = "cold") -> None:
        self.key = key
        self.name = key.station
        self.label = label
        self.entries: list[AuditEntry] = []
        self.log(EntryKind.INIT, {"station": self.name}, T0 - DAY)

    def record(self) -> KeyRecord:
        vk = self.key.vault_key
        return KeyRecord(
            algorithm=vk.algorithm,
            public_key=vk.public_key,
            key_id=vk.key_id,
            token_serial=f"sn-{self.name}",
            label=self.label,
            station=self.name,
            created_at=T0 - DAY,
        )

    def log(self, kind: str, fields: dict[str, object], at: int) -> AuditEntry:
        prev = self.entries[-1].hash if self.entries else GENESIS
        entry = make_entry(len(self.entries) + 1, at, kind, fields, prev)
        self.entries.append(entry)
        return entry

    def sign(self, request: SpendRequest, at: int, vault: VaultDefinition | None = None) -> SignatureResponse:
        """``vault``: a chain vault, whose payload the station derives its chain signature from."""
        digest = request.digest()
        approve = self.log(
            EntryKind.APPROVE, {"request": request.core().to_cbor(), "request_digest": digest}, at
        )
        messages = chain_messages(vault, request) if vault is not None else None
        chain = {"chain_signature": b"".join(map(self.key.sign, messages))} if messages is not None else {}
        response = self.key.respond(
            request, audit_seq=approve.seq, log_head=approve.hash, approved_at=at, **chain
        )
        self.log(EntryKind.SIGNATURE, {"request_digest": digest, "response": response.to_cbor()}, at)
        return response

    def refuse(self, request: SpendRequest, code: str, text: str, at: int) -> Refusal:
        self.log(EntryKind.REFUSE, {"request_digest": request.digest(), "code": code}, at)
        return Refusal(
            request_id=request.request_id,
            request_digest=request.digest(),
            vault_id=request.vault_id,
            station=self.name,
            code=code,
            text=text,
            at=at,
        )

    def head(self, entries: list[AuditEntry] | None = None, *, signed: bool = True) -> SignedHead:
        """The head of ``entries`` (default: the whole log), signed with the station's key as its HSM
        would sign it, or not signed at all: what someone without the HSM can produce."""
        last = (entries or self.entries)[-1]
        head = SignedHead(station=self.name, count=last.seq, head=last.hash, at=last.at)
        if not signed:
            return head
        signature = HeadSignature(
            key_id=self.key.vault_key.key_id, signature=self.key.sign(head.statement_digest())
        )
        return replace(head, signatures=(signature,))

    def export(self, at: int) -> bytes:
        """What 'appliance audit export' writes at ``at``: the export logged, then the whole log under
        a head signed in the HSM."""
        self.log(EntryKind.EXPORTED, {"entries_before": len(self.entries)}, at)
        return export_bytes(self.head(), self.entries)

    def rewrite_from(self, seq: int) -> None:
        """What an attacker with the disk does: drop entries from ``seq`` on and re-chain new ones."""
        kept = self.entries[: seq - 1]
        self.entries = kept
        self.log(EntryKind.SCAN, {"error": "quiet"}, T0)


def stations() -> list[FakeStation]:
    return [FakeStation(k) for k in KEYS]


def response_ur(response: SignatureResponse) -> UR:
    return UR(RESPONSE_UR_TYPE, response.to_cbor())


def refusal_ur(refusal: Refusal) -> UR:
    return UR(REFUSAL_UR_TYPE, refusal.to_cbor())


def answer_frames(urs: list[UR], folder: Path, *, shuffle_seed: int | None = None) -> Path:
    """Station screens one after another, as the host's camera sees them in a sitting."""
    order = list(urs)
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(order)
    frames = []
    for ur in order:
        frames += animation_frames(ur, 1500, module_px=3, passes=2)
    write_png_folder(frames, folder)
    return folder


class Host:
    """The ``host`` command against one registry, with a settable clock."""

    def __init__(self, folder: Path, now: int = T0) -> None:
        self.registry = folder / "registry.db"
        self.now = now

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        args = list(argv)
        if argv and argv[0] not in ("verify", "check-vault"):
            args.append(f"--registry={self.registry}")  # every subcommand but verify takes it
        code = main(args, out=out, err=err, clock=lambda: self.now)
        return code, out.getvalue(), err.getvalue()


def enrol_all(host: Host, folder: Path, fleet: list[FakeStation]) -> None:
    for s in fleet:
        path = folder / f"{s.name}.key.cbor"
        path.write_bytes(s.record().to_cbor())
        code, _, err = host("enrol", "--file", str(path))
        assert code == 0, err


def create_vault(host: Host, fleet: list[FakeStation], threshold: int = 3, *extra: str) -> None:
    args = ["vault", "create", "cold", "--threshold", str(threshold), "--asset", "XCH:12"]
    for s in fleet:
        args += ["--station", s.name]
    args += [
        "--destination",
        "xch1dest",
        "--max-per-spend",
        "50",
        "--window-max",
        "100",
        "--window",
        "1d",
        "--cooldown",
        "1h",
        "--announce-delay",
        "0",
        "--announce-expiry",
        "0",
        "--rekey-delay",
        "1d",
        "--min-per-spend",
        "1",
        "--max-fee",
        "0",
        "--window-count",
        "10",
        "--max-request-lifetime",
        "1h",
        *extra,
    ]
    code, _, err = host(*args)
    assert code == 0, err
