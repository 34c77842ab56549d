"""The demo's Safe flavour: the same stations, cameras and host commands, with a 3-of-5 Safe on the
embedded EVM (the real Safe 1.4.1 bytecode in py-evm) instead of a Chia vault.

The stations' keys are secp256k1 keys generated in SoftHSM; their addresses
are the Safe's owners. An ETH transfer and an ERC-20 transfer go through the
full ceremony (one with a tampered copy refused on screen), the host
finalizes each into ``execTransaction`` calldata and the JSON the Safe
Transaction Service takes, and the Safe executes them: the balances are read
from the contract before and after.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from demo_steps import DAY, SIGNERS, STATIONS, Demo, SimulatedCalendar
from demo_transcript import Transcript, contains, require
from eth_utils.crypto import keccak

from custody.chains.evm.safe_tx import checksum

SAFE_VAULT = "safe-treasury"
SAFE_TREASURY = checksum(keccak(b"safe treasury")[-20:])
SAFE_HOT = checksum(keccak(b"safe hot wallet")[-20:])
SAFE_ATTACKER = checksum(keccak(b"attacker")[-20:])
ETH_AMOUNT = "12.5"
TOKEN_AMOUNT = "2500"
#: The fields the issue asks of DIR/safe-tx.json, all of which the host's Safe JSON carries.
SAFE_TX_FIELDS = [
    "chainId",
    "safe",
    "to",
    "value",
    "data",
    "operation",
    "safeTxGas",
    "baseGas",
    "gasPrice",
    "gasToken",
    "refundReceiver",
    "nonce",
    "safeTxHash",
    "signatures",
    "owners",
    "threshold",
]


class SafeDemo(Demo):
    vault = SAFE_VAULT
    algorithm = "secp256k1"
    attacker = SAFE_ATTACKER
    balance_lines = ("Safe 0x", " ETH", " TST", "owners", "0x[0-9a-fA-F]{40}: ")

    def define(self) -> None:
        from host.evm.logged import LoggedEvm

        token = checksum(LoggedEvm(self.dir / "host" / "probe.cbor").token)  # deterministic deployments
        with self.t.step(
            "host", "define the 3-of-5 vault; deploy its Safe on the embedded EVM, fund it"
        ) as lines:
            args = ["vault", "create", self.vault, "--threshold", "3", "--chain", "evm", "--asset", "ETH:18"]
            for station in STATIONS:
                args += ["--station", station]
            args += [
                *("--destination", SAFE_TREASURY, "--destination", SAFE_HOT, "--max-per-spend", "50"),
                *("--window-max", "100", "--window", "7d", "--cooldown", "1h", "--announce-delay", "0"),
                *("--announce-expiry", "0", "--rekey-delay", "7d", "--min-per-spend", "0.01"),
                *("--max-fee", "0", "--window-count", "10", "--max-request-lifetime", "2h"),
                *("--fund", "100", "--token", f"{token}:TST:18:5000:10000"),
            ]
            self.host(args, lines, show=contains("vault", "digest", "chain", "Safe", "token", "multisend"))
        with self.t.step("host", "the faucet pays 10,000 TST into the Safe") as lines:
            self.host(
                ["vault", "fund", self.vault, "--amount", "10000", "--token", "TST"],
                lines,
                show=contains("funded"),
            )

    def finalize_safe(self, request_id: str, bundle: Path) -> None:
        with self.t.step(
            "host", "finalize: signatures sorted by owner; execTransaction and Safe JSON"
        ) as lines:
            self.host(
                ["finalize", request_id[:8], "--out", str(bundle)],
                lines,
                show=contains("written", "SafeTx", "calldata", "Service"),
            )

    def submit(self, request_id: str) -> None:
        with self.t.step("host", "send execTransaction: the Safe contract checks the signatures") as lines:
            self.host(["submit", request_id[:8]], lines, show=contains("executed", "nonce"))


def safe_phases(demo: SafeDemo, t: Transcript, calendar: SimulatedCalendar, out: Path) -> None:
    with t.phase("key ceremonies at five stations (secp256k1 in the HSM)", calendar.label()):
        demo.key_ceremonies()
    with t.phase("host enrols the keys by QR, deploys the Safe and funds it", calendar.label()):
        demo.enrol_and_define()
        before = demo.balances(SAFE_TREASURY)
        require(" 100 ETH" in before and "10,000 TST" in before, "the Safe was not funded")
    with t.phase("policies installed and sealed at each station", calendar.label()):
        demo.install_policies()
    calendar.jump(2 * 3600)  # the cooldown counts from installation
    with t.phase("an ETH transfer: 3 of 5 sign; a tampered copy refused", calendar.label()):
        first = demo.ceremony(
            "eth-transfer",
            ["request", "withdraw", SAFE_VAULT, "--amount", ETH_AMOUNT, "--to", SAFE_TREASURY],
            SIGNERS,
            tamper=True,
        )
        demo.finalize_safe(first, out / "bundle.cbor")
        shutil.copyfile(out / "bundle-safe-tx.json", out / "safe-tx.json")
        body = json.loads((out / "safe-tx.json").read_text())
        require(all(k in body for k in SAFE_TX_FIELDS), "safe-tx.json lacks a field")
        demo.verify(out / "vault.cbor", out / "bundle.cbor")
        demo.submit(first)
        after = demo.balances(SAFE_TREASURY)
        require(" 87.5 ETH" in after, "the Safe's ETH did not move")
    calendar.jump(2 * 3600)
    with t.phase("an ERC-20 transfer at the next nonce", calendar.label()):
        second = demo.ceremony(
            "token-transfer",
            [
                "request",
                "withdraw",
                SAFE_VAULT,
                "--amount",
                TOKEN_AMOUNT,
                "--to",
                SAFE_TREASURY,
                "--token",
                "TST",
            ],
            SIGNERS,
            tamper=False,
        )
        demo.finalize_safe(second, out / "token-bundle.cbor")
        demo.submit(second)
        text = demo.balances(SAFE_TREASURY)
        require("7,500 TST" in text, "the Safe's tokens did not move")
    calendar.jump(DAY)
    with t.phase("the host audits every station's log", calendar.label()):
        demo.audits()
