#!/usr/bin/env python3
"""The demo: a 3-of-5 Chia cold vault from the key ceremonies to the audit, moving real coins on the
SDK's Chia Simulator, with SoftHSM stations and simulated cameras.

Five stations, each with its own SoftHSM token, custodian cards (any 3 of 5)
and state under DIR/stations; one host, whose chain is the Simulator logged
beside its registry. The vault is firmware-config/policies/cold-vault.toml in
the prefarm's pattern, enforced by the chain: a withdrawal pays into a
clawback coin, a quorum can claw it back, and once the clawback has expired
anyone pushes the payment through. The stations and the host share a
simulated calendar that jumps the 30-day cooldowns and the 90-day clawback;
the Simulator's block time follows it. Nothing else is simulated.

Exit 0 only when every step held. No camera, screen or network is used: with
``--ui window`` the stations' and the host's windows run on a virtual display
(Xvfb) and leave their screenshots under DIR/screens/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from demo_bitcoin import BTC_VAULT, BitcoinDemo, bitcoin_phases
from demo_display import DisplayUnavailable, Screens, virtual_display
from demo_evm import SAFE_VAULT, SafeDemo, safe_phases
from demo_steps import (
    AMOUNT,
    CANCEL_SIGNERS,
    DAY,
    FEE,
    SIGNERS,
    SOFTHSM_MODULE,
    TREASURY,
    VAULT,
    Demo,
    SimulatedCalendar,
)
from demo_transcript import StepFailed, Transcript, require

from airgap.progress import TaskBar

MARKER = ".airgap-demo"
#: Each chain's demo, and what it runs.
FLAVOURS: dict[str, tuple[type[Demo], str]] = {
    "chia": (Demo, f"3-of-5 Chia cold vault {VAULT!r} on the Chia Simulator"),
    "evm": (SafeDemo, f"3-of-5 Safe vault {SAFE_VAULT!r} on the embedded EVM (Safe 1.4.1 in py-evm)"),
    "bitcoin": (
        BitcoinDemo,
        f"2-of-3 Bitcoin vault {BTC_VAULT!r} (wsh sortedmulti) on a litecoind regtest node",
    ),
}

#: How many phases each chain's demo runs, for the bar on stderr (a demo that runs more just fills it).
PHASE_COUNTS = {"chia": 8, "evm": 6, "bitcoin": 6}


def prepare(out: Path) -> None:
    """A fresh demo folder; a previous demo's folder is replaced, anything else is left alone."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise FileExistsError(
                f"{out} is not empty and not a previous demo's folder; choose another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by scripts/demo; it replaces this folder when run again\n")


def isolate_softhsm(out: Path, module: str) -> None:
    """Every token of this demo lives under DIR/softhsm, not in the machine's own token store."""
    from appliance.hsm.pkcs11_signer import load_module

    tokens = out / "softhsm" / "tokens"
    tokens.mkdir(parents=True)
    conf = out / "softhsm" / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    load_module(module).reinitialize()


def run_demo(
    out: Path,
    streams: Sequence[TextIO],
    *,
    start: int | None = None,
    seed: int = 2026,
    chain: str = "chia",
    ui: str = "terminal",
) -> int:
    if ui == "window":
        try:
            with virtual_display() as display:
                return _run_demo(out, streams, start, seed, chain, display)
        except DisplayUnavailable as exc:
            for stream in streams:
                stream.write(f"demo: no display for the windows: {exc}\n")
            return 1
    return _run_demo(out, streams, start, seed, chain, None)


