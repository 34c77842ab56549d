"""The demo's steps: each station and host action as typed, and each hand-over filmed as QR.

``demo_ceremony`` runs them in order. Every station step is the ``appliance``
command a custodian would type and every host step the ``host`` command an
operator would type, run in this process; every hand-over between them is QR
frames on a screen, filmed by the camera simulator, as in the vault room.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from demo_display import Screens, host_window_scan, host_window_show
from demo_transcript import StepFailed, Transcript, contains, require

from airgap.camera.frames import ImageFolderSource
from airgap.camera.simulator import PROFILES, CameraSimulator
from airgap.link_defaults import DEFAULT_FPS, DEFAULT_MAX_FRAGMENT
from airgap.qr.render import animation_frames
from airgap.qr.sinks import write_png_folder
from airgap.scan import scan
from airgap.ur.ur import UR, URDecoder
from appliance.cli import main as appliance_main
from custody.chains.chia.custody import address
from custody.schemas.chain import CHIA_NETWORKS
from custody.schemas.key_record import KeyRecord
from custody.schemas.request import UR_TYPE as REQUEST_UR_TYPE
from custody.schemas.request import Announce, Execute, SpendRequest, Withdraw
from host.cli import main as host_main

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "firmware-config" / "policies" / "cold-vault.toml"
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"

VAULT = "cold-prefarm"
STATIONS = tuple(f"station-{n}" for n in range(1, 6))
SIGNERS = ("station-2", "station-4", "station-5")  # any 3 of the 5; deliberately not the first three
# Another quorum cancels: stations 1 and 3 never signed the announcement, and check it from the
# signed history the cancellation carries (docs/vault-wide.md).
CANCEL_SIGNERS = ("station-1", "station-3", "station-4")
SHOWN_TAMPERED = "station-1"
AMOUNT = "1250"
FEE = "0.0001"
FUNDING = ("4000", "3000", "2500", "500")  # the coins the faucet pays into the new vault
NET = CHIA_NETWORKS["simulator"]
TREASURY = address(hashlib.sha256(b"cold treasury").digest(), NET)
HOT_REFILL = address(hashlib.sha256(b"hot vault refill").digest(), NET)
ATTACKER = address(hashlib.sha256(b"attacker").digest(), NET)
DAY = 86_400
FLIPS = 128  # tampered copies of the bundle the demo checks; the tests check every byte

STATION_CAMERA = "480p-appliance"  # what a station's camera reads off the host's screen
HOST_CAMERA = "720p-webcam"  # what the host's webcam reads off a station's screen

# Which custodians bring their cards to which ceremony: any 3 of the 5 open a station.
KEYGEN_CARDS = (1, 2, 3)
INSTALL_CARDS = (2, 4, 5)
SIGNING_CARDS = (1, 3, 5)


def film_seconds(frames: int) -> float:
    """How long a camera films a screen looping ``frames``: two loops and a second more.

    One loop lost a frame the fountain code could not make up for about one seed in fifty with a
    12-frame audit export, failing the demo now and then (tests/scripts/test_demo.py names it)."""
    return 1.0 + 2 * frames / DEFAULT_FPS


class SimulatedCalendar:
    """One clock for the stations and the host, so the vault's delays can pass in seconds."""

    def __init__(self, start: int) -> None:
        self.start = self.now = start

    def __call__(self) -> int:
        return self.now

    def jump(self, seconds: int) -> None:
        self.now += seconds

    def label(self) -> str:
        day = (self.now - self.start) // DAY
        return f"day {day}, {datetime.fromtimestamp(self.now, UTC):%Y-%m-%d %H:%M} UTC on the demo calendar"


