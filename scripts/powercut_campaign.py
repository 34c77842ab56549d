#!/usr/bin/env python3
"""Power-cut campaign (issue 17): SIGKILL a SoftHSM station at random instants of a scripted sequence of
ceremonies, restart it, and check from outside that nothing it promises was broken.

The parent imports everything once and forks the station for each run, so a
cut costs a ceremony or two, not an interpreter start; the parent itself
never loads the PKCS#11 module (a forked child must initialise it afresh),
and reads the seal through a short forked reader. After every cut it checks
the log, the seal, the witness and the limits (``powercut_checks``); at the
next start the station must finish the ceremony it was cut in.

Run: scripts/powercut --cuts N --seed S [--out DIR]. The last line printed is
JSON: {"cuts": N, "violations": V, "points": {point: count}}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from powercut_checks import Limits, Violation, check_all, read_witness
from powercut_scenario import CYCLE, WINDOW_COUNT, WINDOW_MAX, WINDOW_SECONDS
from powercut_station import MODULE, Layout, read_seal_cbor, run, seal_view, setup

from airgap.files import atomic_write
from appliance import station_state
from appliance.audit_store import AuditStore
from custody.schemas.key_record import Algorithm

LIMITS = Limits(WINDOW_SECONDS, WINDOW_MAX, WINDOW_COUNT)
RECOVERY_SHARE = 0.25  # cuts aimed at the step a restart retries (recovery cut again), not the one after
PROGRESS_TIMEOUT = 120.0  # seconds a restarted station may take to finish its next ceremony
STUCK = 2  # restarts in a row that finish nothing: the campaign stops, the station cannot go on
FLOOR = 0.005  # a step measured shorter than this is cut within this many seconds anyway
ANCHORS = ("M scan", "M policy-prepare")  # where the station's part of a step begins


@dataclass
class Child:
    """A forked run and the lines it reported, each with the moment the parent read it."""

    pid: int
    fd: int
    lines: list[tuple[float, str]] = field(default_factory=list)
    buffer: bytes = b""
    eof: bool = False

    def poll(self, timeout: float) -> None:
        if self.eof:
            time.sleep(max(timeout, 0))
            return
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return
        data = os.read(self.fd, 65536)
        if not data:
            self.eof = True
            return
        now = time.monotonic()
        self.buffer += data
        *whole, self.buffer = self.buffer.split(b"\n")
        self.lines += [(now, line.decode()) for line in whole]

    def starts(self) -> list[tuple[float, str]]:
        """Each step's "S" line, timed from when the station's part of it began: the scan of its request
        (or the policy install), not the host building the request and saving the cursor."""
        out, pending = [], ""
        for t, line in self.lines:
            if line.startswith("S "):
                pending = line
            elif pending and line in ANCHORS:
                out.append((t, pending))
                pending = ""
        return out

    def finish(self) -> int:
        """Read everything it writes until it ends; its status as os.waitstatus_to_exitcode."""
        while not self.eof:
            self.poll(1.0)
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)

    def error(self) -> str:
        return next((line[2:] for _, line in reversed(self.lines) if line.startswith("E ")), "")


def fork(body: Callable[[int], int]) -> Child:
    """``body(fd)`` in a forked process, which exits with its return value."""
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        code = 3
        try:
            code = body(write_end)
        except BaseException:
            os.write(write_end, ("E " + traceback.format_exc().replace("\n", " | ")).encode()[:4000] + b"\n")
        os._exit(code)
    os.close(write_end)
    return Child(pid, read_end)


def read_seal(layout: Layout) -> bytes:
    """The seal, read by a forked child (this process never initialises the PKCS#11 module)."""

    def body(fd: int) -> int:
        data = read_seal_cbor(layout)
        os.write(fd, f"SEAL {data.hex()}\n".encode())
        return 0

    child = fork(body)
    code = child.finish()
    found = [line[5:] for _, line in child.lines if line.startswith("SEAL ")]
    if code != 0 or not found:
        raise RuntimeError(f"reading the seal failed ({code}): {child.error()}")
    return bytes.fromhex(found[0])


class Campaign:
    def __init__(self, layout: Layout, seed: int, out: TextIO) -> None:
        self.layout, self.out = layout, out
        self.rng = random.Random(seed)
        self.typical: dict[str, float] = {}
        self.points: Counter[str] = Counter()
        self.steps: Counter[str] = Counter()
        self.violations: list[tuple[int, Violation]] = []
        self.keys: dict[bytes, tuple[Algorithm, bytes]] = {}
        self.spare: frozenset[str] = frozenset()  # never aimed at: a diagnostic, to get past a known bug
        self.cuts = 0
        self.token_copy = b""  # SoftHSM's token.object as set up, to tell a torn rewrite from a change
        self.torn_tokens = 0  # cuts that tore it: restored (SoftHSM's flaw, not the station's), or violations
        self.strict_softhsm = False
        self.stuck = 0  # restarts in a row that did not finish a ceremony

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def prepare(self) -> None:
        """Set up the station (in a child: the PKCS#11 module is loaded there), then calibrate."""

        def set_up(fd: int) -> int:
            setup(self.layout)
            return 0

        child = fork(set_up)
        if child.finish() != 0:
            raise RuntimeError(f"station set-up failed: {child.error()}")
        self.token_copy = self.token_file().read_bytes()
        records = station_state.load(self.layout.state).keys.values()
        self.keys = {r.key_id: (r.algorithm, r.public_key) for r in records}
        started = time.monotonic()
        child = fork(lambda fd: run(self.layout, fd, len(CYCLE)))
        code = child.finish()
        self.learn(child)
        if code != 0:
            raise RuntimeError(f"the uncut calibration cycle failed: {child.error()}")
        found = self.check()
        if found:
            raise RuntimeError(f"the uncut calibration cycle broke a check: {found[0]}")
        total = sum(self.typical.values())
        self.say(
            f"calibration: one uncut cycle of {len(CYCLE)} ceremonies in {time.monotonic() - started:.1f} s "
            f"(steps {total * 1000:.0f} ms; longest {max(self.typical, key=self.typical.__getitem__)} "
            f"{max(self.typical.values()) * 1000:.0f} ms)"
        )

    def token_file(self) -> Path:
        return next((self.layout.root / "tokens").glob("*/token.object"))

    def mend_token(self) -> list[Violation]:
        """SoftHSM's file store rewrites token.object in place (truncate, write) at every login, so a cut
        there leaves it empty or short, and the token is gone. A real HSM's writes are atomic; SoftHSM's
        are not, and that is not the station's to fix. Unless --strict-softhsm, the file is put back as it
        was set up (it differs only by a write counter) and the cut is counted, not taken as a violation."""
        path = self.token_file()
        data = path.read_bytes()
        if data[8:] == self.token_copy[8:]:  # the first 8 bytes count SoftHSM's writes
            return []
        self.torn_tokens += 1
        text = f"SoftHSM's token.object was torn by the cut ({len(data)} of {len(self.token_copy)} bytes)"
        if self.strict_softhsm:
            return [Violation("progress", text)]
        atomic_write(path, self.token_copy)
        self.say(f"           {text}: restored as set up")
        return []

    def learn(self, child: Child) -> None:
        """Each step's latest uncut duration, start to end as this process saw them."""
        begun = {line.split()[3]: t for t, line in child.starts()}
        for t, line in child.lines:
            if line.startswith("D ") and (name := line.split()[3]) in begun:
                self.typical[name] = t - begun[name]

    def check(self) -> list[Violation]:
        seal = seal_view(read_seal(self.layout))
        with AuditStore(self.layout.state) as store:
            entries = list(store.entries())
        return check_all(entries, seal, read_witness(self.layout.witness), lambda vault: LIMITS, self.keys)

    def cut(self, number: int) -> None:
        """Start the station, wait for the step to cut, SIGKILL it at a random instant of it, check."""
        child = fork(lambda fd: run(self.layout, fd))
        aim = 1 if self.rng.random() < RECOVERY_SHARE else 2  # which step start after the restart
        deadline = time.monotonic() + PROGRESS_TIMEOUT
        found: list[Violation] = []
        delay, killed = 0.0, False
        while not child.eof and time.monotonic() < deadline:
            starts = [(t, line.split()[3]) for t, line in child.starts()]
            if len(starts) < aim:
                child.poll(deadline - time.monotonic())
                continue
            if starts[aim - 1][1] in self.spare:
                aim += 1
                continue
            began, name = starts[aim - 1]
            delay = self.rng.uniform(0, max(self.typical.get(name, FLOOR), FLOOR))
            while not child.eof and time.monotonic() < began + delay:
                child.poll(began + delay - time.monotonic())
            now_in = [line.split()[3] for _, line in child.starts()][-1]
            if now_in in self.spare:  # it ran on into a spared step: aim at the next one
                aim = len(child.starts()) + 1
                continue
            if not child.eof:
                os.kill(child.pid, signal.SIGKILL)
                killed = True
            break
        if not killed and not child.eof:
            os.kill(child.pid, signal.SIGKILL)
        code = child.finish()
        if code != -signal.SIGKILL or not killed:
            why = (child.error() or f"exit {code}") if code != -signal.SIGKILL else "timed out"
            found.append(Violation("progress", f"the restarted station did not finish its ceremony: {why}"))
        self.cuts += 1
        self.learn(child)
        landed = [line.split()[3] for _, line in child.starts()]
        name = landed[-1] if landed else "startup"  # the step the cut landed in
        marks = [line[2:] if line[0] == "M" else "begin" for _, line in child.lines if line[0] in "MS"]
        point = marks[-1] if marks else "startup"
        self.points[point] += 1
        self.steps[name] += 1
        self.stuck = self.stuck + 1 if any(v.check == "progress" for v in found) else 0
        found += self.mend_token()
        found += self.check()
        self.violations += [(number, v) for v in found]
        status = "ok" if not found else "; ".join(f"{v.check}: {v.text}" for v in found)
        self.say(f"cut {number:4d}  {name:<18} +{delay * 1000:6.1f} ms  at {point:<16} {status}")

    def finish(self) -> None:
        """After the last cut the station must start and run the rest of its cycle uncut."""
        child = fork(lambda fd: run(self.layout, fd, len(CYCLE)))
        code = child.finish()
        found = [] if code == 0 else [Violation("progress", f"the final run failed: {child.error() or code}")]
        found += self.check()
        self.violations += [(0, v) for v in found]
        done = sum(line.startswith("D ") for _, line in child.lines)
        self.say(f"final run: {done} ceremonies uncut; {found or 'ok'}")


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cuts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--out", type=Path, help="keep the station, cursor and witness here (default: temp)")
    parser.add_argument(
        "--spare",
        action="append",
        default=[],
        metavar="STEP",
        help="never aim a cut at this step of the cycle (a diagnostic to get past a known bug; repeatable)",
    )
    parser.add_argument(
        "--strict-softhsm",
        action="store_true",
        help="a token file SoftHSM left torn is a violation, not restored (see docs/powercut.md)",
    )
    args = parser.parse_args(argv)
    unknown = set(args.spare) - {s.name for s in CYCLE}
    if unknown:
        parser.error(f"no such step: {sorted(unknown)}")
    if not os.path.isfile(MODULE):
        parser.error(f"SoftHSM2 is not installed ({MODULE}): run scripts/setup")
    root = args.out or Path(tempfile.mkdtemp(prefix="powercut-"))
    if args.out is not None and root.exists() and any(root.iterdir()):
        parser.error(f"{root} is not empty")
    layout = Layout(root)
    tokens = root / "tokens"
    tokens.mkdir(parents=True)
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    saved = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    started = time.monotonic()
    campaign = Campaign(layout, args.seed, out)
    try:
        campaign.prepare()
        campaign.spare = frozenset(args.spare)
        campaign.strict_softhsm = args.strict_softhsm
        for number in range(1, args.cuts + 1):
            campaign.cut(number)
            if campaign.stuck >= STUCK:
                campaign.say(f"the station is stuck: {STUCK} restarts in a row did not finish a ceremony")
                break
        else:
            campaign.finish()
    finally:
        if saved is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = saved
        if args.out is None:
            shutil.rmtree(root, ignore_errors=True)
    summary(campaign, time.monotonic() - started, out)
    return 1 if campaign.violations else 0


def summary(campaign: Campaign, seconds: float, out: TextIO) -> None:
    say, cuts = campaign.say, campaign.cuts
    say(f"{cuts} cuts in {seconds:.1f} s; {len(campaign.violations)} violation(s)")
    if campaign.torn_tokens:
        say(f"SoftHSM's token file torn by {campaign.torn_tokens} cut(s) (SoftHSM's flaw: docs/powercut.md)")
    for number, v in campaign.violations:
        say(f"  VIOLATION cut {number}: {v.check}: {v.text}")
    say("cuts by point:   " + ", ".join(f"{p} {n}" for p, n in campaign.points.most_common()))
    say("cuts by step:    " + ", ".join(f"{s} {n}" for s, n in campaign.steps.most_common()))
    result = {
        "cuts": cuts,
        "violations": len(campaign.violations),
        "points": dict(sorted(campaign.points.items())),
    }
    out.write(json.dumps(result) + "\n")
    out.flush()


if __name__ == "__main__":
    sys.exit(main())