def _run_demo(
    out: Path, streams: Sequence[TextIO], start: int | None, seed: int, chain: str, display: str | None
) -> int:
    wall = time.perf_counter()
    if not Path(SOFTHSM_MODULE).is_file():
        for stream in streams:
            stream.write(f"demo: SoftHSM2 is not installed ({SOFTHSM_MODULE}); run scripts/setup\n")
        return 1
    isolate_softhsm(out, SOFTHSM_MODULE)
    bar = TaskBar(sys.stderr, total=PHASE_COUNTS[chain])
    t = Transcript(streams, out, bar=bar)
    calendar = SimulatedCalendar(start if start is not None else int(time.time()))
    demo = FLAVOURS[chain][0](out, t, calendar, seed)
    t.say(f"{FLAVOURS[chain][1]}: SoftHSM stations, one host, simulated cameras; folder {out}")
    if display is not None:
        demo.screens = Screens(out / "screens")
        t.say(
            f"the stations' and the host's windows run on the virtual display {display} (Xvfb); "
            f"their screenshots are kept in {out / 'screens'}"
        )
    t.say("times on the left are this machine's; the calendar is simulated so the vault's delays can pass")
    try:
        with bar:  # gone before the verdict and the summary
            if isinstance(demo, SafeDemo):
                safe_phases(demo, t, calendar, out)
            elif isinstance(demo, BitcoinDemo):
                bitcoin_phases(demo, t, calendar, out)
            else:
                phases(demo, t, calendar, out)
    except StepFailed as exc:
        t.say(f"\nFAILED: {exc}")
        t.summary(time.perf_counter() - wall)
        return 1
    except Exception as exc:  # the demo's own plumbing (a full disk, say): reported, never a traceback
        (out / "error.txt").write_text(traceback.format_exc())
        t.say(f"\nFAILED: {type(exc).__name__}: {exc} (details in {out / 'error.txt'})")
        return 1
    t.summary(time.perf_counter() - wall)
    if chain == "bitcoin":
        t.say(
            f"\nOK: every step held. Left in {out}: final.psbt (the finalized PSBT, base64), tx.hex (the raw "
            "transaction the node accepted and mined), descriptor.txt (the vault's BIP-380 descriptor), "
            "bundle.cbor, vault.cbor, audit/, stations/, host/, node/ (the regtest node's data), commands/."
        )
        t.say(f"check it yourself: host verify --vault {out}/vault.cbor --bundle {out}/bundle.cbor")
        return 0
    if chain == "evm":
        t.say(
            f"\nOK: every step held. Left in {out}: safe-tx.json (the ETH transfer as the Safe Transaction "
            "Service takes it), bundle.cbor, bundle-exec.hex (its execTransaction calldata), "
            "token-bundle*.{cbor,json,hex}, vault.cbor, audit/, stations/, host/ (registry and EVM log), "
            "commands/."
        )
        t.say(f"check it yourself: host verify --vault {out}/vault.cbor --bundle {out}/bundle.cbor")
        return 0
    t.say(
        f"\nOK: every step held. Left in {out}: vault.cbor, bundle.cbor (the paid withdrawal's approval), "
        "spend-bundle.json (its spend, as push_tx takes it), release-spend-bundle.json (the payout), "
        "announce-bundle.cbor, cancel-bundle.cbor, audit/, stations/, host/ (registry and chain log), "
        "commands/ (each command's full output)."
    )
    t.say(f"check it yourself: host verify --vault {out}/vault.cbor --bundle {out}/bundle.cbor")
    return 0


def phases(demo: Demo, t: Transcript, calendar: SimulatedCalendar, out: Path) -> None:
    with t.phase("key ceremonies at five stations", calendar.label()):
        demo.key_ceremonies()
    with t.phase("host enrols the keys by QR, mints and funds", calendar.label()):
        demo.enrol_and_define()
        demo.balances()
    with t.phase("policies installed and sealed at each station", calendar.label()):
        demo.install_policies()
    calendar.jump(30 * DAY + 3600)  # the cooldown counts from installation
    with t.phase("announce: 3 of 5 sign; a tampered copy refused", calendar.label()):
        first = demo.ceremony(
            "announce",
            ["request", "announce", VAULT, "--amount", AMOUNT, "--to", TREASURY, "--fee", FEE],
            SIGNERS,
            tamper=True,
        )
        demo.finalize(first, out / "announce-bundle.cbor")
        demo.submit(first)
        text = demo.balances()
        require("in its clawback" in text, "the announcement's clawback coin is not on chain")
    calendar.jump(DAY)
    with t.phase("cancel: another 3 of 5 claw it back", calendar.label()):
        cancel = demo.ceremony("cancel", ["request", "cancel", first[:8]], CANCEL_SIGNERS, tamper=False)
        demo.finalize(cancel, out / "cancel-bundle.cbor")
        demo.submit(cancel)
        text = demo.balances(TREASURY)
        require("cancelled: clawed back" in text, "the clawback coin was not taken back")
    calendar.jump(30 * DAY + 3600)  # the cooldown again, since the cancellation
    with t.phase("announce again; the chain holds it 90 days", calendar.label()):
        second = demo.ceremony(
            "announce-2",
            ["request", "announce", VAULT, "--amount", AMOUNT, "--to", TREASURY, "--fee", FEE],
            SIGNERS,
            tamper=False,
        )
        demo.finalize(second, out / "bundle.cbor", out / "spend-bundle.json")
        demo.verify(out / "vault.cbor", out / "bundle.cbor")
        demo.submit(second)
        demo.balances(TREASURY)
    calendar.jump(98 * DAY)  # the clawback: 90 days after the last moment a station could have signed
    with t.phase("release: the payment pushed through, unsigned", calendar.label()):
        demo.release(second, out / "release-spend-bundle.json")
        text = demo.balances(TREASURY)
        require(f"{TREASURY}: {int(AMOUNT):,} TXCH" in text, "the treasury did not receive the payment")
        require("paid out" in text, "the announcement is not shown as paid out")
    with t.phase("the host audits every station's log", calendar.label()):
        demo.audits()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="the demo's folder (replaced if a demo's)"
    )
    parser.add_argument("--seed", type=int, default=2026, help="the camera simulator's seed")
    parser.add_argument(
        "--chain", choices=tuple(FLAVOURS), default="chia", help="the vault's chain (default: chia)"
    )
    parser.add_argument(
        "--ui",
        choices=("terminal", "window"),
        default="terminal",
        help="window: the stations' and the host's windows on a virtual display, screenshots in DIR/screens",
    )
    args = parser.parse_args(argv)
    out = args.out.resolve()
    try:
        prepare(out)
    except FileExistsError as exc:
        sys.stderr.write(f"demo: {exc}\n")
        return 2
    with (out / "transcript.txt").open("w") as saved:
        return run_demo(out, (sys.stdout, saved), seed=args.seed, chain=args.chain, ui=args.ui)


if __name__ == "__main__":
    sys.exit(main())