class Demo:
    """The Chia cold vault's demo; ``demo_evm.SafeDemo`` changes the vault, the key and the chain."""

    vault = VAULT
    algorithm = "p256"
    attacker = ATTACKER
    stations = STATIONS
    shown_tampered = SHOWN_TAMPERED
    balance_lines: tuple[str, ...] = ("on Chia", "coins ", "announcement", "txch1")
    screens: Screens | None = None  # --ui window: the windows' screenshots

    def __init__(self, out: Path, transcript: Transcript, calendar: SimulatedCalendar, seed: int) -> None:
        self.dir = out
        self.t = transcript
        self.calendar = calendar
        self.seed = seed
        self.registry = out / "host" / "registry.db"
        self.commitment = ""

    # -- the two tools, as typed ------------------------------------------------

    def appliance(
        self, argv: Sequence[str], lines: list[str], show: Callable[[str], bool] | None = None
    ) -> str:
        return self.t.run("appliance", appliance_main, argv, lines=lines, show=show, clock=self.calendar)

    def host(self, argv: Sequence[str], lines: list[str], show: Callable[[str], bool] | None = None) -> str:
        argv = [*argv, "--registry", str(self.registry)]
        return self.t.run("host", host_main, argv, lines=lines, show=show, clock=self.calendar)

    # -- places -------------------------------------------------------------------

    def state(self, station: str) -> Path:
        return self.dir / "stations" / station / "state"

    def cards(self, station: str, numbers: Sequence[int]) -> list[str]:
        folder = self.dir / "stations" / station / "cards"
        return [str(next(folder.glob(f"*card-{n}.txt"))) for n in numbers]

    # -- the air gap --------------------------------------------------------------

    def film(self, who: str, screen: Path, camera: Path, profile: str) -> None:
        """A camera watching a screen loop the frames in ``screen``; what it captured goes to ``camera``."""
        with self.t.step(who, f"{profile} camera films the screen") as lines:
            shown = [f.image for f in ImageFolderSource(screen).frames() if f.image is not None]
            require(bool(shown), f"no frames on the screen at {screen}")
            seconds = film_seconds(len(shown))
            self.seed += 1
            captured = [
                image for _, image in CameraSimulator(shown, PROFILES[profile], self.seed).capture(seconds)
            ]
            write_png_folder(captured, camera)
            lines.append(
                f"{len(shown)} frame(s) on screen for {seconds:.1f} s -> {len(captured)} camera frames "
                f"in {self.t.short(str(camera))}/"
            )

    # -- phases -------------------------------------------------------------------

    def key_ceremonies(self) -> None:
        for station in self.stations:
            home = self.dir / "stations" / station
            uri = f"pkcs11:token={station}?module-path={SOFTHSM_MODULE}"
            with self.t.step(station, "initialise the token; 5 custodian cards, any 3 open it") as lines:
                self.appliance(
                    [
                        "init",
                        "--token-uri",
                        uri,
                        "--custodians",
                        "5",
                        "--threshold",
                        "3",
                        "--cards-out",
                        str(home / "cards"),
                        "--state",
                        str(self.state(station)),
                    ],
                    lines,
                    show=contains("token ", "cards written"),
                )
            with self.t.step(
                station, f"generate the vault key inside the HSM (cards {KEYGEN_CARDS})"
            ) as lines:
                cards = [a for c in self.cards(station, KEYGEN_CARDS) for a in ("--card", c)]
                self.appliance(
                    [
                        "keygen",
                        "--state",
                        str(self.state(station)),
                        *cards,
                        "--label",
                        self.vault,
                        "--algorithm",
                        self.algorithm,
                        "--out",
                        str(home / "key.cbor"),
                    ],
                    lines,
                    show=contains("generated", "key id"),
                )
            with self.t.step(station, "show the public key record as QR") as lines:
                self.appliance(
                    [
                        "export-key",
                        "--state",
                        str(self.state(station)),
                        "--label",
                        self.vault,
                        "--qr-out",
                        str(home / "key-qr"),
                    ],
                    lines,
                    show=contains("frames"),
                )

    def enrol_and_define(self) -> None:
        for station in self.stations:
            home = self.dir / "stations" / station
            camera = self.dir / "host" / "camera" / f"{station}-key"
            self.film("host", home / "key-qr", camera, HOST_CAMERA)
            with self.t.step("host", f"enrol {station} from what the webcam saw") as lines:
                text = self.host(["enrol", "--scan", str(camera)], lines, show=contains("enrolled", "key id"))
                key_id = KeyRecord.from_cbor((home / "key.cbor").read_bytes()).key_id.hex()
                grouped = " ".join(key_id[i : i + 8] for i in range(0, 64, 8))
                require(grouped in text, f"the key id the host shows is not the one {station} generated")
                lines.append(f"the custodians read it back: it matches {station}'s key id, group by group")
        self.define()
        with self.t.step("host", "publish a salted commitment to the definition") as lines:
            text = self.host(["vault", "commit", self.vault], lines, show=contains("^  [0-9a-f]{64}$"))
            self.commitment = next(w for w in text.split() if len(w) == 64)
        with self.t.step("host", "write each station's policy file") as lines:
            self.host(
                ["vault", "export-policy", self.vault, "--out-dir", str(self.dir / "policies")],
                lines,
                show=contains(""),
            )

    def define(self) -> None:
        with self.t.step(
            "host", "define the 3-of-5 vault from the cold-vault template; mint it on chain, fund it"
        ) as lines:
            args = ["vault", "create", self.vault, "--threshold", "3", "--template", str(TEMPLATE)]
            for station in STATIONS:
                args += ["--station", station]
            args += ["--destination", TREASURY, "--destination", HOT_REFILL, "--chain", "simulator"]
            for amount in FUNDING:
                args += ["--fund", amount]
            self.host(args, lines, show=contains("vault", "digest", "launcher", "custody", "address", "slow"))

    def install_policies(self) -> None:
        for station in self.stations:
            policy = self.dir / "policies" / f"{self.vault}-{station}.toml"
            with self.t.step(station, f"review, cards {INSTALL_CARDS}, install and seal the policy") as lines:
                self.appliance(
                    [
                        "policy",
                        "install",
                        str(policy),
                        "--state",
                        str(self.state(station)),
                        "--approve-with-cards",
                        *self.cards(station, INSTALL_CARDS),
                    ],
                    lines,
                    show=contains("installed and sealed", "vault digest"),
                )

    def new_request(self, argv: Sequence[str], name: str) -> tuple[str, Path]:
        """The host builds a request and puts it on its screen (as PNG frames); its id and the frames."""
        with self.t.step("host", f"build the {name}; every station's policy checked first") as lines:
            text = self.host(
                argv,
                lines,
                show=contains(r"^request ", "TXCH", " ETH ", " TST ", " BTC ", "needed", "expires"),
            )
            request_id = text.split()[1]
        screen = self.dir / "host" / "screen" / name
        with self.t.step("host", f"show the {name} as animated QR") as lines:
            self.host(["show", request_id[:8], "--out", str(screen)], lines, show=contains("frames"))
        host_window_show(self, request_id, name)
        return request_id, screen

    def station_run(
        self, station: str, screen: Path, name: str, what: str, show: Callable[[str], bool]
    ) -> tuple[str, Path]:
        """The station films a screen and runs its ceremony on what it saw; its output and answer frames."""
        camera = self.dir / "stations" / station / "camera" / name
        answers = self.dir / "stations" / station / "answers" / name
        self.film(station, screen, camera, STATION_CAMERA)
        window = ["--ui", "window", *self.screens.args()] if self.screens is not None else []
        with self.t.step(station, what) as lines:
            text = self.appliance(
                [
                    "run",
                    "--state",
                    str(self.state(station)),
                    "--source",
                    str(camera),
                    "--approve-with-cards",
                    *self.cards(station, SIGNING_CARDS),
                    "--answers",
                    str(answers),
                    "--show",
                    "none",
                    *window,
                ],
                lines,
                show=show,
            )
            if self.screens is not None and (kept := self.screens.gather()):
                lines.append(f"the window's screens kept in screens/: {', '.join(kept)}")
        return text, next(p for p in answers.iterdir() if p.is_dir())

    def sign_at(self, station: str, screen: Path, name: str, *, full_review: bool) -> Path:
        """The station reviews, takes cards and signs; its answer's screen frames."""
        review = contains("") if full_review else contains("^verdict", "signed", "REFUSED", "answer written")
        what = f"review every field, cards {SIGNING_CARDS}, sign, log, show answer"
        text, answer = self.station_run(station, screen, name, what, review)
        require("done: 1 signed, 0 refused" in text, f"{station} did not sign exactly one request")
        return answer

    def refuse_at(self, station: str, genuine: Path, name: str) -> Path:
        """Someone on the networked side swaps the destination; the station refuses, and says why."""
        with self.t.step("attacker", f"rewrite the {name}'s destination and re-render its QR") as lines:
            result = scan(
                ImageFolderSource(genuine).frames(), URDecoder(expected_types=frozenset({REQUEST_UR_TYPE}))
            )
            if result.ur is None:
                raise StepFailed("could not read the genuine request off the host's screen")
            request = SpendRequest.from_cbor(result.ur.cbor)
            if not isinstance(request.action, Announce | Execute | Withdraw):
                raise StepFailed(f"the request is a {request.action.kind.value}, which names no destination")
            forged = replace(request, action=replace(request.action, destination=self.attacker))
            screen = self.dir / "attacker" / "screen" / name
            write_png_folder(
                animation_frames(UR(REQUEST_UR_TYPE, forged.to_cbor()), DEFAULT_MAX_FRAGMENT), screen
            )
            lines.append(
                f"destination {self.attacker}; request id unchanged; digest {forged.digest().hex()[:16]}…"
            )
        what = "review the tampered copy: the station refuses before any card"
        text, answer = self.station_run(
            station, screen, f"{name}-tampered", what, contains("FAIL", "^verdict", "done:")
        )
        require("done: 0 signed, 1 refused" in text, f"{station} did not refuse the tampered request")
        require("destination-not-allowed" in text, "the refusal does not name the allowlist")
        return answer

    def collect(self, name: str, answer_screens: Sequence[tuple[str, Path]], accepted: int) -> None:
        sources = []
        for station, screen in answer_screens:
            camera = self.dir / "host" / "camera" / f"{name}-{station}"
            self.film("host", screen, camera, HOST_CAMERA)
            sources.append(str(camera))
        if self.screens is not None:
            text = host_window_scan(self, sources)
        else:
            with self.t.step("host", f"scan the {len(sources)} answers back, in any order") as lines:
                text = self.host(
                    ["collect", *sources],
                    lines,
                    show=contains("ACCEPTED", "REFUS", "REJECTED", "quorum", "signed by", "needed"),
                )
        require(text.count("ACCEPTED") == accepted, f"expected {accepted} accepted answers")

    def finalize(self, request_id: str, bundle: Path, spend: Path | None = None) -> None:
        what = "finalize: the signed bundle, and the spend assembled and judged by the chain's rules"
        with self.t.step("host", what) as lines:
            extra = ["--spend-bundle", str(spend)] if spend is not None else []
            self.host(
                ["finalize", request_id[:8], "--out", str(bundle), *extra],
                lines,
                show=contains("bundle", "written", "chain", "push_tx"),
            )

    def submit(self, request_id: str) -> None:
        with self.t.step("host", "submit the spend to the chain") as lines:
            self.host(["submit", request_id[:8]], lines, show=contains("submitted", "accepted"))

    def release(self, request_id: str, spend: Path) -> None:
        what = "push the payment through: the clawback expired, no signature is needed"
        with self.t.step("host", what) as lines:
            self.host(["release", request_id[:8], "--out", str(spend)], lines, show=contains("released"))

    def balances(self, *addresses: str) -> str:
        """The vault's funds and announcements as the chain holds them now."""
        with self.t.step("host", "read the balances from the chain") as lines:
            extra = [a for address in addresses for a in ("--address", address)]
            return self.host(
                ["vault", "balance", self.vault, *extra],
                lines,
                show=contains(*self.balance_lines),
            )

    def ceremony(self, name: str, argv: Sequence[str], signers: Sequence[str], *, tamper: bool) -> str:
        request_id, screen = self.new_request(argv, name)
        answers: list[tuple[str, Path]] = []
        for number, station in enumerate(signers):
            answers.append((station, self.sign_at(station, screen, name, full_review=number == 0)))
        if tamper:
            answers.append((self.shown_tampered, self.refuse_at(self.shown_tampered, screen, name)))
        answers.reverse()  # the host scans them in whatever order the stations come back
        self.collect(name, answers, accepted=len(signers))
        return request_id

    def verify(self, vault: Path, bundle: Path) -> None:
        opening = vault.with_name("vault-opening.json")
        with self.t.step(
            "host", "export the vault definition, and the salt that opens its commitment"
        ) as lines:
            self.host(
                ["vault", "export", self.vault, "--out", str(vault), "--opening", str(opening)],
                lines,
                show=contains("written"),
            )
        salt = json.loads(opening.read_text())["salt"]
        with self.t.step("anyone", "verify the bundle against the vault, pinned by its commitment") as lines:
            text = self.t.run(
                "host",
                host_main,
                [
                    *("verify", "--vault", str(vault), "--bundle", str(bundle)),
                    *("--commitment", self.commitment, "--salt", salt),
                ],
                lines=lines,
                clock=self.calendar,
            )
            require(text.startswith("VALID"), "the bundle did not verify")
        data = bundle.read_bytes()
        flipped = self.dir / "tamper-check" / "bundle.cbor"
        flipped.parent.mkdir(parents=True, exist_ok=True)
        positions = sorted({*range(0, len(data), max(1, len(data) // FLIPS)), len(data) - 1})
        with self.t.step(
            "anyone", f"flip {len(positions)} bytes spread over the bundle, one copy each"
        ) as lines:
            accepted = []
            for i in positions:
                copy = bytearray(data)
                copy[i] ^= 0x01 if i % 2 else 0x80
                flipped.write_bytes(copy)
                argv = ["verify", "--vault", str(vault), "--bundle", str(flipped)]
                if host_main(argv, out=io.StringIO(), err=io.StringIO(), clock=self.calendar) != 1:
                    accepted.append(i)
            require(not accepted, f"host verify did not refuse the bundle with byte(s) {accepted} flipped")
            lines.append(f"{len(positions)} tampered copies of {len(data)} bytes: every one refused (exit 1)")
            lines.append("(the test suite flips every byte: tests/scripts/test_demo.py)")

    def audits(self) -> None:
        (self.dir / "audit").mkdir()
        for station in self.stations:
            export = self.dir / "audit" / f"{station}.cbor"
            screen = self.dir / "stations" / station / "audit-qr"
            with self.t.step(
                station, f"export the audit log with its HSM-signed head (cards {SIGNING_CARDS})"
            ) as lines:
                cards = [a for c in self.cards(station, SIGNING_CARDS) for a in ("--card", c)]
                self.appliance(
                    [
                        "audit",
                        "export",
                        "--state",
                        str(self.state(station)),
                        *cards,
                        "--out",
                        str(export),
                        "--qr-out",
                        str(screen),
                    ],
                    lines,
                    show=contains("entries written", "frames", "signed in the HSM"),
                )
            camera = self.dir / "host" / "camera" / f"{station}-audit"
            self.film("host", screen, camera, HOST_CAMERA)
            with self.t.step("host", f"audit {station}'s log as scanned") as lines:
                text = self.host(
                    ["audit", "--scan", str(camera)], lines, show=contains("audit", "flag", "entries")
                )
                require("audit clean" in text, f"{station}'s audit was not clean")
