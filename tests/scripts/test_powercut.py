"""scripts/powercut: the power-cut campaign in CI (20 seeded cuts), and proof that each check can fail.

The checks are fed hand-built logs, seals and witnesses with one thing wrong
each (a shown signature never committed, or committed after the show; a
request signed twice; a window's total or count exceeded; a seal that is not
the log's; a rewritten entry) and must name it. A checker that cannot fail
would make the campaign's "0 violations" worthless.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance.ceremony import Outcome
from custody.schemas.audit_log import GENESIS, AuditEntry, make_entry
from custody.schemas.request import Announce, Execute, SpendRequest, Withdraw
from custody.schemas.response import SignatureResponse
from tests.appliance.conftest import requires_softhsm, softhsm  # noqa: F401 (the fixture)
from tests.appliance.kit import ALLOWED, XCH, Clock, install, make_request, make_station, policy_for, vault_of
from tests.custody.schemas.fixtures import SoftKey

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from powercut_checks import (  # scripts, found through the path above
    Limits,
    SealView,
    Shown,
    Violation,
    Witness,
    check_all,
    read_witness,
)

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_790_000_000
HOUR, DAY = 3600, 86400
KEY = SoftKey(1, "powercut")
KEYS = {KEY.vault_key.key_id: (KEY.algorithm, KEY.public)}
LIMITS = Limits(window_seconds=DAY, window_max=100, window_count=3)
VAULT, POLICY = "pc-00000", bytes([7]) * 32


class Log:
    """A station's log, built entry by entry as the station writes it."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []
        self.add("policy-installed", {"vault": VAULT, "digest": POLICY}, T0)

    def add(self, kind: str, fields: dict[str, object], at: int) -> AuditEntry:
        prev = self.entries[-1].hash if self.entries else GENESIS
        entry = make_entry(len(self.entries) + 1, at, kind, fields, prev)
        self.entries.append(entry)
        return entry

    def sign(self, request: SpendRequest, at: int) -> SignatureResponse:
        """Approve, then sign and log, as the ceremony does."""
        digest = request.digest()
        approve = self.add("approve", {"request": request.core().to_cbor(), "request_digest": digest}, at)
        response = KEY.respond(request, audit_seq=approve.seq, approved_at=at, log_head=approve.hash)
        self.add("signature", {"request_digest": digest, "response": response.to_cbor()}, at)
        return response

    def seal(self) -> SealView:
        return SealView(self.entries[-1].seq, self.entries[-1].hash, {VAULT: POLICY})


def request(amount: int, at: int, n: int, action: object = None) -> SpendRequest:
    return SpendRequest(
        request_id=bytes([n]) * 16,
        vault_id=VAULT,
        policy_digest=POLICY,
        created_at=at - 60,
        expires_at=at + 540,
        action=action or Withdraw(asset="XCH", amount=amount, destination="xch1dest"),  # type: ignore[arg-type]
    )


def shown(response: SignatureResponse, head_seq: int) -> Shown:
    return Shown(0, "step", "signature", response.to_cbor(), response.request_digest, head_seq)


def checks(log: Log, witness: tuple[Shown, ...], seal: SealView | None = None) -> list[Violation]:
    return check_all(log.entries, seal or log.seal(), Witness(witness, 0), lambda vault: LIMITS, KEYS)


def clean() -> tuple[Log, tuple[Shown, ...]]:
    """Three spends of 40, 40 and 20 in one day (the limits exactly), each shown once its entry was in."""
    log, witness = Log(), []
    for n, (amount, at) in enumerate([(40, T0 + HOUR), (40, T0 + 2 * HOUR), (20, T0 + 3 * HOUR)], 1):
        response = log.sign(request(amount, at, n), at)
        witness.append(shown(response, log.entries[-1].seq))
    return log, tuple(witness)


def test_a_clean_log_passes_every_check() -> None:
    log, witness = clean()
    assert checks(log, witness) == []
    assert checks(log, witness + witness) == []  # the same bytes shown again (a reissue) are fine


def test_a_shown_signature_that_was_never_committed_is_a_violation() -> None:
    log, witness = clean()
    stray = KEY.respond(request(10, T0 + 4 * HOUR, 9), audit_seq=99)  # signed, shown, never logged
    found = checks(log, (*witness, shown(stray, log.entries[-1].seq)))
    assert [v.check for v in found] == ["shown"] and "in no committed signature entry" in found[0].text


