"""The ``host`` command. Its subcommands arrive with the host-tool issue."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print(
        "host: no commands yet; the registry, collector and verifier are not built.\n"
        "The air-gap link is usable through the 'airgap' command.",
        file=sys.stderr,
    )
    return 2
