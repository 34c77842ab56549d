"""Shared pieces of the ``host`` command's argument parser."""

from __future__ import annotations

import argparse
from pathlib import Path

from host.context import default_registry

EPILOG = """exit codes: 0 success (valid, clean), 1 bad input or invalid bundle or rejected answer,
2 usage, 3 incomplete scan, 4 I/O, 5 registry unusable, 6 chain unavailable, 7 chain refused the spend,
22 refused locally, 31 audit flagged"""


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return number


def subcommand(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    text: str,
    *,
    json: bool = True,
    registry: bool = True,
) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=text, description=text, epilog=EPILOG)
    if json:
        p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    if registry:
        p.add_argument(
            "--registry",
            type=Path,
            default=None,
            metavar="PATH",
            help=f"the registry database (default: $AIRGAP_HOST_REGISTRY or {default_registry()})",
        )
    return p


def scan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--in-process-decoder",
        action="store_true",
        help="decode frames in this process, not a memory-limited child (faster; less isolated)",
    )
