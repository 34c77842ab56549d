"""The appliance command: the ceremonies an operator runs, with their exit codes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from appliance.cli import main
from custody.schemas.key_record import UR_TYPE, KeyRecord
from tests.appliance.conftest import requires_softhsm, token_uri

pytestmark = [pytest.mark.hsm, requires_softhsm]


def run(argv: list[str], answers: list[str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    replies = iter(answers or [])
    code = main(argv, out=out, err=err, ask=lambda _: next(replies), ask_secret=lambda _: next(replies))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def station(softhsm: Path, tmp_path: Path) -> tuple[Path, Path]:
    state, cards = tmp_path / "state", tmp_path / "cards"
    argv = ["init", "--token-uri", token_uri("st"), "--custodians", "3", "--threshold", "2"]
    code, out, err = run([*argv, "--cards-out", str(cards), "--state", str(state)])
    assert code == 0, err
    assert "never shown" in out
    return state, cards


def cards(folder: Path, *numbers: int) -> list[str]:
    return [arg for i in numbers for arg in ("--card", str(folder / f"card-{i}.txt"))]


def keygen(state: Path, card_args: list[str], out: Path, label: str = "k") -> list[str]:
    return [
        "keygen",
        "--state",
        str(state),
        *card_args,
        "--label",
        label,
        "--algorithm",
        "p256",
        "--out",
        str(out),
    ]


def test_keygen_export_selftest(station: tuple[Path, Path], tmp_path: Path) -> None:
    state, folder = station
    out_file = tmp_path / "k.cbor"
    argv = ["keygen", "--state", str(state), *cards(folder, 1, 3), "--label", "vault", "--algorithm", "p256"]
    code, out, err = run([*argv, "--out", str(out_file)])
    assert code == 0, err
    record = KeyRecord.from_cbor(out_file.read_bytes())
    assert record.key_id.hex() in out
    code, out, _ = run(
        ["export-key", "--state", str(state), "--label", "vault", "--qr-out", str(tmp_path / "qr")]
    )
    assert code == 0 and record.key_id.hex() in out
    # The host enrols by scanning those frames.
    from airgap.camera.frames import ImageFolderSource
    from airgap.scan import scan
    from airgap.ur.ur import URDecoder

    result = scan(ImageFolderSource(tmp_path / "qr").frames(), URDecoder(expected_types=frozenset({UR_TYPE})))
    assert result.ur is not None and KeyRecord.from_cbor(result.ur.cbor) == record
    code, out, _ = run(["selftest", "--state", str(state), *cards(folder, 2, 3)])
    assert code == 0 and "selftest passed: 1 key(s)" in out


def test_typed_cards(station: tuple[Path, Path], tmp_path: Path) -> None:
    state, folder = station

    def words(i: int) -> str:
        return (folder / f"card-{i}.txt").read_text().partition("Words")[2].partition("\n")[2]

    argv = ["keygen", "--state", str(state), "--type-cards", "--label", "t", "--algorithm", "ed25519"]
    code, _, err = run([*argv, "--out", str(tmp_path / "t.cbor")], ["2", words(2), "3", words(3)])
    assert code == 0, err


@pytest.mark.parametrize(
    ("numbers", "code", "message"),
    [((1,), 21, "needs 2 of 3"), ((1, 1), 20, "presented twice")],
)
def test_card_refusals_have_exit_codes(
    station: tuple[Path, Path], tmp_path: Path, numbers: tuple[int, ...], code: int, message: str
) -> None:
    state, folder = station
    argv = ["keygen", "--state", str(state), *cards(folder, *numbers), "--label", "x", "--algorithm", "p256"]
    got, _, err = run([*argv, "--out", str(tmp_path / "x.cbor")])
    assert got == code and message in err


def test_fault_exit_codes(station: tuple[Path, Path], tmp_path: Path) -> None:
    state, folder = station
    code, _, err = run(["selftest", "--state", str(state), *cards(folder, 1, 2)])
    assert code == 30 and "no keys" in err
    code, _, err = run(["selftest", "--state", str(tmp_path / "nowhere"), *cards(folder, 1, 2)])
    assert code == 30 and "appliance init" in err
    code, _, err = run(
        ["selftest", "--state", str(state), "--token-uri", token_uri("other"), *cards(folder, 1, 2)]
    )
    assert code == 2 and "differs" in err
    argv = [
        "init",
        "--token-uri",
        "pkcs11:token=x?module-path=/nope.so",
        "--custodians",
        "3",
        "--threshold",
        "2",
    ]
    code, _, err = run([*argv, "--cards-out", str(tmp_path / "c"), "--state", str(tmp_path / "s")])
    assert code == 11 and "/nope.so" in err


def test_rotate(station: tuple[Path, Path], tmp_path: Path) -> None:
    state, folder = station
    new = tmp_path / "new"
    code, out, err = run(
        ["cards", "rotate", "--state", str(state), *cards(folder, 1, 2), "--cards-out", str(new)]
    )
    assert code == 0 and "retired" in out, err
    code, _, err = run(keygen(state, cards(new, 1, 2), tmp_path / "k"))
    assert code == 0, err  # the new cards open the station
    code, _, err = run(["selftest", "--state", str(state), *cards(folder, 1, 2)])
    assert code == 20 and "another card set" in err


def test_no_pin_or_share_is_printed(station: tuple[Path, Path], tmp_path: Path) -> None:
    from appliance import station_state
    from appliance.card_files import read_card_file
    from appliance.cards import check_cards, combine, pin_text

    state, folder = station
    outputs = []
    for argv in (
        keygen(state, cards(folder, 1, 2), tmp_path / "k"),
        ["selftest", "--state", str(state), *cards(folder, 1, 2)],
        ["export-key", "--state", str(state), "--label", "k", "--out", str(tmp_path / "k2")],
    ):
        code, out, err = run(argv)
        assert code == 0, err
        outputs.append(out + err)
    checked = check_cards(
        [read_card_file(folder / f"card-{i}.txt") for i in (1, 2)], station_state.load(state).card_set
    )
    secrets_ = [pin_text(combine(checked)), pin_text(combine(checked, so=True))]
    secrets_ += [c.user_share.hex() for c in checked]
    assert not any(secret in text for secret in secrets_ for text in outputs)


def test_help_lists_exit_codes() -> None:
    with pytest.raises(SystemExit):
        main(["--help"], out=io.StringIO(), err=io.StringIO())


def test_selftest_of_one_key_named_by_uri(station: tuple[Path, Path], tmp_path: Path) -> None:
    state, folder = station
    for label in ("a", "b"):
        code, _, err = run(keygen(state, cards(folder, 1, 2), tmp_path / label, label=label))
        assert code == 0, err
    uri = token_uri("st").replace("?", ";object=b?")
    code, out, err = run(["selftest", "--state", str(state), "--token-uri", uri, *cards(folder, 1, 2)])
    assert code == 0 and "selftest passed: 1 key(s)" in out and "\nb " in out, err
    missing = token_uri("st").replace("?", ";object=zz?")
    code, _, err = run(["selftest", "--state", str(state), "--token-uri", missing, *cards(folder, 1, 2)])
    assert code == 13 and "no key labelled 'zz'" in err


def test_cards_scanned_from_a_folder_of_photos(station: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    state, folder = station
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in (3, 1):
        shutil.copy(folder / f"card-{i}.png", photos / f"photo-{i}.png")
    argv = [
        "keygen",
        "--state",
        str(state),
        "--scan-cards",
        str(photos),
        "--label",
        "s",
        "--algorithm",
        "p256",
    ]
    code, out, err = run([*argv, "--out", str(tmp_path / "s.cbor")])
    assert code == 0 and "scanned card 1" in out and "scanned card 3" in out, err


def test_init_takes_a_pin_format_and_refuses_a_weak_one(softhsm: Path, tmp_path: Path) -> None:
    argv = ["init", "--token-uri", token_uri("fmt"), "--custodians", "3", "--threshold", "2"]
    code, _, err = run(
        [*argv, "--cards-out", str(tmp_path / "c"), "--state", str(tmp_path / "s"), "--pin-chars", "8"]
    )
    assert code == 2 and "16 to 32 hex characters" in err
    assert not (tmp_path / "s").exists()  # refused before the token was touched
    code, _, err = run(
        [*argv, "--cards-out", str(tmp_path / "c"), "--state", str(tmp_path / "s"), "--pin-prefix", "0001"]
    )
    assert code == 0, err
    code, _, err = run(keygen(tmp_path / "s", cards(tmp_path / "c", 1, 3), tmp_path / "k"))
    assert code == 0, err
