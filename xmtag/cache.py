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

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import struct
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_path
from .errors import CacheError, OutputError

__all__ = [
    "Cache",
    "CacheInfo",
    "default_cache",
    "cache_dir",
    "max_cache_bytes",
    "parse_size",
    "info",
    "clear",
    "prune",
    "hash_bytes",
    "hash_array",
    "hash_file",
    "make_key",
    "DEFAULT_MAX_BYTES",
]

logger = logging.getLogger(__name__)

_MAGIC = b"XMTAGC02"
_OLD_MAGIC = b"XMTAGC01"
_TRAILER = struct.Struct("<Q32s8s")  # header length, SHA-256 of all bytes before the digest, magic
_CHUNK = 1 << 22
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


class _Corrupt(ValueError):
    """An entry that fails verification."""


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


def cache_dir() -> Path:
    """The cache root: ``$XMTAG_CACHE`` or the platform's user cache folder.

    Returns
    -------
    pathlib.Path
        The folder (not created here).

    Examples
    --------
    >>> import os
    >>> os.environ.get("XMTAG_CACHE") is None or str(cache_dir()) == os.environ["XMTAG_CACHE"]
    True
    """
    env = os.environ.get("XMTAG_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("xmtag", appauthor=False))


def hash_bytes(data: bytes) -> str:
    """SHA-256 hex digest of ``data``.

    Parameters
    ----------
    data : bytes

    Returns
    -------
    str
        64 lowercase hex digits.

    Examples
    --------
    >>> hash_bytes(b"")[:16]
    'e3b0c44298fc1c14'
    """
    return hashlib.sha256(data).hexdigest()


def hash_array(a: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and contents (C order).

    Examples
    --------
    >>> hash_array(np.zeros(3)) == hash_array(np.zeros(3))
    True
    >>> hash_array(np.zeros(3)) == hash_array(np.zeros(3, dtype=np.float32))
    False
    """
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype.str}|{a.shape}|".encode())
    flat = a.reshape(-1).view(np.uint8) if a.size else np.empty(0, np.uint8)
    for start in range(0, flat.size, _CHUNK):
        h.update(flat[start : start + _CHUNK].data)
    return h.hexdigest()


def hash_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file's contents, read in chunks.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    str
        64 lowercase hex digits, equal to ``hash_bytes`` of the file's contents.

    Raises
    ------
    OSError
        If the file cannot be read (callers check input files first).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
    >>> _ = f.write_bytes(b"abc")
    >>> hash_file(f) == hash_bytes(b"abc")
    True
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def make_key(*parts: Any) -> str:
    """Build a cache key from strings, numbers, arrays and JSON-able objects.

    Examples
    --------
    >>> make_key("htdemucs", {"shifts": 0}) == make_key("htdemucs", {"shifts": 0})
    True
    """
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            token = "array:" + hash_array(part)
        elif isinstance(part, bytes):
            token = "bytes:" + hash_bytes(part)
        else:
            token = "json:" + json.dumps(part, sort_keys=True, default=str)
        h.update(token.encode())
        h.update(b"\x00")
    return h.hexdigest()


class Cache:
    """Content-addressed store of named arrays plus JSON metadata.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Cache folder; default :func:`cache_dir`.
    enabled : bool
        With ``False`` every lookup misses and nothing is written.
    max_bytes : int or str, optional
        Size cap (``"2GB"`` works too); default :func:`max_cache_bytes` (``$XMTAG_CACHE_MAX`` or
        10 GB). After each write, least recently used entries are evicted to fit.

    Examples
    --------
    >>> import tempfile
    >>> c = Cache(tempfile.mkdtemp())
    >>> key = make_key("example", 1)
    >>> c.get("demo", key) is None
    True
    >>> _ = c.put("demo", key, {"x": np.arange(3)}, meta={"note": "hi"})
    >>> arrays, meta = c.get("demo", key)
    >>> arrays["x"].tolist(), meta["note"]
    ([0, 1, 2], 'hi')
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        enabled: bool = True,
        max_bytes: int | str | None = None,
    ) -> None:
        self.root = Path(root).expanduser() if root is not None else cache_dir()
        self.enabled = enabled
        self._max_bytes = None if max_bytes is None else parse_size(max_bytes, "max_bytes")
        self._explicit_max = max_bytes is not None

    @property
    def max_bytes(self) -> int | None:
        """The size cap in bytes (``None``: unlimited)."""
        return self._max_bytes if self._explicit_max else max_cache_bytes()

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r}, enabled={self.enabled})"

    def path(self, namespace: str, key: str) -> Path:
        """Where the entry for ``key`` lives (whether or not it exists).

        Parameters
        ----------
        namespace : str
            The kind of entry (``"stems"``, ``"coalitions"``, ...): one sub-folder each.
        key : str
            From ``make_key``.

        Returns
        -------
        pathlib.Path

        Examples
        --------
        >>> import tempfile
        >>> c = Cache(tempfile.mkdtemp())
        >>> key = make_key("x")
        >>> p = c.path("demo", key)
        >>> p.is_relative_to(c.root / "demo"), key in p.name
        (True, True)
        """
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise CacheError(f"Cache key must be a lowercase hex digest, got {key!r}.")
        return self.root / namespace / key[:2] / f"{key}.xmc"

    def get(self, namespace: str, key: str, mmap: bool = False) -> tuple[dict[str, np.ndarray], dict] | None:
        """Return ``(arrays, meta)`` for ``key``, or ``None`` on a miss or a corrupt entry.

        With ``mmap=True`` the arrays are read-only memory maps of the verified file.

        Parameters
        ----------
        namespace, key : str
            As for ``put``.
        mmap : bool
            Memory-map the arrays instead of reading them.

        Returns
        -------
        tuple of (dict, dict) or None
            ``(arrays, meta)``; ``None`` on a miss, a corrupt entry (deleted) or a disabled cache.
        """
        if not self.enabled:
            return None
        path = self.path(namespace, key)
        if not path.is_file():
            return None
        try:
            hit = _read_entry(path, mmap)
        except _OldFormat:
            logger.info("Cache entry %s is of an older format; it will be recomputed.", path)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        except (OSError, ValueError, KeyError, TypeError, struct.error) as exc:
            logger.warning("Cache entry %s is corrupt (%s); it will be recomputed.", path, exc)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        with contextlib.suppress(OSError):  # a hit is a use: least-recently-used eviction keeps it
            os.utime(path)
        return hit

    def put(
        self,
        namespace: str,
        key: str,
        arrays: Mapping[str, np.ndarray],
        meta: Mapping[str, Any] | None = None,
    ) -> Path | None:
        """Store ``arrays`` (and JSON-able ``meta``) under ``key``, atomically.

        A cache that cannot be written logs a warning and returns ``None``: caching
        is an optimisation, never a reason to fail the computation.

        Parameters
        ----------
        namespace : str
            The kind of entry.
        key : str
            From ``make_key``.
        arrays : mapping of str to numpy.ndarray
            The data.
        meta : mapping, optional
            JSON-serialisable metadata.

        Returns
        -------
        pathlib.Path or None
            The entry's path, or ``None`` when the cache is disabled or not writable.
        """
        if not self.enabled:
            return None
        path = self.path(namespace, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                _write_entry(tmp, arrays, dict(meta or {}))
        except (OSError, OutputError) as exc:
            logger.warning("Could not write cache entry %s (%s); continuing without it.", path, exc)
            return None
        limit = self.max_bytes
        if limit is not None:
            _evict(self.root, limit, keep=path)
        return path

    def get_or_compute(
        self,
        namespace: str,
        key: str,
        compute: Callable[[], tuple[Mapping[str, np.ndarray], Mapping[str, Any]]],
    ) -> tuple[dict[str, np.ndarray], dict]:
        """Return the cached entry, or call ``compute()`` (returning ``(arrays, meta)``) and store it.

        Parameters
        ----------
        namespace, key : str
            As for ``put``.
        compute : callable
            Called without arguments on a miss; returns ``(arrays, meta)``.

        Returns
        -------
        tuple of (dict, dict)
            ``(arrays, meta)``, cached or fresh.

        Examples
        --------
        >>> import tempfile
        >>> c = Cache(tempfile.mkdtemp())
        >>> calls = []
        >>> def compute():
        ...     calls.append(1)
        ...     return {"y": np.ones(2)}, {}
        >>> _ = c.get_or_compute("demo", make_key("y"), compute)
        >>> _ = c.get_or_compute("demo", make_key("y"), compute)
        >>> len(calls)  # the second call was a hit
        1
        """
        hit = self.get(namespace, key)
        if hit is not None:
            logger.debug("cache hit %s/%s", namespace, key[:12])
            return hit
        arrays, meta = compute()
        self.put(namespace, key, arrays, meta)
        return {k: np.asarray(v) for k, v in arrays.items()}, dict(meta)

    def clear(self, namespace: str | None = None) -> None:
        """Delete every entry (of one namespace, or all); other files under the root are kept.

        Parameters
        ----------
        namespace : str, optional
            Only this namespace. Default: everything under the cache root.

        Examples
        --------
        >>> import tempfile
        >>> c = Cache(tempfile.mkdtemp())
        >>> _ = c.put("demo", make_key(1), {"x": np.zeros(1)})
        >>> c.clear("demo")
        >>> list(c.entries("demo"))
        []
        """
        clear(namespace, root=self.root)

    def entries(self, namespace: str) -> Iterable[Path]:
        """Paths of the entries in ``namespace``.

        Parameters
        ----------
        namespace : str

        Returns
        -------
        iterable of pathlib.Path
        """
        return sorted(p for p, _, _ in _scan(self.root, namespace))


def default_cache(enabled: bool = True) -> Cache:
    """A :class:`Cache` at :func:`cache_dir` (re-read from the environment on every call).

    Parameters
    ----------
    enabled : bool
        ``False`` gives a cache that never reads or writes (every ``get`` misses).

    Returns
    -------
    Cache

    Examples
    --------
    >>> import os
    >>> default_cache().root == cache_dir()
    True
    """
    return Cache(cache_dir(), enabled=enabled)


# --------------------------------------------------------------------------------------------
# entries on disk


class _OldFormat(ValueError):
    """An entry written by an earlier cache format."""


def _write_entry(path: Path, arrays: Mapping[str, np.ndarray], meta: dict) -> None:
    h = hashlib.sha256()
    index = []
    offset = 0
    with open(path, "wb") as fh:
        for name, arr in arrays.items():
            a = np.ascontiguousarray(arr)
            if a.dtype.hasobject:
                raise CacheError(f"Cannot cache array {name!r} of object dtype.")
            flat = a.reshape(-1).view(np.uint8) if a.size else np.empty(0, np.uint8)
            for start in range(0, flat.size, _CHUNK):
                chunk = flat[start : start + _CHUNK].data
                fh.write(chunk)
                h.update(chunk)
            index.append({"name": name, "dtype": a.dtype.str, "shape": list(a.shape), "offset": offset})
            offset += flat.size
        header = json.dumps({"arrays": index, "meta": meta, "size": offset}, default=_json_default).encode()
        length = struct.pack("<Q", len(header))
        h.update(header)
        h.update(length)
        fh.write(header)
        fh.write(length)
        fh.write(h.digest())
        fh.write(_MAGIC)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serialisable")


def _read_entry(path: Path, mmap: bool) -> tuple[dict[str, np.ndarray], dict]:
    with open(path, "rb") as fh:
        total = os.fstat(fh.fileno()).st_size
        if total < _TRAILER.size:
            fh.seek(max(total - 8, 0))
            if fh.read(8) == _OLD_MAGIC:
                raise _OldFormat("format 1")
            raise _Corrupt("file shorter than its trailer")
        fh.seek(total - _TRAILER.size)
        header_len, digest, magic = _TRAILER.unpack(fh.read(_TRAILER.size))
        if magic != _MAGIC:
            if magic == _OLD_MAGIC:  # both formats end with their magic
                raise _OldFormat("format 1")
            raise _Corrupt("bad magic")
        body = total - _TRAILER.size
        fh.seek(0)
        h = hashlib.sha256()
        remaining = body
        while remaining:
            chunk = fh.read(min(_CHUNK, remaining))
            if not chunk:
                raise _Corrupt("unexpected end of file")
            h.update(chunk)
            remaining -= len(chunk)
        h.update(struct.pack("<Q", header_len))
        if h.digest() != digest:
            raise _Corrupt("checksum mismatch")
        if header_len > body:
            raise _Corrupt("bad header length")
        fh.seek(body - header_len)
        header = json.loads(fh.read(header_len))
    size = int(header["size"])
    if size != body - header_len:
        raise _Corrupt("size mismatch")
    arrays: dict[str, np.ndarray] = {}
    raw = np.memmap(path, dtype=np.uint8, mode="r", shape=(size,)) if size else np.empty(0, np.uint8)
    for item in header["arrays"]:
        dtype = np.dtype(item["dtype"])
        shape = tuple(int(d) for d in item["shape"])
        n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        start = int(item["offset"])
        if start < 0 or start + n > size:
            raise _Corrupt(f"array {item['name']!r} lies outside the entry")
        view = raw[start : start + n].view(dtype).reshape(shape)
        arrays[item["name"]] = view if mmap else np.array(view)
    if not mmap:
        del raw
    return arrays, header["meta"]


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
    return Path(root).expanduser() if root is not None else cache_dir()


def info(root: str | os.PathLike[str] | None = None) -> CacheInfo:
    """Entries, size and cap of the cache (default :func:`cache_dir`).

    Examples
    --------
    >>> import tempfile
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
    >>> c = Cache(tempfile.mkdtemp())
    >>> _ = c.put("demo", make_key(1), {"x": np.zeros(1000)})
    >>> prune("0B", c.root)["evicted"]
    1
    """
    r = _root(root)
    limit = max_cache_bytes() if max_bytes is None else parse_size(max_bytes, "max_bytes")
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
