#!/usr/bin/env python3
"""One fuzz campaign in this process: ``fuzz_child.py TARGET [libFuzzer flags and corpus dirs]``.

atheris.Fuzz never returns (libFuzzer exits the process), so scripts/fuzz runs
each target here, in a process of its own, and reads libFuzzer's final
statistics from its stderr. The project's packages (and embit, whose PSBT
parser is Python) are imported under atheris' instrumentation, so coverage
of their branches guides the mutations.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENTED = ["airgap", "appliance", "custody", "host", "embit"]


def load(name: str) -> Callable[[bytes], None]:
    from fuzz_targets import BY_NAME

    target = BY_NAME[name]
    with atheris.instrument_imports(include=INSTRUMENTED):
        module = importlib.import_module(target.module)
    function: Callable[[bytes], None] = getattr(module, target.function)
    return function


def main(argv: list[str]) -> None:
    sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]
    one = load(argv[1])
    # libFuzzer re-runs its own command line through the shell in -merge mode: name this interpreter
    # and this target in it, or the shebang's python (without atheris) would be run.
    atheris.Setup([f"{sys.executable} {Path(argv[0]).resolve()} {argv[1]}", *argv[2:]], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
