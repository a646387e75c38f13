"""Size cap and hygiene of the on-disk cache: :func:`info`, :func:`clear`, :func:`prune`.

Split from :mod:`xmtag.cache` (which re-exports every public name here, so
``xmtag.cache.prune`` is the documented spelling). The cap is ``$XMTAG_CACHE_MAX`` (default
:data:`DEFAULT_MAX_BYTES`, 10 GB); after each write :class:`xmtag.cache.Cache` evicts the least
recently used entries (by modification time, which a hit refreshes) until the total fits.

What may be deleted, and only in a folder that is xmtag's cache (it holds the marker
:data:`CACHE_MARKER`, which :class:`xmtag.cache.Cache` writes with its first entry; the default
platform cache folder of xmtag counts as one too): ``<namespace>/<shard>/<key>.xmc`` files
that end with xmtag's entry trailer (its magic bytes), xmtag's own temporary files
(``.<hex>.xmc.<random>.tmp.xmc``) and the shard folders those leave empty. Never a symbolic
link, never another file or folder, and nothing at all in a folder without the marker
(``XMTAG_CACHE=~/.cache xmtag cache clear`` is refused).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CacheError

__all__ = [
    "CACHE_MARKER",
    "CacheInfo",
    "info",
    "clear",
    "prune",
    "parse_size",
    "max_cache_bytes",
    "DEFAULT_MAX_BYTES",
]

logger = logging.getLogger("xmtag.cache")

#: Default size cap of the cache (bytes): 10 GB. ``$XMTAG_CACHE_MAX`` overrides it.
DEFAULT_MAX_BYTES = 10 * 1000**3
#: The file that marks a folder as xmtag's cache (the CACHEDIR.TAG convention, bford.info/cachedir).
CACHE_MARKER = "CACHEDIR.TAG"
_MARKER_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file marks a cache folder written by xmtag (explainable music tagging).\n"
    "# xmtag cache clear/prune delete only xmtag's entries in a folder holding this file.\n"
)
_XMTAG_LINE = "written by xmtag"
_SHARD = re.compile(r"[0-9a-f]{2}")
_ENTRY = re.compile(r"[0-9a-f]{2,128}\.xmc")
_TEMP = re.compile(r"\.[0-9a-f]{1,128}\.xmc\.[A-Za-z0-9_]{1,64}\.tmp\.xmc")
_STALE_TMP_SECONDS = 3600  # temporary files older than this are leftovers of killed writers
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_size(text: str | int, name: str = "XMTAG_CACHE_MAX") -> int | None:
    """Bytes from ``"2GB"``, ``"500MiB"``, ``"10 g"`` or an int; ``None`` for ``"unlimited"``/``"none"``.

    Units are decimal (``KB``, ``MB``, ``GB``, ``TB``) or binary (``KiB``, ``MiB``, ``GiB``,
    ``TiB``), case-insensitive.

    Raises
    ------
    CacheError
        For anything else, naming ``name``.

    Examples
    --------
    >>> parse_size("2GB"), parse_size("1.5 MiB"), parse_size("unlimited")
    (2000000000, 1572864, None)
    """
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        if text < 0:
            raise CacheError(f"{name} must be a size >= 0, got {text}.")
        return int(text)
    t = str(text).strip().lower()
    if t in ("unlimited", "none", "inf", "off"):
        return None
    m = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)", t)
    if not m or m.group(2) not in _UNITS:
        raise CacheError(f"{name}={text!r} is not a size; write e.g. 2GB, 500MB, 1.5GiB or 'unlimited'.")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def max_cache_bytes() -> int | None:
    """The size cap: ``$XMTAG_CACHE_MAX`` parsed by :func:`parse_size`, else :data:`DEFAULT_MAX_BYTES`.

    Examples
    --------
    >>> import os
    >>> "XMTAG_CACHE_MAX" in os.environ or max_cache_bytes() == DEFAULT_MAX_BYTES
    True
    """
    env = os.environ.get("XMTAG_CACHE_MAX")
    return DEFAULT_MAX_BYTES if not env else parse_size(env)


def _scan(root: Path, namespace: str | None = None) -> Iterator[tuple[Path, int, float]]:
    """``(path, size, mtime)`` of every entry (not temporary files) under ``root``."""
    tops = [root / namespace] if namespace else [p for p in _subdirs(root)]
    for top in tops:
        if top.is_symlink():
            continue
        for shard in _subdirs(top, shards=True):
            with contextlib.suppress(OSError), os.scandir(shard) as it:
                for e in it:
                    if (
                        _ENTRY.fullmatch(e.name)
                        and e.is_file(follow_symlinks=False)
                        and _has_entry_trailer(e.path)
                    ):
                        with contextlib.suppress(OSError):
                            st = e.stat(follow_symlinks=False)
                            yield Path(e.path), st.st_size, st.st_mtime


def _has_entry_trailer(path: str | os.PathLike[str]) -> bool:
    """Whether a file ends with the magic bytes of xmtag's entry format (either version)."""
    from ._entry import _MAGIC, _OLD_MAGIC

    try:
        with open(path, "rb", buffering=0) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < len(_MAGIC):
                return False
            fh.seek(size - len(_MAGIC))
            return fh.read(len(_MAGIC)) in (_MAGIC, _OLD_MAGIC)
    except OSError:
        return False


