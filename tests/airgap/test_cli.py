"""The airgap command contract: what scripts and other tools rely on."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path

import cbor2
import pytest

from airgap.cli import EXIT_BAD_INPUT, EXIT_INCOMPLETE, EXIT_IO, EXIT_OK, main

MESSAGE = cbor2.dumps({"amount": 12345, "blob": random.Random(1).randbytes(3000)})


def run(argv: list[str], stdin: bytes = b"") -> tuple[int, bytes, str]:
    out, err = io.BytesIO(), io.StringIO()
    code = main(argv, stdin=io.BytesIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_encode_then_decode_shuffled() -> None:
    code, out, _ = run(["encode", "--type", "x-test", "--max-fragment", "200", "--count", "40"], MESSAGE)
    assert code == EXIT_OK
    lines = out.decode().splitlines()
    assert len(lines) == 40 and all(line.startswith("ur:x-test/") for line in lines)
    random.Random(2).shuffle(lines)
    code, out, _ = run(["decode"], ("\n".join(["noise", *lines]) + "\n").encode())
    assert (code, out) == (EXIT_OK, MESSAGE)


def test_encode_defaults_to_one_pass_and_upper() -> None:
    code, out, _ = run(["encode", "--type", "x-test", "--max-fragment", "1000", "--upper"], MESSAGE)
    lines = out.decode().splitlines()
    assert code == EXIT_OK and len(lines) == 4 and lines[0].startswith("UR:X-TEST/1-4/")
    code, out, _ = run(["encode", "--type", "x-test", "--first-seq", "10", "--count", "1"], MESSAGE)
    assert out.decode().split("/")[1].startswith("11-")


def test_encode_refuses_non_cbor() -> None:
    for bad in (b"", b"\x01\x02", b"\x5f\x41a\xff", b"\x5a\xff\xff"):
        code, out, err = run(["encode", "--type", "x-test"], bad)
        assert code == EXIT_BAD_INPUT and out == b"" and err.startswith("airgap: ")


def test_decode_incomplete_and_corrupt() -> None:
    _, out, _ = run(["encode", "--type", "x-test", "--max-fragment", "500"], MESSAGE)
    lines = out.decode().splitlines()
    code, out, err = run(["decode"], "\n".join(lines[:2]).encode())
    assert code == EXIT_INCOMPLETE and out == b"" and "incomplete" in err
    corrupt = lines[0][:-4] + ("aeae" if not lines[0].endswith("aeae") else "adad")
    code, out, err = run(["decode"], corrupt.encode())
    assert code == EXIT_INCOMPLETE and "checksum" in err


def test_decode_caps() -> None:
    _, out, _ = run(["encode", "--type", "x-test", "--max-fragment", "500"], MESSAGE)
    code, _, err = run(["decode", "--max-message-bytes", "1000"], out)
    assert code == EXIT_BAD_INPUT and "exceeds the cap" in err


def test_render_folder_then_scan_with_stats(tmp_path: Path) -> None:
    code, _, err = run(
        ["render", "--type", "x-test", "--out", str(tmp_path / "f"), "--max-fragment", "600"], MESSAGE
    )
    assert code == EXIT_OK and "wrote" in err
    code, out, err = run(["scan", "--source", str(tmp_path / "f"), "--stats"])
    assert (code, out) == (EXIT_OK, MESSAGE)
    stats = json.loads(err.strip().splitlines()[-1])
    assert {"frames_read", "frames_decoded", "parts_used", "seconds"} <= stats.keys()
    assert stats["parts_used"] == 6 and stats["frames_read"] == 6


def test_render_gif_mp4_and_count(tmp_path: Path) -> None:
    for name in ("a.gif", "a.mp4"):
        argv = ["render", "--type", "x-test", "--out", str(tmp_path / name), "--count", "5", "--fps", "4"]
        code, _, err = run(argv, MESSAGE)
        assert code == EXIT_OK and "wrote 5 frames" in err
    code, _, err = run(["render", "--type", "x-test", "--out", str(tmp_path / "a.bmp")], MESSAGE)
    assert code == EXIT_IO


def test_scan_incomplete_and_missing_source(tmp_path: Path) -> None:
    run(
        ["render", "--type", "x-test", "--out", str(tmp_path / "f"), "--count", "2", "--max-fragment", "300"],
        MESSAGE,
    )
    code, out, err = run(["scan", "--source", str(tmp_path / "f"), "--stats"])
    assert code == EXIT_INCOMPLETE and out == b""
    assert json.loads(err.strip().splitlines()[-1])["complete"] is False
    code, _, err = run(["scan", "--source", str(tmp_path / "nope")])
    assert code == EXIT_IO and "not a camera index" in err


def test_scan_reads_text_lines_from_stdin() -> None:
    _, out, _ = run(["encode", "--type", "x-test", "--max-fragment", "700", "--upper"], MESSAGE)
    code, got, _ = run(["scan", "--source", "-"], out)
    assert (code, got) == (EXIT_OK, MESSAGE)


def test_show_terminal_single_frame_only() -> None:
    small = cbor2.dumps("hello")
    code, out, _ = run(["show", "--type", "x-test", "--terminal"], small)
    assert code == EXIT_OK and len(out.decode().splitlines()) > 10
    code, _, err = run(["show", "--type", "x-test", "--terminal", "--max-fragment", "100"], MESSAGE)
    assert code == EXIT_IO and "terminal shows one" in err


def test_simulate_then_scan(tmp_path: Path) -> None:
    run(["render", "--type", "x-test", "--out", str(tmp_path / "d"), "--max-fragment", "800"], MESSAGE)
    argv = ["simulate", "--frames", str(tmp_path / "d"), "--out", str(tmp_path / "c"), "--seconds", "4"]
    assert run(argv)[0] == EXIT_OK
    code, out, _ = run(["scan", "--source", str(tmp_path / "c")])
    assert (code, out) == (EXIT_OK, MESSAGE)


@pytest.mark.parametrize("command", ["", "encode", "decode", "render", "show", "scan", "simulate"])
def test_help_documents_every_command(command: str) -> None:
    argv = [sys.executable, "-m", "airgap.cli", *([command] if command else []), "--help"]
    result = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert "exit codes" in result.stdout


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["encode"], stdin=io.BytesIO(), stdout=io.BytesIO(), stderr=io.StringIO())
    assert exc.value.code == 2


def test_decode_refuses_a_payload_that_is_not_cbor() -> None:
    from airgap.ur.ur import UR, encode_single

    text = encode_single(UR("x-test", b"\x01\x02"))  # two CBOR items, not one
    code, out, err = run(["decode"], text.encode())
    assert code == EXIT_BAD_INPUT and out == b"" and "more than one CBOR item" in err
