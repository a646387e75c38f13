"""The :class:`Explanation` and what belongs to it: field checks, the ``.xmtag`` file format, tables,
provenance, listening views and explanations from score tables (:func:`from_scores`).
"""

from typing import TYPE_CHECKING, Any

from ._explanation import EFFICIENT_METHODS, Explanation
from ._format import FORMAT_NAME, FORMAT_VERSION, MAX_HEADER_BYTES
from ._listening import DEFAULT_SHARE, ENVELOPE_RATE, Listenable, stems_digest, waveform_envelope
from ._provenance import Provenance, json_safe, versions

if TYPE_CHECKING:  # pragma: no cover
    from ._game import from_game
    from ._scores import RESERVED_COLUMNS, ScoreTableError, from_scores, needed_masks, read_table

_SCORE_TABLES = ("RESERVED_COLUMNS", "ScoreTableError", "from_scores", "needed_masks", "read_table")


def __getattr__(name: str) -> Any:
    """Score tables and ``from_game`` load on first use (``import xmtag`` then stays light)."""
    if name in _SCORE_TABLES:
        from . import _scores

        return getattr(_scores, name)
    if name == "from_game":
        from ._game import from_game

        return from_game
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

__all__ = [
    "Explanation",
    "EFFICIENT_METHODS",
    "Listenable",
    "DEFAULT_SHARE",
    "ENVELOPE_RATE",
    "stems_digest",
    "waveform_envelope",
    "Provenance",
    "json_safe",
    "versions",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_HEADER_BYTES",
    "ScoreTableError",
    "from_scores",
    "needed_masks",
    "read_table",
    "RESERVED_COLUMNS",
    "from_game",
]