def test_a_signature_shown_before_its_entry_was_committed_is_a_violation() -> None:
    log, witness = clean()
    late = (*witness[:2], shown(SignatureResponse.from_cbor(witness[2].cbor), witness[2].head_seq - 1))
    found = checks(log, late)
    assert [v.check for v in found] == ["shown"] and "committed after the show" in found[0].text


def test_a_request_signed_twice_is_a_violation() -> None:
    log, witness = clean()
    again = log.sign(request(20, T0 + 3 * HOUR, 3), T0 + 3 * HOUR)  # the third request, a second signature
    assert again.signature != SignatureResponse.from_cbor(witness[2].cbor).signature
    found = checks(log, witness)
    assert "once" in {v.check for v in found}
    assert any("signed 2 times" in v.text for v in found)


def test_a_request_id_signed_for_two_requests_is_a_violation() -> None:
    log, witness = clean()
    log.sign(request(1, T0 + DAY + 5 * HOUR, 1), T0 + DAY + 5 * HOUR)  # request 1's id, other contents
    found = checks(log, witness)
    assert [v.check for v in found] == ["once"] and "2 different requests" in found[0].text


def test_a_window_total_exceeded_is_a_violation() -> None:
    log, witness = clean()
    log.sign(request(1, T0 + DAY + HOUR - 1, 4), T0 + DAY + HOUR - 1)  # the first 40 is still in the window
    found = checks(log, witness)
    assert [v.check for v in found] == ["rate"] and "totalling 101" in found[0].text
    log, witness = clean()
    log.sign(request(1, T0 + DAY + HOUR, 4), T0 + DAY + HOUR)  # it has just left: 61 in 3 spends
    assert checks(log, witness) == []


def test_a_window_count_exceeded_is_a_violation() -> None:
    log = Log()
    for n in range(1, 5):
        log.sign(request(1, T0 + n * HOUR, n), T0 + n * HOUR)
    found = checks(log, ())
    assert [v.check for v in found] == ["rate"] and "4 spends" in found[0].text


def test_executions_are_counted_at_their_announcement_only() -> None:
    log = Log()
    announce = request(60, T0 + HOUR, 1, Announce(asset="XCH", amount=60, destination="xch1dest"))
    log.sign(announce, T0 + HOUR)
    execute = Execute(announce_id=announce.request_id, asset="XCH", amount=60, destination="xch1dest")
    log.sign(request(60, T0 + 2 * HOUR, 2, execute), T0 + 2 * HOUR)
    log.sign(request(40, T0 + 3 * HOUR, 3), T0 + 3 * HOUR)
    assert checks(log, ()) == []


def test_a_seal_that_is_not_the_logs_is_a_violation() -> None:
    log, witness = clean()
    sealed = log.seal()
    wrong_head = SealView(sealed.log_seq, bytes(32), sealed.policies)
    assert [v.check for v in checks(log, witness, wrong_head)] == ["seal"]
    past_the_end = SealView(sealed.log_seq + 1, sealed.log_head, sealed.policies)
    assert [v.check for v in checks(log, witness, past_the_end)] == ["seal"]
    other_policy = SealView(sealed.log_seq, sealed.log_head, {VAULT: bytes(32)})
    found = checks(log, witness, other_policy)
    assert [v.check for v in found] == ["seal"] and "policy" in found[0].text
    assert [v.check for v in check_all(log.entries, None, Witness(witness, 0), lambda v: LIMITS, KEYS)] == [
        "seal"
    ]
    # A seal behind the log's end is a tail the next session checks: not a violation.
    behind = SealView(log.entries[2].seq, log.entries[2].hash, {VAULT: POLICY})
    assert checks(log, witness, behind) == []


