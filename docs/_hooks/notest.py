"""MkDocs hook: show the reason of each ``<!-- notest: REASON -->`` code block on the page.

A Python block that the docs tests cannot run offline (it needs model weights, a dataset, a
server) is marked ``<!-- notest: REASON -->`` in the Markdown; tests/test_docs.py skips it and
checks that every marker has a reason, and this hook prints that reason above the block, so a
reader knows which examples are not run by CI and why.
"""

from __future__ import annotations

import re
from typing import Any

MARKER = re.compile(r"^<!-- notest: (?P<reason>[^>]*?) -->\n(?=```python)", re.M)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return MARKER.sub(lambda m: f"*Not run by the docs tests: {m.group('reason')}.*\n\n", markdown)
