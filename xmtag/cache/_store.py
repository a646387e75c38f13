"""The cache itself: :class:`Cache` (get, put, get_or_compute by namespace and key), :func:`default_cache`."""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_path
from ..errors import CacheError, OutputError
from ._entry import _OldFormat, _read_entry, _write_entry, logger
from ._hygiene import (
    _evict,
    _scan,
    clear,
    max_cache_bytes,
    parse_size,
    write_marker,
)
from ._location import cache_dir

__all__ = ['Cache', 'default_cache']


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
    >>> from xmtag.cache import make_key
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
        >>> from xmtag.cache import make_key
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
            write_marker(self.root)
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
        >>> from xmtag.cache import make_key
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
        >>> from xmtag.cache import make_key
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