def _subdirs(folder: Path, shards: bool = False) -> list[Path]:
    try:
        with os.scandir(folder) as it:
            return sorted(
                Path(e.path)
                for e in it
                if e.is_dir(follow_symlinks=False) and (not shards or _SHARD.fullmatch(e.name))
            )
    except OSError:
        return []


def write_marker(root: Path) -> None:
    """Write :data:`CACHE_MARKER` into ``root`` if it is not there (best effort)."""
    marker = root / CACHE_MARKER
    if marker.is_file():
        return
    from .._files import atomic_write_text

    try:
        atomic_write_text(marker, _MARKER_TEXT)
    except Exception as exc:  # the marker is best effort, like the cache itself
        logger.debug("Could not write the cache marker %s (%s).", marker, exc)


def is_xmtag_cache(root: Path) -> bool:
    """Whether ``root`` is xmtag's cache: it holds xmtag's :data:`CACHE_MARKER`, or it is the default
    platform cache folder of xmtag (caches written before the marker existed)."""
    marker = root / CACHE_MARKER
    try:
        if not marker.is_symlink() and marker.is_file():
            return _XMTAG_LINE in marker.read_text("utf-8", "replace") or _is_default(root)
    except OSError:
        pass
    return _is_default(root)


def _is_default(root: Path) -> bool:
    import platformdirs

    default = Path(platformdirs.user_cache_dir("xmtag", appauthor=False))
    return os.path.realpath(root) == os.path.realpath(default)


def _require_cache(root: Path, action: str) -> bool:
    """``False`` if there is nothing there; raise ``CacheError`` for a folder that is not a cache."""
    if not root.exists():
        return False
    if not root.is_dir():
        raise CacheError(f"Cannot {action} the cache {str(root)!r}: it is not a folder. Check XMTAG_CACHE.")
    if not is_xmtag_cache(root):
        raise CacheError(
            f"Refusing to {action} {str(root)!r}: it is not an xmtag cache (no {CACHE_MARKER} written by "
            "xmtag there), so xmtag deletes nothing in it. Check XMTAG_CACHE (it must name a folder "
            "of its own, e.g. ~/.cache/xmtag, not ~/.cache); if it is an xmtag cache from before the "
            f"marker existed, delete the folder yourself or run any xmtag command that caches to mark it."
        )
    return True


def _temp_files(root: Path) -> Iterator[Path]:
    for top in _subdirs(root):
        for shard in _subdirs(top, shards=True):
            with contextlib.suppress(OSError), os.scandir(shard) as it:
                for e in it:
                    if _TEMP.fullmatch(e.name) and e.is_file(follow_symlinks=False):
                        yield Path(e.path)


