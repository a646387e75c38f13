"""A content-addressed on-disk cache for arrays (stems, converted weights, tagger outputs).

Location: ``$XMTAG_CACHE`` if set, else the user cache folder
(``platformdirs.user_cache_dir("xmtag")``, e.g. ``~/.cache/xmtag`` on Linux).

Each entry is one file ``<root>/<namespace>/<key[:2]>/<key>.xmc``::

    [raw array bytes ...][JSON header][8-byte header length][32-byte SHA-256][8-byte magic]

The JSON header lists each array's name, dtype, shape and offset, and arbitrary JSON
metadata. The SHA-256 covers **everything before it** (arrays, header and its length), so
one flipped byte anywhere in an entry is detected: the entry is logged, deleted and reported
as a miss, and the caller recomputes it. Entries of the first format (``XMTAGC01``, which
checksummed only the arrays) are treated the same way: recomputed once, never trusted.
Entries are written to a temporary file and renamed into place, so readers never see a
half-written entry and two processes filling the same key simply race to an identical,
complete result.

**Size cap.** The cache holds at most :data:`DEFAULT_MAX_BYTES` (10 GB) unless
``$XMTAG_CACHE_MAX`` says otherwise (``"2GB"``, ``"500MiB"``, ``"unlimited"``). After each
write the least recently used entries (by last read or write; a hit refreshes an entry's
modification time) are deleted until the total fits; the entry just written is kept.
:func:`info`, :func:`clear` and :func:`prune` (and ``xmtag cache info|clear|prune``) inspect
and tidy it; they only ever touch ``*.xmc`` entries and xmtag's temporary files, never other
files under the root.
"""

from ._entry import hash_array, hash_bytes, hash_file, make_key
from ._hygiene import (
    CACHE_MARKER,
    DEFAULT_MAX_BYTES,
    CacheInfo,
    clear,
    info,
    max_cache_bytes,
    parse_size,
    prune,
)
from ._location import cache_dir
from ._store import Cache, default_cache

__all__ = [
    "Cache",
    "default_cache",
    "CacheInfo",
    "max_cache_bytes",
    "parse_size",
    "info",
    "clear",
    "prune",
    "DEFAULT_MAX_BYTES",
    "CACHE_MARKER",
    "cache_dir",
    "hash_bytes",
    "hash_array",
    "hash_file",
    "make_key",
]
