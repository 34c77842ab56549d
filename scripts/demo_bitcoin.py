"""The demo's Bitcoin flavour: a 2-of-3 ``wsh(sortedmulti)`` vault on a regtest node, with SoftHSM
stations, simulated cameras and the same host commands.

The node is Debian's ``litecoind`` on regtest (a Bitcoin Core 0.21 fork whose
segwit v0, BIP-143 and CHECKMULTISIG rules are Bitcoin's; CHAINS.md), bound
to 127.0.0.1 under DIR/node and stopped at the end. Its wallet plays the
outside world: it pays two coins to the vault's address. One withdrawal goes
through the ceremony (a tampered copy refused on screen); the host finalizes
the PSBT, the interpreter and the node judge it, and the node mines it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from demo_steps import DAY, Demo, SimulatedCalendar
from demo_transcript import Transcript, contains, require
from embit import bech32

from custody.chains.bitcoin.script import script_of
from host.chain.bitcoin_regtest import RegtestNode
from host.chain.bitcoin_rpc import ENV_COOKIE, ENV_URL, balance_of

BTC_VAULT = "btc-vault"
BTC_STATIONS = ("station-1", "station-2", "station-3")
BTC_SIGNERS = ("station-3", "station-1")  # any 2 of the 3
COINS = (200_000_000, 150_000_000)  # what the node's wallet pays into the vault, in sats
AMOUNT = "1.2"


def _address(seed: bytes) -> str:
    return str(bech32.encode("bcrt", 0, hashlib.sha256(seed).digest()[:20]))


BTC_TREASURY = _address(b"btc treasury")
BTC_ATTACKER = _address(b"attacker")


class BitcoinDemo(Demo):
    vault = BTC_VAULT
    algorithm = "secp256k1"
    attacker = BTC_ATTACKER
    stations = BTC_STATIONS
    shown_tampered = "station-2"
    balance_lines = ("on Bitcoin", "address", "bcrt1")

    def __init__(self, out: Path, transcript: Transcript, calendar: SimulatedCalendar, seed: int) -> None:
        super().__init__(out, transcript, calendar, seed)
        self.node = RegtestNode(out / "node")

    def start_node(self) -> None:
        with self.t.step("node", "start litecoind on regtest, 127.0.0.1 only; mine 101 blocks") as lines:
            self.node.start()
            os.environ[ENV_URL] = self.node.url
            os.environ[ENV_COOKIE] = str(self.node.cookie_path)
            lines.append(f"RPC {self.node.url}; data under {self.t.short(str(self.node.datadir))}/")

    def define(self) -> None:
        with self.t.step(
            "host", "define the 2-of-3 vault: its address is wsh(sortedmulti) of the keys"
        ) as lines:
            args = ["vault", "create", self.vault, "--threshold", "2", "--chain", "bitcoin"]
            for station in self.stations:
                args += ["--station", station]
            args += [
                *("--network", "regtest", "--max-fee-rate", "50", "--asset", "BTC:8"),
                *("--destination", BTC_TREASURY, "--max-per-spend", "2", "--window-max", "3"),
                *("--window", "7d", "--cooldown", "1h", "--announce-delay", "0", "--announce-expiry", "0"),
                *("--rekey-delay", "7d", "--min-per-spend", "0.001", "--max-fee", "0.001"),
                *("--window-count", "10", "--max-request-lifetime", "2h"),
            ]
            self.host(args, lines, show=contains("vault", "digest", "chain", "address", "descriptor"))
        with self.t.step("host", "export the BIP-380 descriptor for a watch-only wallet") as lines:
            out = self.dir / "descriptor.txt"
            self.host(
                ["vault", "export", self.vault, "--format", "descriptor", "--out", str(out)],
                lines,
                show=contains(r"wsh\(", "written", "change"),
            )
            require("#" in out.read_text(), "the descriptor has no checksum")
        with self.t.step("node", "the outside world pays two coins to the vault's address") as lines:
            script = self.vault_script()
            for sats in COINS:
                txid, vout = self.node.fund(script, sats)
                lines.append(f"{sats} sats in {txid.hex()}:{vout}, mined")

    def vault_script(self) -> bytes:
        from custody.chains.bitcoin.script import vault_script_pubkey
        from custody.schemas.vault import VaultDefinition

        with self.t.step("host", "read the vault's definition back") as lines:
            exported = self.dir / "vault.cbor"
            self.host(["vault", "export", self.vault, "--out", str(exported)], lines, show=contains("digest"))
        return vault_script_pubkey(VaultDefinition.from_cbor(exported.read_bytes()))

    def finalize_btc(self, request_id: str, bundle: Path) -> None:
        with self.t.step(
            "host", "finalize: M signatures per input, the interpreter runs every input"
        ) as lines:
            self.host(
                ["finalize", request_id[:8], "--out", str(bundle)],
                lines,
                show=contains("written", "transaction", "PSBT"),
            )

    def submit(self, request_id: str) -> None:
        with self.t.step("host", "broadcast through the node's RPC") as lines:
            self.host(["submit", request_id[:8]], lines, show=contains("broadcast"))
        with self.t.step("node", "mine a block: the consensus verdict") as lines:
            lines.append(f"block {self.node.mine(1)[0]}")


def bitcoin_phases(demo: BitcoinDemo, t: Transcript, calendar: SimulatedCalendar, out: Path) -> None:
    try:
        with t.phase("a regtest node (Bitcoin's segwit v0 rules)", calendar.label()):
            demo.start_node()
        with t.phase("key ceremonies at three stations (secp256k1 in the HSM)", calendar.label()):
            demo.key_ceremonies()
        with t.phase("host enrols the keys by QR, defines the vault; the node funds it", calendar.label()):
            demo.enrol_and_define()
            require("3.5 BTC" in demo.balances(), "the vault was not funded")
        with t.phase("policies installed and sealed at each station", calendar.label()):
            demo.install_policies()
        calendar.jump(2 * 3600)  # the cooldown counts from installation
        with t.phase("a withdrawal: 2 of 3 sign every input; a tampered copy refused", calendar.label()):
            first = demo.ceremony(
                "btc-withdrawal",
                [
                    "request",
                    "withdraw",
                    BTC_VAULT,
                    "--amount",
                    AMOUNT,
                    "--to",
                    BTC_TREASURY,
                    "--fee-rate",
                    "5",
                ],
                BTC_SIGNERS,
                tamper=True,
            )
            demo.finalize_btc(first, out / "bundle.cbor")
            shutil.copyfile(out / "bundle-final.psbt", out / "final.psbt")
            shutil.copyfile(out / "bundle-tx.hex", out / "tx.hex")
            demo.verify(out / "vault.cbor", out / "bundle.cbor")
            demo.submit(first)
            paid = balance_of(demo.node.rpc, script_of(BTC_TREASURY, "regtest"))
            require(paid == 120_000_000, f"the treasury holds {paid} sats, not 1.2 BTC")
            demo.balances(BTC_TREASURY)
        calendar.jump(DAY)
        with t.phase("the host audits every station's log", calendar.label()):
            demo.audits()
    finally:
        demo.node.stop()
