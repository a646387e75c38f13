"""The :class:`Explanation` and what belongs to it: field checks, the ``.xmtag`` file format, tables,
provenance, listening views and explanations from score tables (:func:`from_scores`).
"""

from ._explanation import EFFICIENT_METHODS, Explanation
from ._format import FORMAT_NAME, FORMAT_VERSION, MAX_HEADER_BYTES
from ._game import from_game
from ._listening import DEFAULT_SHARE, ENVELOPE_RATE, Listenable, stems_digest, waveform_envelope
from ._provenance import Provenance, json_safe, versions
from ._scores import RESERVED_COLUMNS, ScoreTableError, from_scores, needed_masks, read_table

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
