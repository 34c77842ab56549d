"""``host gui``: its arguments, and opening the window (or running a script in it, unattended).

Qt is imported only when the command runs: every other ``host`` command
builds the same parser and must not need a display, nor pay for loading Qt.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from airgap.link_defaults import DEFAULT_FPS, DEFAULT_MAX_FRAGMENT
from host.cli_args import positive, scan_options, subcommand
from host.context import Context
from host.errors import UsageError

#: What ``--script`` may ask for, in the order given.
SCRIPT_ACTIONS = ("show", "scan", "finalize", "verify", "quit")


def script(text: str) -> list[str]:
    """``show,scan,finalize`` as a list, each checked: a typo is a usage error before any window opens."""
    names = [word.strip() for word in text.split(",") if word.strip()]
    unknown = [n for n in names if n not in SCRIPT_ACTIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{', '.join(unknown) or 'nothing'}: the actions are {', '.join(SCRIPT_ACTIONS)}, comma-separated"
        )
    return names


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subcommand(
        sub,
        "gui",
        "the operator's window: vaults and balances, pending requests per station, show a request's "
        "animated QR full screen, scan the answers, finalize and verify",
        json=False,
    )
    p.add_argument("--display", type=int, default=0, metavar="N", help="the screen to fill (default 0)")
    p.add_argument("--request", metavar="REQUEST", help="choose this request (id or prefix) at the start")
    p.add_argument(
        "--source", metavar="SOURCE", help="where answers are scanned from: camera index, video or folder"
    )
    p.add_argument("--timeout", type=float, metavar="S", help="stop a scan after S seconds with nothing new")
    p.add_argument(
        "--out-dir",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="where finalize writes bundle-ID.cbor and its JSON copy (default: the current folder)",
    )
    p.add_argument(
        "--screenshots", type=Path, metavar="DIR", help="write requests.png, show.png, scan.png here"
    )
    p.add_argument(
        "--script",
        type=script,
        metavar="ACTIONS",
        help=f"unattended: perform these ({','.join(SCRIPT_ACTIONS)}) in order, print each result, then "
        "close; exit 0 if every one held, else 1",
    )
    p.add_argument("--fps", type=float, default=DEFAULT_FPS, help="the QR animation's frame rate")
    p.add_argument(
        "--density",
        type=positive,
        default=DEFAULT_MAX_FRAGMENT,
        metavar="BYTES",
        help="message bytes per frame",
    )
    scan_options(p)
    p.set_defaults(func=cmd_gui)


def cmd_gui(ctx: Context) -> int:
    a = ctx.args
    select = ctx.registry.find_request(a.request).request.request_id.hex() if a.request else None
    if a.script and "scan" in a.script and a.source is None:
        raise UsageError("--script scan needs --source: a camera index, video or frame folder")
    from airgap.window.app import qt_app

    app = qt_app()
    screens = app.screens()
    if not 0 <= a.display < len(screens):
        raise UsageError(f"--display {a.display}: there are {len(screens)} display(s), from 0")
    from host.gui.window import HostWindow, Options

    window = HostWindow(ctx, Options.from_args(a))
    try:
        window.open_on(screens[a.display], select)
        if not a.script:
            app.exec()
            return 0
        code = 0
        for name in a.script:
            outcome = window.perform(name, unattended=True)
            for line in outcome.report:
                ctx.out.write(f"{name}: {line}\n")
            ctx.out.flush()
            code |= 0 if outcome.ok else 1
            if name == "quit":
                break
        return code
    finally:
        window.close()
        window.deleteLater()