def test_a_rewritten_entry_or_a_foreign_signature_is_a_violation() -> None:
    log, witness = clean()
    e = log.entries[1]
    log.entries[1] = AuditEntry(e.seq, e.at, e.kind, e.body[:-1] + b"\x00", e.prev, e.hash)
    assert "chain" in {v.check for v in checks(log, witness)}
    log = Log()
    request_1 = request(10, T0 + HOUR, 1)
    approve = log.add(
        "approve", {"request": request_1.core().to_cbor(), "request_digest": request_1.digest()}, T0
    )
    forged = SoftKey(2, "powercut").respond(
        request_1, audit_seq=approve.seq, approved_at=T0, log_head=approve.hash
    )
    log.add("signature", {"request_digest": request_1.digest(), "response": forged.to_cbor()}, T0)
    found = checks(log, ())
    assert [v.check for v in found] == ["chain"] and "does not verify" in found[0].text


def test_the_witness_reads_whole_records_and_counts_a_torn_last_one(tmp_path: Path) -> None:
    _, witness = clean()
    path = tmp_path / "witness.jsonl"
    path.write_bytes(b"".join(s.to_line() for s in witness) + witness[0].to_line()[:40])
    read = read_witness(path)
    assert read.shown == witness and read.torn == 1
    assert read_witness(tmp_path / "none.jsonl") == Witness((), 0)


def campaign(*args: str) -> tuple[float, list[str]]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "powercut_campaign.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert lines, done.stderr
    return time.monotonic() - started, lines


@pytest.mark.hsm
@requires_softhsm
def test_twenty_seeded_cuts_break_nothing() -> None:
    """CI's campaign."""
    seconds, lines = campaign("--cuts", "20", "--seed", "17")
    result = json.loads(lines[-1])
    assert set(result) == {"cuts", "violations", "points"}
    assert result["violations"] == 0, "\n".join(lines)
    assert result["cuts"] == 20 and sum(result["points"].values()) == 20
    assert all(isinstance(p, str) and isinstance(n, int) and n > 0 for p, n in result["points"].items())
    assert any(line.startswith("final run: 24 ceremonies uncut; ok") for line in lines)
    assert seconds < 120


#: Installs a policy and SIGKILLs itself once the policy-installed entry is committed, as the seal that
#: would name it is about to be written: the instant a power cut can hit between the two.
KILL_BETWEEN_POLICY_ENTRY_AND_SEAL = """
import os, signal, sys
from pathlib import Path
import appliance.station as station
from appliance.card_files import read_card_file
from appliance.policy_install import install_policy
from appliance.seal import read_seal
from custody.schemas.vault import StationPolicy
from tests.appliance.kit import RecordingScreen

real = station.write_seal
def write_seal(session, seal):
    current = read_seal(session)
    if dict(current.policies if current else {}) != dict(seal.policies):
        os.kill(os.getpid(), signal.SIGKILL)
    real(session, seal)
station.write_seal = write_seal
state, cards, policy, now = sys.argv[1:5]
with station.Station(Path(state), clock=lambda: int(now)) as opened:
    cards = [read_card_file(Path(cards) / f"card-{n}.txt") for n in (1, 2)]
    new = StationPolicy.from_cbor(Path(policy).read_bytes())
    install_policy(opened, new, cards, screen=RecordingScreen())
print("INSTALLED")
"""


@pytest.mark.hsm
@requires_softhsm
def test_a_cut_between_a_policy_entry_and_its_seal_leaves_the_vault_installable(
    softhsm: Path,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    clock = Clock()
    station = make_station(tmp_path, "st-a", clock)
    vault = vault_of([station.key()], threshold=1)
    policy_file = tmp_path / "policy.cbor"
    policy_file.write_bytes(policy_for(vault, station).to_cbor())
    argv = [str(station.state), str(station.cards_dir), str(policy_file), str(clock())]
    crashed = subprocess.run(
        [sys.executable, "-c", KILL_BETWEEN_POLICY_ENTRY_AND_SEAL, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert crashed.returncode == -9 and "INSTALLED" not in crashed.stdout, crashed.stderr
    with station.open() as opened:
        assert opened.logged_policy(vault.vault_id) == policy_for(vault, station)  # committed, unsealed
    clock.advance(60)
    # Found by scripts/powercut: the log and the seal disagreed, and every retry of the installation
    # (and every request for the vault) was refused. The unsealed installation is now void.
    install(station, vault)
    clock.advance(7200)
    request = make_request(vault, Withdraw(asset="XCH", amount=10 * XCH, destination=ALLOWED), clock())
    assert station.handle(request).outcome is Outcome.SIGNED
