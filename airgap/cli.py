"""The ``airgap`` command: thin subcommands over the link library.

Exit codes:

====  ==========================================================
0     success
1     bad input: not CBOR, malformed or corrupt UR, a cap exceeded
2     usage error (bad arguments)
3     incomplete: the input ended or the timeout passed first
4     I/O: a frame source or sink could not be opened or written
====  ==========================================================
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from airgap.camera.frames import open_source
from airgap.errors import AirgapError, IncompleteError, RenderError, SourceError
from airgap.link_defaults import (
    DEFAULT_ANIMATION_PASSES,
    DEFAULT_FPS,
    DEFAULT_MAX_FRAGMENT,
    DEFAULT_MODULE_PX,
)
from airgap.qr.decode import DEFAULT_FRAME_DECODER, FrameDecoder
from airgap.ur.cbor_item import check_single_item
from airgap.ur.ur import UR, DecodeLimits, URDecoder, decode_lines, is_valid_type, parts_for_message

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_IO = 0, 1, 2, 3, 4

EPILOG = """exit codes: 0 success, 1 bad input (not CBOR, malformed or corrupt UR, cap exceeded),
2 usage error, 3 incomplete (input ended or timeout), 4 I/O (source or sink failed)"""


def _ur_type(value: str) -> str:
    lowered = value.lower()
    if not is_valid_type(lowered):
        raise argparse.ArgumentTypeError(f"{value!r} is not a UR type (letters, digits, hyphens)")
    return lowered


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError("must be positive")
    return number


def _add_message_options(p: argparse.ArgumentParser, *, count_help: str) -> None:
    p.add_argument("--type", required=True, type=_ur_type, help="UR type, e.g. x-spend-request")
    p.add_argument(
        "--max-fragment",
        type=_positive_int,
        default=DEFAULT_MAX_FRAGMENT,
        metavar="N",
        help=f"largest fragment of the message per part, in bytes (default {DEFAULT_MAX_FRAGMENT})",
    )
    p.add_argument("--first-seq", type=int, default=0, metavar="S", help="parts start at sequence number S+1")
    p.add_argument("--count", type=_positive_int, metavar="C", help=count_help)


def _add_display_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--fps", type=_positive_float, default=DEFAULT_FPS, help="frame rate (default %(default)s)"
    )
    p.add_argument(
        "--module-px", type=_positive_int, default=DEFAULT_MODULE_PX, help="screen pixels per QR module"
    )


def _add_limit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-message-bytes",
        type=_positive_int,
        default=DecodeLimits().max_message_len,
        metavar="N",
        help="refuse messages longer than N bytes (default %(default)s)",
    )
    p.add_argument(
        "--max-parts",
        type=_positive_int,
        default=DecodeLimits().max_seq_len,
        metavar="N",
        help="refuse messages split into more than N fragments (default %(default)s)",
    )
    p.add_argument(
        "--expect-type", type=_ur_type, action="append", metavar="T", help="accept only this UR type"
    )


def create_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airgap",
        description="The air-gap link: CBOR messages as animated BC-UR QR codes, and back.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "encode",
        help="CBOR on stdin -> UR parts on stdout, one per line",
        description="Read one CBOR item on stdin and print its UR parts, one per line. A message that "
        "fits one fragment prints as a single-part UR. Input that is not exactly one well-formed CBOR "
        "item is refused.",
        epilog=EPILOG,
    )
    _add_message_options(p, count_help="parts to print (default: the fixed-rate parts, once)")
    p.add_argument("--upper", action="store_true", help="print uppercase, as QR codes carry it")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser(
        "decode",
        help="UR lines on stdin -> CBOR on stdout",
        description="Read UR text lines on stdin (any order, duplicates, other lines ignored) and write "
        "the reassembled CBOR message to stdout. Exits non-zero if the input ends first or is corrupt.",
        epilog=EPILOG,
    )
    _add_limit_options(p)
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser(
        "render",
        help="CBOR on stdin -> QR frames: a PNG folder, a GIF or an MP4",
        description="Read one CBOR item on stdin and write C QR frames: the fixed-rate parts first, "
        "then fountain parts. --out names a folder (numbered PNGs), a .gif or a .mp4.",
        epilog=EPILOG,
    )
    _add_message_options(
        p, count_help=f"frames to write (default: {DEFAULT_ANIMATION_PASSES} x the fixed-rate parts)"
    )
    p.add_argument("--out", required=True, metavar="DIR|X.gif|X.mp4", help="where the frames go")
    _add_display_options(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser(
        "show",
        help="CBOR on stdin -> animated QR in a window, or one QR in the terminal",
        description="Read one CBOR item on stdin and loop its QR frames in a window until a key is "
        "pressed. With --terminal, print a single-frame QR as text (for SSH sessions); the message "
        "must then fit one frame.",
        epilog=EPILOG,
    )
    _add_message_options(
        p, count_help=f"distinct frames to loop (default: {DEFAULT_ANIMATION_PASSES} x the fixed-rate parts)"
    )
    _add_display_options(p)
    p.add_argument("--terminal", action="store_true", help="print one QR code as text instead")
    p.add_argument("--seconds", type=_positive_float, help="close the window after this long")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "scan",
        help="frames from a camera, video, folder or stdin -> CBOR on stdout",
        description="Read frames from --source until one UR message is complete, then write its CBOR to "
        "stdout at once. SOURCE is a camera index (0), a video file, a folder of images (name order) "
        "or '-' for UR text lines on stdin (a keyboard-wedge scanner). A progress bar shows on a "
        "terminal. With --stats the last stderr line is a JSON object with frames_read, frames_decoded, "
        "parts_used, seconds and more.",
        epilog=EPILOG,
    )
    p.add_argument("--source", required=True, metavar="DIR|VIDEO|INDEX|-", help="where frames come from")
    p.add_argument("--timeout", type=_positive_float, metavar="S", help="give up after S seconds")
    p.add_argument("--stats", action="store_true", help="finish stderr with one JSON line of statistics")
    p.add_argument(
        "--in-process",
        action="store_true",
        help="decode frames in this process instead of a memory-limited child process (faster start; "
        "a decoder crash then takes the scan down)",
    )
    p.add_argument(
        "--decoder",
        type=FrameDecoder,
        choices=list(FrameDecoder),
        default=DEFAULT_FRAME_DECODER,
        help="QR decoder (default %(default)s)",
    )
    _add_limit_options(p)
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser(
        "simulate",
        help="display frames -> simulated camera frames (for tests and demos)",
        description="Point the seeded camera simulator at a folder of display frames, as if they were "
        "looping on a screen, and write what the camera captures as numbered PNGs.",
        epilog=EPILOG,
    )
    from airgap.camera.simulator import PROFILES

    p.add_argument("--frames", required=True, type=Path, metavar="DIR", help="display frames (PNG folder)")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="where camera frames go")
    p.add_argument("--profile", choices=sorted(PROFILES), default="720p-webcam")
    p.add_argument("--seconds", type=_positive_float, default=10.0, help="camera time to capture")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=cmd_simulate)
    return parser


def _read_message(stdin: BinaryIO, ur_type: str, limit: int) -> UR:
    data = stdin.read(limit + 1)
    if len(data) > limit:
        raise AirgapError(f"input exceeds {limit} bytes")
    check_single_item(data)
    return UR(ur_type, data)


def _parts(args: argparse.Namespace, stdin: BinaryIO, passes: int) -> tuple[UR, list[str]]:
    ur = _read_message(stdin, args.type, DecodeLimits().max_message_len)
    texts = parts_for_message(
        ur, args.max_fragment, count=args.count, passes=passes, first_seq_num=args.first_seq
    )
    return ur, texts


def _limits(args: argparse.Namespace) -> DecodeLimits:
    return DecodeLimits(max_message_len=args.max_message_bytes, max_seq_len=args.max_parts)


def cmd_encode(args: argparse.Namespace, stdin: BinaryIO, stdout: BinaryIO, stderr: TextIO) -> int:
    _, texts = _parts(args, stdin, passes=1)
    for part in texts:
        stdout.write((part.upper() if args.upper else part).encode() + b"\n")
    return EXIT_OK


def cmd_decode(args: argparse.Namespace, stdin: BinaryIO, stdout: BinaryIO, stderr: TextIO) -> int:
    from airgap.camera.frames import TextLineSource

    text = _text_stream(stdin)
    lines = (f.text for f in TextLineSource(text).frames() if f.text is not None)
    decoder = URDecoder(limits=_limits(args), expected_types=_expected(args))
    ur = decode_lines(lines, decoder)
    check_single_item(ur.cbor)  # a UR's payload must be CBOR; refuse to pass anything else on
    stdout.write(ur.cbor)
    return EXIT_OK


def _expected(args: argparse.Namespace) -> frozenset[str] | None:
    return frozenset(args.expect_type) if args.expect_type else None


def _text_stream(stdin: BinaryIO) -> TextIO:
    import io

    return io.TextIOWrapper(stdin, encoding="ascii", errors="replace", newline=None)


def cmd_render(args: argparse.Namespace, stdin: BinaryIO, stdout: BinaryIO, stderr: TextIO) -> int:
    from airgap.qr.render import RenderSettings, render_frames
    from airgap.qr.sinks import write_animation

    _, texts = _parts(args, stdin, passes=DEFAULT_ANIMATION_PASSES)
    frames = render_frames(texts, RenderSettings(module_px=args.module_px))
    out = Path(args.out)
    write_animation(frames, out, args.fps)
    h, w = frames[0].shape
    stderr.write(f"airgap: wrote {len(frames)} frames of {w}x{h} px to {out}\n")
    return EXIT_OK


def cmd_show(args: argparse.Namespace, stdin: BinaryIO, stdout: BinaryIO, stderr: TextIO) -> int:
    from airgap.qr.render import RenderSettings, qr_matrix, render_frames
    from airgap.qr.sinks import print_terminal, show_window

    ur, texts = _parts(args, stdin, passes=DEFAULT_ANIMATION_PASSES)
    if args.terminal:
        if texts[0].count("/") > 1:  # ur:<type>/<n>-<len>/… is multipart
            raise RenderError(
                "the message needs several frames; the terminal shows one. Use a window, "
                f"a file, or --max-fragment {len(ur.cbor)} or more"
            )
        import io

        text_out = io.TextIOWrapper(stdout, encoding="utf-8", write_through=True)
        print_terminal(qr_matrix(texts[0]), text_out)
        text_out.detach()  # leave the caller's binary stdout open
        return EXIT_OK
    show_window(
        render_frames(texts, RenderSettings(module_px=args.module_px)), args.fps, seconds=args.seconds
    )
    return EXIT_OK


def cmd_scan(args: argparse.Namespace, stdin: BinaryIO, stdout: BinaryIO, stderr: TextIO) -> int:
    from contextlib import ExitStack
    from functools import partial

    from airgap.qr.decode import payloads_in_image
    from airgap.qr.isolated import IsolatedDecoder
    from airgap.scan import ImageDecoder, ProgressBar, scan

    bar = ProgressBar(stderr)
    with ExitStack() as stack:
        source = open_source(args.source, _text_stream(stdin))
        stack.callback(source.close)
        stack.callback(bar.finish)
        decode_image: ImageDecoder
        if args.in_process or args.source == "-":
            decode_image = partial(payloads_in_image, decoder=args.decoder)
        else:
            decode_image = stack.enter_context(IsolatedDecoder(args.decoder))
        decoder = URDecoder(limits=_limits(args), expected_types=_expected(args))
        result = scan(
            source.frames(), decoder, decode_image=decode_image, timeout=args.timeout, on_progress=bar
        )
    if result.ur is not None:
        check_single_item(result.ur.cbor)
        stdout.write(result.ur.cbor)
        stdout.flush()
    code = EXIT_OK
    if result.ur is None:
        why = "timeout passed" if result.timed_out else "frames ran out"
        detail = f"; last error: {result.progress.last_error}" if result.progress.last_error else ""
        stderr.write(f"airgap: scan incomplete ({why}): {result.progress.describe()}{detail}\n")
        code = EXIT_INCOMPLETE
    if args.stats:
        stderr.write(result.stats.to_json() + "\n")
    return code


def cmd_simulate(args: argparse.Namespace, stdin: BinaryIO, stdout: BinaryIO, stderr: TextIO) -> int:
    from airgap.camera.frames import ImageFolderSource
    from airgap.camera.simulator import PROFILES, CameraSimulator
    from airgap.qr.sinks import write_png_folder

    display = [f.image for f in ImageFolderSource(args.frames).frames() if f.image is not None]
    simulator = CameraSimulator(display, PROFILES[args.profile], seed=args.seed)
    captured = [image for _, image in simulator.capture(args.seconds)]
    write_png_folder(captured, args.out)
    stderr.write(f"airgap: {len(captured)} camera frames ({args.profile}) written to {args.out}\n")
    return EXIT_OK


def main(
    argv: Sequence[str] | None = None,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    stderr = stderr or sys.stderr
    args = create_parser().parse_args(argv)
    try:
        code: int = args.func(args, stdin, stdout, stderr)
    except IncompleteError as exc:
        stderr.write(f"airgap: {exc}\n")
        return EXIT_INCOMPLETE
    except (SourceError, RenderError) as exc:
        stderr.write(f"airgap: {exc}\n")
        return EXIT_IO
    except AirgapError as exc:
        stderr.write(f"airgap: {exc}\n")
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_IO
    except KeyboardInterrupt:
        stderr.write("airgap: interrupted\n")
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
