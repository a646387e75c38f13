"""The ``xmtag`` command line: a thin layer over the library.

Each subcommand lives in its own module ``xmtag/cli/<name>.py`` exposing
``register(subparsers)``, which adds its parser and sets ``func(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .._version import __version__
from ..errors import XmtagError

#: subcommand modules, in the order ``xmtag --help`` lists them
COMMANDS: tuple[str, ...] = (
    "demo",
    "explain",
    "corpus",
    "separate",
    "tag",
    "transcribe",
    "diarize",
    "summarize",
    "info",
    "cache",
    "coalitions",
    "models",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (all subcommands registered).

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> build_parser().parse_args(["demo", "--segments", "4"]).segments
    4
    """
    parser = argparse.ArgumentParser(
        prog="xmtag",
        description="Explainable music tagging: which instruments make a tagger say 'rock'?",
    )
    parser.add_argument("--version", action="version", version=f"xmtag {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors; no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    _global_flags_everywhere(sub)  # `xmtag tag song.mp3 -q` as well as `xmtag -q tag song.mp3`
    return parser


def _global_flags_everywhere(sub: argparse._SubParsersAction) -> None:
    """Accept ``-v`` and ``-q`` after every command and sub-command too (not shown in their help)."""
    for command in sub.choices.values():
        command.add_argument(
            "-v", "--verbose", action="count", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
        command.add_argument(
            "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                _global_flags_everywhere(action)


def _configure_logging(verbose: int, quiet: bool) -> int:
    """Set the ``xmtag`` logger's level for this command; returns the level it had before."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("xmtag")
    before = log.level
    log.setLevel(level)
    return before


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments without the program name. Default: ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 for an ``XmtagError`` (its message is printed, no traceback), 2 when no
        command is given, 130 on Ctrl-C, 143 on SIGTERM (both after removing temporary files).
        Invalid arguments exit with status 2 (argparse's ``SystemExit``).

    Examples
    --------
    >>> main(["--version"])  # doctest: +SKIP
    xmtag 0.1.0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    before = _configure_logging(args.verbose, args.quiet)
    previous = _exit_on_sigterm()
    try:
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except XmtagError as exc:
        print(f"xmtag: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("xmtag: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `xmtag tag ... | head`: the reader left; stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that flushing stdout at exit cannot fail again
        return 141
    finally:  # main() called in-process (a notebook, a test) leaves logging as it found it
        logging.getLogger("xmtag").setLevel(before)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm() -> Any:
    """Make SIGTERM (``kill``, a scheduler's time limit) exit through Python's clean-up, so that
    temporary files (a long recording's stems on disk) and partial outputs are removed as on
    Ctrl-C; returns the previous handler (``None`` off the main thread, where none is set)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, stop)
