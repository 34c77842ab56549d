"""A throwaway local ``litecoind`` regtest node, for the demo and the tests; never for real coins.

Litecoin Core 0.21 is a fork of Bitcoin Core 0.21 whose segwit v0 consensus
rules are Bitcoin's (only address prefixes differ: ``rltc1`` on regtest, the
scriptPubKey bytes are the same), so its verdict on a mined block is the
tests' judge of the Bitcoin transactions the stations sign. MWEB is pushed
out of reach with ``-vbparams`` (once it activates, ``generateblock`` asserts).

The node listens on 127.0.0.1 only: RPC on a free port with cookie auth, and
no P2P listener at all (``-listen=0``; 0.21 refuses ``-bind`` beside it).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from embit.networks import NETWORKS
from embit.script import Script

from host.chain.bitcoin_rpc import SATS_PER_BTC, BitcoinRpc, RpcError, mempool_accept, to_sats

LITECOIND = "litecoind"
WALLET = "miner"
START_SECONDS = 60.0
STOP_SECONDS = 30.0
#: Litecoin's regtest is Bitcoin's but for the bech32 prefix.
LITECOIN_REGTEST = {**NETWORKS["regtest"], "bech32": "rltc"}
RPC_WALLET_EXISTS = -4
RPC_WALLET_ALREADY_LOADED = -35


def litecoin_address(script_pubkey: bytes) -> str:
    """The regtest address (``rltc1...`` for segwit) the node's wallet needs to pay this script."""
    return str(Script(script_pubkey).address(LITECOIN_REGTEST))


def btc_string(sats: int) -> str:
    """Satoshis as the exact 8-decimal BTC string the RPC takes (a float would round)."""
    return f"{sats // SATS_PER_BTC}.{sats % SATS_PER_BTC:08d}"


class RegtestNode:
    def __init__(self, datadir: Path) -> None:
        self.datadir = Path(datadir)
        self.process: subprocess.Popen[bytes] | None = None
        self.rpc_port = 0
        self._rpc: BitcoinRpc | None = None
        self._wallet: BitcoinRpc | None = None
        self._address = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}"

    @property
    def cookie_path(self) -> Path:
        return self.datadir / "regtest" / ".cookie"

    @property
    def rpc(self) -> BitcoinRpc:
        if self._rpc is None:
            raise RpcError("the regtest node is not running")
        return self._rpc

    @property
    def wallet(self) -> BitcoinRpc:
        """The miner wallet's endpoint (wallet calls go to ``/wallet/<name>``)."""
        if self._wallet is None:
            raise RpcError("the regtest node is not running")
        return self._wallet

    def start(self) -> None:
        """Run the node, wait until its RPC answers, and mine 101 blocks so the miner can spend."""
        binary = shutil.which(LITECOIND)
        if binary is None:
            raise RpcError(f"{LITECOIND} is not installed")
        self.datadir.mkdir(parents=True, exist_ok=True)
        self.rpc_port, p2p_port = _free_port(), _free_port()
        args = [
            binary, "-regtest", f"-datadir={self.datadir}", "-txindex=1", "-server=1", "-daemon=0",
            "-printtoconsole=0", "-fallbackfee=0.0001", "-vbparams=mweb:4102444800:4102444801",
            f"-rpcport={self.rpc_port}", f"-port={p2p_port}", "-rpcbind=127.0.0.1", "-rpcallowip=127.0.0.1",
            "-listen=0", "-listenonion=0", "-discover=0", "-dnsseed=0", "-upnp=0",
        ]  # fmt: skip
        with (self.datadir / "litecoind.log").open("ab") as log:
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            self._await_rpc(self.process)
            self._open_wallet()
            self._address = str(self.wallet.call("getnewaddress", "", "bech32"))
            if int(self.rpc.call("getblockcount")) < 101:
                self.mine(101)
        except BaseException:
            self.stop()
            raise

    def _await_rpc(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                raise RpcError(f"{LITECOIND} exited with {process.returncode}: {self._log_tail()}")
            try:
                cookie = self.cookie_path.read_text().strip()
                user, _, password = cookie.partition(":")
                self._rpc = BitcoinRpc(self.url, user=user, password=password)
                self._rpc.call("getblockcount")
                self._wallet = BitcoinRpc(f"{self.url}/wallet/{WALLET}", user=user, password=password)
                return
            except (OSError, RpcError) as exc:  # no cookie yet, not listening yet, or still warming up
                if time.monotonic() > deadline:
                    raise RpcError(f"{LITECOIND} did not answer within {START_SECONDS:g} s: {exc}") from None
            time.sleep(0.1)

    def _open_wallet(self) -> None:
        try:
            self.rpc.call("createwallet", WALLET)
        except RpcError as exc:
            if exc.code != RPC_WALLET_EXISTS:
                raise
            try:
                self.rpc.call("loadwallet", WALLET)
            except RpcError as again:
                if again.code != RPC_WALLET_ALREADY_LOADED:
                    raise

    def stop(self) -> None:
        """Ask the node to stop, then make sure it has: terminate, then kill, each after a bound."""
        process, self.process = self.process, None
        if self._rpc is not None and process is not None and process.poll() is None:
            with contextlib.suppress(RpcError):  # it may already be on its way out
                self._rpc.call("stop")
        self._rpc = self._wallet = None
        if process is None:
            return
        for escalate in (process.terminate, process.kill):
            try:
                process.wait(STOP_SECONDS)
                return
            except subprocess.TimeoutExpired:
                escalate()
        process.wait()

    def __enter__(self) -> RegtestNode:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def mine(self, n: int = 1) -> list[str]:
        """Mine ``n`` blocks to the miner wallet; their hashes."""
        return list(self.rpc.call("generatetoaddress", n, self._address))

    def fund(self, script_pubkey: bytes, sats: int) -> tuple[bytes, int]:
        """Pay ``sats`` to the script from the miner wallet and confirm it: (txid in display order, vout)."""
        txid = str(self.wallet.call("sendtoaddress", litecoin_address(script_pubkey), btc_string(sats)))
        self.mine(1)
        tx = self.rpc.call("getrawtransaction", txid, True)
        for out in tx["vout"]:
            if out["scriptPubKey"]["hex"] == script_pubkey.hex() and to_sats(out["value"]) == sats:
                return bytes.fromhex(txid), int(out["n"])
        raise RpcError(f"the funding transaction {txid} does not pay the script")

    def mine_tx(self, raw_tx: bytes) -> str:
        """Mine a block holding exactly this transaction: the consensus verdict (RpcError if invalid).

        0.21 reports only "block-validation-failed" (the script error stays in its check queue), so the
        mempool's reason is added as a hint; the mempool's own verdict is policy, not consensus.
        """
        try:
            return str(self.rpc.call("generateblock", self._address, [raw_tx.hex()])["hash"])
        except RpcError as exc:
            hint = mempool_accept(self.rpc, raw_tx)[1] or "accepted"
            raise RpcError(f"{exc}; the mempool says: {hint}", exc.code) from None

    def _log_tail(self) -> str:
        try:
            lines = (self.datadir / "litecoind.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return lines[-1] if lines else "(empty log)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
