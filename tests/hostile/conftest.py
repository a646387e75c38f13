"""Fixtures for the hostile corpus (the helpers live in ``hostile_support.py``).

This folder is put on ``sys.path`` so the test modules can ``import hostile_support``
(``tests/conftest.py`` already owns the module name ``conftest``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from hostile_support import nobody_dir, readonly_tmpfs, small_tmpfs, tone  # noqa: F401
