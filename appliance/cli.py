"""The ``appliance`` command. Its subcommands arrive with the HSM and ceremony issues."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print(
        "appliance: no commands yet; the HSM layer and the signing ceremony are not built.\n"
        "The air-gap link is usable through the 'airgap' command.",
        file=sys.stderr,
    )
    return 2
