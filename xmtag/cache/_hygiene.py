"""Size cap and hygiene of the on-disk cache: :func:`info`, :func:`clear`, :func:`prune`.

Split from :mod:`xmtag.cache` (which re-exports every public name here, so
``xmtag.cache.prune`` is the documented spelling). The cap is ``$XMTAG_CACHE_MAX`` (default
:data:`DEFAULT_MAX_BYTES`, 10 GB); after each write :class:`xmtag.cache.Cache` evicts the least
recently used entries (by modification time, which a hit refreshes) until the total fits. These
functions only ever touch ``*.xmc`` entries and xmtag's temporary files, never other files
under the cache root.
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

__all__ = ["CacheInfo", "info", "clear", "prune", "parse_size", "max_cache_bytes", "DEFAULT_MAX_BYTES"]

logger = logging.getLogger("xmtag.cache")

#: Default size cap of the cache (bytes): 10 GB. ``$XMTAG_CACHE_MAX`` overrides it.
DEFAULT_MAX_BYTES = 10 * 1000**3
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
        for shard in _subdirs(top):
            with contextlib.suppress(OSError), os.scandir(shard) as it:
                for e in it:
                    if (
                        e.name.endswith(".xmc")
                        and not e.name.startswith(".")
                        and e.is_file(follow_symlinks=False)
                    ):
                        with contextlib.suppress(OSError):
                            st = e.stat(follow_symlinks=False)
                            yield Path(e.path), st.st_size, st.st_mtime


def _subdirs(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as it:
            return sorted(Path(e.path) for e in it if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def _temp_files(root: Path) -> Iterator[Path]:
    for top in _subdirs(root):
        for shard in _subdirs(top):
            with contextlib.suppress(OSError), os.scandir(shard) as it:
                for e in it:
                    if e.name.startswith(".") and ".tmp" in e.name and e.is_file(follow_symlinks=False):
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

    Only ``*.xmc`` entries, xmtag's temporary files and the folders they leave empty are removed.

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
    removed = sum(_remove(p) for p, _, _ in list(_scan(r, namespace)))
    for tmp in list(_temp_files(r)):
        if namespace is None or tmp.parent.parent.name == namespace:
            _remove(tmp)
    for top in [r / namespace] if namespace else _subdirs(r):
        for shard in _subdirs(top):
            with contextlib.suppress(OSError):
                shard.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()
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
