#!/usr/bin/env python3
"""scripts/fuzz: coverage-guided campaigns (atheris/libFuzzer) on every parser of outside bytes.

``scripts/fuzz --target NAME --runs N`` runs one campaign, ``--all`` every
target in turn; each prints one JSON line: target, runs, crashes, seconds
(and exec_per_s, the slowest input's seconds, peak RSS, crashing inputs).
A crash is an input that broke the invariant (docs/fuzzing.md): an
exception other than the project's own, a re-encode mismatch, an input
slower than ``--timeout`` or a process over ``--rss-limit-mb``. libFuzzer
stops at a crash, saves the input under ``--artifacts`` and the campaign
restarts from the grown corpus, up to ``--max-crashes`` times.

Seeds are read from tests/fuzz_corpus/<target>/ and never written there:
the working corpus is a scratch folder (``--work`` keeps it). ``--merge``
replaces the repository's corpus with a minimal one (libFuzzer -merge=1)
covering it and the working corpus alike.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fuzz_targets import BY_NAME, TARGETS, Target

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fuzz_corpus"
CHILD = ROOT / "scripts" / "fuzz_child.py"
_STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.MULTILINE)
_ARTIFACT = re.compile(r"Test unit written to (\S+)")


@dataclass
class Campaign:
    target: str
    runs: int = 0
    crashes: int = 0
    seconds: float = 0.0
    slowest_unit_s: int = 0
    peak_rss_mb: int = 0
    artifacts: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rate = round(self.runs / self.seconds) if self.seconds else 0
        return json.dumps(
            {
                "target": self.target,
                "runs": self.runs,
                "crashes": self.crashes,
                "seconds": round(self.seconds, 1),
                "exec_per_s": rate,
                "slowest_unit_s": self.slowest_unit_s,
                "peak_rss_mb": self.peak_rss_mb,
                "artifacts": self.artifacts,
            }
        )


def child_command(target: Target, flags: Sequence[str], dirs: Sequence[Path]) -> list[str]:
    return [sys.executable, str(CHILD), target.name, *flags, *(str(d) for d in dirs)]


def run_campaign(target: Target, args: argparse.Namespace, work: Path) -> Campaign:
    """Run ``args.runs`` executions of ``target``, restarting after each crash; libFuzzer's log is
    appended to ``work/<target>.log``."""
    corpus = work / target.name
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts = Path(args.artifacts)
    artifacts.mkdir(parents=True, exist_ok=True)
    seeds = CORPUS / target.name
    result = Campaign(target.name)
    started = time.monotonic()
    attempt = 0
    while result.runs < args.runs and result.crashes <= args.max_crashes:
        left = args.max_seconds - (time.monotonic() - started) if args.max_seconds else None
        if left is not None and left < 1:
            break
        flags = [
            f"-runs={args.runs - result.runs}",
            *([f"-max_total_time={int(left)}"] if left is not None else []),
            f"-seed={args.seed + attempt}",
            f"-timeout={args.timeout}",
            f"-rss_limit_mb={args.rss_limit_mb}",
            f"-max_len={target.max_len}",
            f"-artifact_prefix={artifacts}/{target.name}-",
            "-print_final_stats=1",
        ]
        dirs = [corpus, seeds] if seeds.is_dir() else [corpus]
        with (work / f"{target.name}.log").open("a") as log:
            done = subprocess.run(
                child_command(target, flags, dirs), stdout=log, stderr=subprocess.PIPE, text=True, check=False
            )
            log.write(done.stderr)
        stats = {name: int(value) for name, value in _STAT.findall(done.stderr)}
        result.runs += stats.get("number_of_executed_units", 0)
        result.slowest_unit_s = max(result.slowest_unit_s, stats.get("slowest_unit_time_sec", 0))
        result.peak_rss_mb = max(result.peak_rss_mb, stats.get("peak_rss_mb", 0))
        if done.returncode == 0:
            break
        result.crashes += 1
        result.artifacts += _ARTIFACT.findall(done.stderr)
        if not stats:  # died without a word: no progress to build on
            break
        attempt += 1
    result.seconds = time.monotonic() - started
    return result


def merge(target: Target, work: Path, args: argparse.Namespace) -> int:
    """Replace the repository's corpus of ``target`` with libFuzzer's minimal merge of it and ``work``."""
    seeds, fresh = CORPUS / target.name, work / f"{target.name}.merged"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    flags = [
        "-merge=1",
        f"-max_len={target.max_len}",
        f"-timeout={args.timeout}",
        f"-rss_limit_mb={args.rss_limit_mb}",
    ]
    sources = [d for d in (seeds, work / target.name) if d.is_dir()]
    with (work / f"{target.name}.log").open("a") as log:
        subprocess.run(child_command(target, flags, [fresh, *sources]), stdout=log, stderr=log, check=False)
    kept = sorted(fresh.iterdir())
    if kept:
        shutil.rmtree(seeds, ignore_errors=True)
        shutil.copytree(fresh, seeds)
    return len(kept)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/fuzz", description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--target", choices=sorted(BY_NAME), action="append", help="one target (repeatable)")
    which.add_argument("--all", action="store_true", help="every target, one after another")
    which.add_argument("--list", action="store_true", help="the targets and their entry points")
    parser.add_argument("--runs", type=int, default=2000, help="executions per target (default 2000)")
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer's -seed (default 1)")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take (default 10)")
    parser.add_argument("--rss-limit-mb", type=int, default=2048, help="memory bound (default 2048 MB)")
    parser.add_argument("--jobs", type=int, default=1, help="campaigns run side by side (default 1)")
    parser.add_argument("--max-seconds", type=int, help="stop a target's campaign after this long")
    parser.add_argument("--max-crashes", type=int, default=20, help="restarts after crashes (default 20)")
    parser.add_argument("--work", help="keep the working corpora and logs here (default: a scratch folder)")
    parser.add_argument(
        "--artifacts",
        default=str(Path(tempfile.gettempdir()) / "airgap-fuzz-artifacts"),
        help="where crashing inputs are saved",
    )
    parser.add_argument(
        "--merge", action="store_true", help="minimize the grown corpus into tests/fuzz_corpus"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for t in TARGETS:
            print(f"{t.name:<18} {t.entry}")
        return 0
    targets = list(TARGETS) if args.all else [BY_NAME[name] for name in args.target]
    scratch = None if args.work else tempfile.mkdtemp(prefix="airgap-fuzz-")
    work = Path(args.work or scratch or ".")
    crashed = False
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for campaign in pool.map(lambda t: run_campaign(t, args, work), targets):  # in target order
                crashed |= campaign.crashes > 0
                print(campaign.summary(), flush=True)
        for target in targets if args.merge else []:
            kept = merge(target, work, args)
            print(f"{target.name}: {kept} inputs kept in {CORPUS / target.name}", file=sys.stderr)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
