"""The fuzzing smoke CI runs: every target of scripts/fuzz, seeded, from the corpus kept in the
repository, with no invariant broken; and the one-line JSON summary each campaign prints.

The million-execution campaigns are run by hand (docs/fuzzing.md); this only
proves every harness still runs and the corpus still passes, in well under
a minute and a half.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from fuzz_targets import TARGETS  # scripts, found through the path above  # noqa: E402

#: Executions per target: the corpus first, then mutations of it.
SMOKE_RUNS = 2000
KEYS = {"target", "runs", "crashes", "seconds", "exec_per_s", "slowest_unit_s", "peak_rss_mb", "artifacts"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    work = tmp_path_factory.mktemp("fuzz")
    done = subprocess.run(
        [
            str(ROOT / "scripts" / "fuzz"),
            "--all",
            f"--runs={SMOKE_RUNS}",
            "--seed=1",
            f"--work={work / 'work'}",
            f"--artifacts={work / 'artifacts'}",
            "--max-crashes=0",
            "--jobs=2",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == len(TARGETS), done.stdout + done.stderr
    return {summary["target"]: summary for summary in map(json.loads, lines)}


def test_every_target_prints_one_json_line_with_its_summary(smoke: dict[str, dict[str, object]]) -> None:
    assert list(smoke) == [t.name for t in TARGETS]
    for summary in smoke.values():
        assert set(summary) == KEYS
        assert isinstance(summary["seconds"], float) and summary["seconds"] > 0


@pytest.mark.parametrize("name", [t.name for t in TARGETS])
def test_the_seeded_smoke_breaks_no_invariant(smoke: dict[str, dict[str, object]], name: str) -> None:
    summary = smoke[name]
    assert summary["crashes"] == 0, summary["artifacts"]
    assert summary["runs"] == SMOKE_RUNS


def test_every_target_has_a_corpus_in_the_repository() -> None:
    for target in TARGETS:
        assert any((ROOT / "tests" / "fuzz_corpus" / target.name).iterdir()), target.name
