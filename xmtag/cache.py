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
import struct
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_path
from .cache_hygiene import (
    DEFAULT_MAX_BYTES,
    CacheInfo,
    _evict,
    _scan,
    clear,
    info,
    max_cache_bytes,
    parse_size,
    prune,
)
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


class _Corrupt(ValueError):
    """An entry that fails verification."""


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
        except (TypeError, ValueError) as exc:  # meta that JSON cannot hold: the caller's bug, said clearly
            raise CacheError(f"Cannot cache {namespace}/{key[:12]}: {exc}. Pass JSON-able meta.") from exc
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
