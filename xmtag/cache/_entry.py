"""The cache's entry format and content hashes: one checksummed file per entry."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CacheError

__all__ = ['hash_bytes', 'hash_array', 'hash_file', 'make_key']


logger = logging.getLogger(__name__)


_MAGIC = b"XMTAGC02"


_OLD_MAGIC = b"XMTAGC01"


_TRAILER = struct.Struct("<Q32s8s")  # header length, SHA-256 of all bytes before the digest, magic


_CHUNK = 1 << 22


class _Corrupt(ValueError):
    """An entry that fails verification."""


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