def _remove(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        logger.warning("Could not remove cache entry %s (%s).", path, exc)
        return False


def _evict(root: Path, limit: int, keep: Path | None = None) -> tuple[int, int]:
    """Delete least recently used entries until the total is at most ``limit``; (entries, bytes)."""
    entries = sorted(_scan(root), key=lambda e: e[2])  # oldest use first
    total = sum(size for _, size, _ in entries)
    removed = freed = 0
    for path, size, _ in entries:
        if total <= limit:
            break
        if keep is not None and path == keep:
            continue
        if _remove(path):
            removed += 1
            freed += size
        total -= size
    if removed:
        logger.info("Cache over its %d-byte cap: evicted %d entries (%d bytes).", limit, removed, freed)
    return removed, freed


# --------------------------------------------------------------------------------------------
# hygiene: info, clear, prune


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


@dataclass
class CacheInfo:
    """What :func:`info` reports about a cache folder.

    Attributes
    ----------
    root : pathlib.Path
    entries : int
    size_bytes : int
    max_bytes : int or None
        The cap (``None``: unlimited).
    namespaces : dict
        ``namespace -> (entries, bytes)``.
    temp_files : int
        Temporary files of writers (leftovers once older than an hour; :func:`prune` removes them).
    """

    root: Path
    entries: int
    size_bytes: int
    max_bytes: int | None
    namespaces: dict[str, tuple[int, int]] = field(default_factory=dict)
    temp_files: int = 0

    def __str__(self) -> str:
        cap = "unlimited" if self.max_bytes is None else _fmt_bytes(self.max_bytes)
        lines = [
            f"cache folder: {self.root}",
            f"entries:      {self.entries} ({_fmt_bytes(self.size_bytes)} of {cap}; set XMTAG_CACHE_MAX)",
        ]
        for ns, (n, b) in sorted(self.namespaces.items()):
            lines.append(f"  {ns:<28} {n:>6} entries  {_fmt_bytes(b):>10}")
        if self.temp_files:
            lines.append(f"temporary files: {self.temp_files}")
        return "\n".join(lines)


def _root(root: str | os.PathLike[str] | None) -> Path:
    from ._location import cache_dir

    return Path(root).expanduser() if root is not None else cache_dir()


def info(root: str | os.PathLike[str] | None = None) -> CacheInfo:
    """Entries, size and cap of the cache (default :func:`cache_dir`).

    Examples
    --------
    >>> import tempfile
    >>> from xmtag.cache import Cache, make_key
    >>> c = Cache(tempfile.mkdtemp())
    >>> _ = c.put("demo", make_key(1), {"x": np.zeros(1000)})
    >>> i = info(c.root)
    >>> i.entries, i.namespaces["demo"][0]
    (1, 1)
    """
    r = _root(root)
    namespaces: dict[str, tuple[int, int]] = {}
    for path, size, _ in _scan(r):
        ns = path.parent.parent.name
        n, b = namespaces.get(ns, (0, 0))
        namespaces[ns] = (n + 1, b + size)
    return CacheInfo(
        root=r,
        entries=sum(n for n, _ in namespaces.values()),
        size_bytes=sum(b for _, b in namespaces.values()),
        max_bytes=max_cache_bytes(),
        namespaces=namespaces,
        temp_files=sum(1 for _ in _temp_files(r)),
    )


def clear(namespace: str | None = None, root: str | os.PathLike[str] | None = None) -> int:
    """Delete every entry (of one namespace, or all) and return how many were deleted.

    Only entries carrying xmtag's entry trailer, xmtag's temporary files and the shard folders
    they leave empty are removed, and only in a folder that is xmtag's cache.

    Raises
    ------
    CacheError
        If ``root`` is a folder that is not an xmtag cache (no :data:`CACHE_MARKER`).

    Examples
    --------
    >>> import tempfile
    >>> from xmtag.cache import Cache, make_key
    >>> c = Cache(tempfile.mkdtemp())
    >>> _ = c.put("demo", make_key(1), {"x": np.zeros(1)})
    >>> clear(root=c.root)
    1
    """
    r = _root(root)
    if not _require_cache(r, "clear"):
        return 0
    touched: set[Path] = set()
    removed = 0
    for p, _, _ in list(_scan(r, namespace)):
        if _remove(p):
            removed += 1
            touched.add(p.parent)
    for tmp in list(_temp_files(r)):
        if (namespace is None or tmp.parent.parent.name == namespace) and _remove(tmp):
            touched.add(tmp.parent)
    for shard in sorted(touched):
        with contextlib.suppress(OSError):
            shard.rmdir()  # only if now empty
        with contextlib.suppress(OSError):
            shard.parent.rmdir()
    return removed


def prune(
    max_bytes: int | str | None = None, root: str | os.PathLike[str] | None = None, *, verify: bool = False
) -> dict[str, int]:
    """Tidy the cache: evict least recently used entries over the cap, remove stale temporary files.

    Parameters
    ----------
    max_bytes : int or str, optional
        Cap to prune to (``"1GB"``); default :func:`max_cache_bytes`.
    root : str or os.PathLike, optional
        Default :func:`cache_dir`.
    verify : bool
        Also read every entry and delete those that fail their checksum.

    Returns
    -------
    dict
        ``{"evicted": n, "freed_bytes": b, "temp_files": t, "corrupt": c}``.

    Raises
    ------
    CacheError
        If ``root`` is a folder that is not an xmtag cache (no :data:`CACHE_MARKER`).

    Examples
    --------
    >>> import tempfile
    >>> from xmtag.cache import Cache, make_key
    >>> c = Cache(tempfile.mkdtemp())
    >>> _ = c.put("demo", make_key(1), {"x": np.zeros(1000)})
    >>> prune("0B", c.root)["evicted"]
    1
    """
    r = _root(root)
    limit = max_cache_bytes() if max_bytes is None else parse_size(max_bytes, "max_bytes")
    if not _require_cache(r, "prune"):
        return {"evicted": 0, "freed_bytes": 0, "temp_files": 0, "corrupt": 0}
    from ._entry import _read_entry

    corrupt = 0
    if verify:
        for path, _, _ in list(_scan(r)):
            try:
                _read_entry(path, mmap=True)
            except (OSError, ValueError, KeyError, TypeError, struct.error):
                corrupt += _remove(path)
    now = time.time()
    stale = 0
    for tmp in list(_temp_files(r)):
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
                stale += _remove(tmp)
    evicted, freed = (0, 0) if limit is None else _evict(r, limit)
    return {"evicted": evicted, "freed_bytes": freed, "temp_files": stale, "corrupt": corrupt}
