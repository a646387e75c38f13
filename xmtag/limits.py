"""Limits on what xmtag allocates for an input, checked before the memory is allocated.

A file, a table or an argument can ask for far more memory than it is worth: a 512 KB
``.xmtag`` file declaring gigabytes of zeros, a score table whose stems imply ``2**20``
coalitions, ``budget=10**12``. xmtag refuses such requests *before* allocating, with an
error that names the input, the limit and this module. Every limit is a module attribute read
at the time of the check, so a program that trusts its inputs can raise one::

    import xmtag.limits
    xmtag.limits.MAX_BUDGET = 10**7

The defaults are far above what real music, taggers and explanations need.
"""

from __future__ import annotations

__all__ = [
    "MAX_EXPLANATION_BYTES",
    "MAX_EXPANSION_RATIO",
    "MAX_NAME_CHARS",
    "MAX_SCORE_CELLS",
    "MAX_BANDS",
    "MAX_BUDGET",
    "MAX_BOOTSTRAP_CELLS",
    "MAX_JSON_DEPTH",
    "MAX_LISTED",
    "how_to_raise",
]

#: Most bytes the arrays of one ``.xmtag`` explanation file may expand to (1 GiB).
MAX_EXPLANATION_BYTES = 1 << 30
#: Most bytes of arrays per byte of the compressed ``.xmtag`` file, beyond a free 32 MiB.
#: Real explanations (floating-point values) compress a few times at most; a file declaring
#: far more than it holds is a ZIP bomb.
MAX_EXPANSION_RATIO = 64
#: Longest tag or stem name (characters) in a ``.xmtag`` file, a score table or a stem folder.
MAX_NAME_CHARS = 1000
#: Most cells (coalitions x tags, per segment) of the game a score table describes
#: (``2**27`` float64 cells: 1 GiB).
MAX_SCORE_CELLS = 1 << 27
#: Most frequency bands per stem (``bands=``, ``--bands``).
MAX_BANDS = 32
#: Largest tagger-row budget of the sampled methods (``permutation``, ``kernel``, ``lime``).
MAX_BUDGET = 1 << 20
#: Most values one bootstrap draws per column: ``n_boot x rows`` (``2**27``: 1 GiB of float64); the
#: columns are resampled in blocks, so their number does not count.
MAX_BOOTSTRAP_CELLS = 1 << 27
#: Deepest nesting of a JSON file read by ``xmtag summarize``.
MAX_JSON_DEPTH = 64
#: Most items an error message lists (the rest are counted).
MAX_LISTED = 5


def how_to_raise(name: str) -> str:
    """The sentence an error message ends with: which limit and how to raise it."""
    return (
        f"The limit is xmtag.limits.{name} = {globals()[name]:,}; a program that trusts this input can "
        f"raise it (import xmtag.limits; xmtag.limits.{name} = ...)."
    )
