"""MkDocs hook: replace ``<!-- cli:help -->`` with the ``--help`` text of every ``xmtag`` command.

The text comes from the parser itself (``xmtag.cli.build_parser``), so the page cannot drift
from the command line.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

MARKER = "<!-- cli:help -->"


def render() -> str:
    from xmtag.cli import build_parser

    os.environ.setdefault("COLUMNS", "100")
    parser = build_parser()
    parts = ["## `xmtag`", "```text\n" + parser.format_help().rstrip() + "\n```"]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, cmd in sub.choices.items():
        parts += [f"## `xmtag {name}`", "```text\n" + cmd.format_help().rstrip() + "\n```"]
    return "\n\n".join(parts) + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return markdown.replace(MARKER, render()) if MARKER in markdown else markdown
