"""Read TensorFlow checkpoints (the *tensor bundle* format) with numpy only.

A TensorFlow checkpoint ``PREFIX`` is two files:

``PREFIX.index``
    A LevelDB-style sorted string table (SSTable). The key ``""`` holds a
    ``BundleHeaderProto``; every other key is a variable name whose value is a
    ``BundleEntryProto`` (dtype, shape, shard, offset, size, CRC32C).
``PREFIX.data-00000-of-00001``
    The raw little-endian tensor bytes at the offsets the index gives.

This module parses both without TensorFlow or protobuf: the SSTable blocks
(prefix-compressed keys, restart arrays, 5-byte block trailers, 48-byte footer
with magic ``0xdb4775248b80fb57``), the two small protobuf messages by hand (a
varint/length-delimited wire-format decoder), and verifies every tensor's
masked CRC32C as TensorFlow does. Values are bit-identical to
``tf.train.load_checkpoint(prefix).get_tensor(name)``.

Only uncompressed index blocks (what TensorFlow writes) and unpartitioned
variables are supported; anything else raises :class:`CheckpointError`.

Examples
--------
>>> import numpy as np, tempfile, os
>>> prefix = os.path.join(tempfile.mkdtemp(), "ckpt")
>>> write_checkpoint(prefix, {"w": np.arange(6, dtype=np.float32).reshape(2, 3)})
>>> ckpt = TFCheckpoint(prefix)
>>> ckpt.names()
['w']
>>> ckpt.shape("w")
(2, 3)
>>> ckpt["w"].tolist()
[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, ModelNotFoundError

__all__ = ["CheckpointError", "TFCheckpoint", "TensorEntry", "crc32c", "write_checkpoint"]

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_LEN = 48
_BLOCK_TRAILER_LEN = 5

# TensorFlow DataType enum -> numpy dtype (little endian)
_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    4: np.dtype("u1"),  # DT_UINT8
    5: np.dtype("<i2"),  # DT_INT16
    6: np.dtype("i1"),  # DT_INT8
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    17: np.dtype("<u2"),  # DT_UINT16
    19: np.dtype("<f2"),  # DT_HALF
    22: np.dtype("<u4"),  # DT_UINT32
    23: np.dtype("<u8"),  # DT_UINT64
}
_DTYPE_CODES = {v: k for k, v in _DTYPES.items()}


# --------------------------------------------------------------------------- CRC32C
def _make_crc_table() -> list[int]:
    poly = 0x82F63B78
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _make_crc_table()
_CRC_TABLE_NP = np.array(_CRC_TABLE, dtype=np.uint32)


def crc32c(data: bytes | memoryview | np.ndarray) -> int:
    """CRC-32C (Castagnoli) of ``data``, as TensorFlow and LevelDB use it.

    A table-driven pure-Python loop (about 5 MB/s): TensorFlow checks tensor
    contents with it, and xmtag runs it only when converting weights, whose result
    is cached.

    Examples
    --------
    >>> hex(crc32c(b"123456789"))
    '0xe3069283'
    >>> crc32c(b"")
    0
    """
    buf = np.frombuffer(bytes(data) if not isinstance(data, np.ndarray) else data.tobytes(), np.uint8)
    return _crc32c_np(buf)


def _crc32c_np(buf: np.ndarray) -> int:
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in buf.tobytes():
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _unmask_crc(masked: int) -> int:
    rot = (masked - 0xA282EAD8) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def _mask_crc(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# --------------------------------------------------------------------------- protobuf wire format
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise CheckpointError("truncated varint in checkpoint index")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise CheckpointError("malformed varint in checkpoint index")


def _proto_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield ``(field_number, wire_type, value)`` of a serialized protobuf message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value = bytes(buf[pos : pos + n])
            if len(value) != n:
                raise CheckpointError("truncated field in checkpoint index")
            pos += n
        elif wire == 5:
            value = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise CheckpointError(f"unsupported protobuf wire type {wire} in checkpoint index")
        yield field, wire, value


def _put_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _put_field(field: int, value: int | bytes) -> bytes:
    if isinstance(value, bytes):
        return _put_varint(field << 3 | 2) + _put_varint(len(value)) + value
    return _put_varint(field << 3) + _put_varint(value)


# --------------------------------------------------------------------------- entries
@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lives in the data file (a decoded ``BundleEntryProto``)."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int | None


def _parse_entry(name: str, value: bytes) -> TensorEntry:
    dtype_code, shape, shard, offset, size, crc, sliced = 0, [], 0, 0, 0, None, False
    for field, _wire, v in _proto_fields(value):
        if field == 1:
            dtype_code = int(v)
        elif field == 2:
            for f2, _w2, dim in _proto_fields(v):  # TensorShapeProto
                if f2 == 2:
                    size_ = 0
                    for f3, _w3, d in _proto_fields(dim):
                        if f3 == 1:
                            size_ = int(d)
                    shape.append(size_)
        elif field == 3:
            shard = int(v)
        elif field == 4:
            offset = int(v)
        elif field == 5:
            size = int(v)
        elif field == 6:
            crc = int(v)
        elif field == 7:
            sliced = True
    if sliced:
        raise CheckpointError(f"Variable {name!r} is partitioned (sliced); not supported.")
    if dtype_code not in _DTYPES:
        raise CheckpointError(f"Variable {name!r} has unsupported TensorFlow dtype code {dtype_code}.")
    return TensorEntry(name, _DTYPES[dtype_code], tuple(shape), shard, offset, size, crc)


# --------------------------------------------------------------------------- SSTable
def _read_block(data: bytes, offset: int, size: int, what: str) -> bytes:
    end = offset + size
    if offset < 0 or end + _BLOCK_TRAILER_LEN > len(data):
        raise CheckpointError(f"{what}: block [{offset}, {end}) lies outside the index file")
    if data[end] != 0:
        raise CheckpointError(f"{what}: compressed index blocks (type {data[end]}) are not supported")
    stored = struct.unpack_from("<I", data, end + 1)[0]
    if _unmask_crc(stored) != crc32c(data[offset : end + 1]):
        raise CheckpointError(f"{what}: index block checksum mismatch (corrupt file)")
    return data[offset:end]


def _block_entries(block: bytes, what: str) -> Iterator[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise CheckpointError(f"{what}: index block too short")
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * n_restarts
    if limit < 0:
        raise CheckpointError(f"{what}: bad restart count in index block")
    pos, key = 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        vlen, pos = _varint(block, pos)
        if shared > len(key) or pos + non_shared + vlen > limit:
            raise CheckpointError(f"{what}: malformed index entry")
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        yield key, block[pos : pos + vlen]
        pos += vlen


def _read_table(data: bytes, what: str) -> dict[bytes, bytes]:
    if len(data) < _FOOTER_LEN:
        raise CheckpointError(f"{what}: file too short to be a checkpoint index")
    footer = data[-_FOOTER_LEN:]
    if struct.unpack_from("<Q", footer, _FOOTER_LEN - 8)[0] != _TABLE_MAGIC:
        raise CheckpointError(f"{what}: not a TensorFlow checkpoint index (bad magic number)")
    pos = 0
    _meta_off, pos = _varint(footer, pos)
    _meta_size, pos = _varint(footer, pos)
    idx_off, pos = _varint(footer, pos)
    idx_size, pos = _varint(footer, pos)
    out: dict[bytes, bytes] = {}
    for _last_key, handle in _block_entries(_read_block(data, idx_off, idx_size, what), what):
        off, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        for key, value in _block_entries(_read_block(data, off, size, what), what):
            out[key] = value
    return out


class TFCheckpoint(Mapping[str, np.ndarray]):
    """A TensorFlow checkpoint opened with numpy, read-only, as a mapping name -> array.

    Parameters
    ----------
    prefix : str or os.PathLike
        The checkpoint prefix: the path of the ``.index`` file without ``.index``.
        For the folders the ``musicnn`` package ships, whose files are named
        ``.index`` and ``.data-00000-of-00001``, the prefix is ``"<folder>/"``.
        A folder path is accepted too and means ``"<folder>/"``.
    verify : bool
        Check each tensor's CRC32C when it is read (default ``True``).

    Raises
    ------
    ModelNotFoundError
        If the ``.index`` or a data shard is missing.
    CheckpointError
        If the index or a tensor is corrupt or uses an unsupported layout.
    """

    def __init__(self, prefix: str | os.PathLike[str], verify: bool = True) -> None:
        p = str(prefix)
        if os.path.isdir(p) and not os.path.isfile(p + ".index"):
            p = os.path.join(p, "")
        self.prefix = p
        self.verify = verify
        index = Path(p + ".index")
        if not index.is_file():
            raise ModelNotFoundError(
                f"No TensorFlow checkpoint index at {index}. Pass the checkpoint prefix "
                "(the .index path without '.index', or the folder holding '.index')."
            )
        table = _read_table(index.read_bytes(), str(index))
        header = table.pop(b"", None)
        self.num_shards = 1
        if header is not None:
            for field, _w, v in _proto_fields(header):
                if field == 1:
                    self.num_shards = int(v)
                elif field == 2 and int(v) != 0:
                    raise CheckpointError(f"{index}: big-endian checkpoints are not supported")
        self._entries = {
            k.decode("utf-8"): _parse_entry(k.decode("utf-8", "replace"), v) for k, v in table.items()
        }
        self._shards: dict[int, np.memmap] = {}

    def __repr__(self) -> str:
        return f"TFCheckpoint({self.prefix!r}, {len(self)} tensors)"

    def _shard_path(self, shard: int) -> Path:
        return Path(f"{self.prefix}.data-{shard:05d}-of-{self.num_shards:05d}")

    def _shard(self, shard: int) -> np.ndarray:
        if shard not in self._shards:
            path = self._shard_path(shard)
            if not path.is_file():
                raise ModelNotFoundError(f"Checkpoint data file {path} is missing.")
            size = path.stat().st_size
            self._shards[shard] = np.memmap(path, dtype=np.uint8, mode="r") if size else np.empty(0, np.uint8)
        return self._shards[shard]

    def entry(self, name: str) -> TensorEntry:
        """The :class:`TensorEntry` (dtype, shape, location) of variable ``name``."""
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"{name!r} is not in checkpoint {self.prefix!r}") from None

    def names(self) -> list[str]:
        """Sorted variable names."""
        return sorted(self._entries)

    def shape(self, name: str) -> tuple[int, ...]:
        """Shape of variable ``name`` (without reading it)."""
        return self.entry(name).shape

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __getitem__(self, name: str) -> np.ndarray:
        e = self.entry(name)
        n = int(np.prod(e.shape, dtype=np.int64))
        if e.size != n * e.dtype.itemsize:
            raise CheckpointError(
                f"{self.prefix}: variable {name!r} has {e.size} bytes, expected {n * e.dtype.itemsize}"
            )
        data = self._shard(e.shard)
        if e.offset + e.size > data.size:
            raise CheckpointError(
                f"{self._shard_path(e.shard)} is truncated: variable {name!r} ends at byte "
                f"{e.offset + e.size}, the file has {data.size}."
            )
        raw = np.array(data[e.offset : e.offset + e.size])
        if self.verify and e.crc32c is not None and _mask_crc(_crc32c_np(raw)) != e.crc32c:
            raise CheckpointError(
                f"{self._shard_path(e.shard)}: checksum mismatch for variable {name!r} "
                "(the checkpoint is corrupt; reinstall the package that ships it)."
            )
        return raw.view(e.dtype).reshape(e.shape).astype(e.dtype.newbyteorder("="), copy=False)


# --------------------------------------------------------------------------- writer (tests, fixtures)
def _build_block(items: list[tuple[bytes, bytes]]) -> bytes:
    out = bytearray()
    for key, value in items:  # restart interval 1: no prefix sharing, always valid
        out += _put_varint(0) + _put_varint(len(key)) + _put_varint(len(value)) + key + value
    out += struct.pack("<I", 0)
    out += struct.pack("<I", 1)
    return bytes(out)


def write_checkpoint(prefix: str | os.PathLike[str], tensors: Mapping[str, np.ndarray]) -> None:
    """Write ``tensors`` as a single-shard TensorFlow checkpoint readable by TF and :class:`TFCheckpoint`.

    Meant for tests and fixtures (small, uncompressed, one data block).

    Parameters
    ----------
    prefix : str or os.PathLike
        Output prefix; writes ``prefix.index`` and ``prefix.data-00000-of-00001``.
    tensors : mapping of str to numpy.ndarray
        Variables to store (dtypes float16/32/64, int8/16/32/64, uint8/16/32/64, bool).
    """
    p = str(prefix)
    data = bytearray()
    items: list[tuple[bytes, bytes]] = []
    for name in sorted(tensors):
        a = np.array(tensors[name], order="C", copy=None)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder not in "|" else a.dtype
        if dt not in _DTYPE_CODES:
            raise CheckpointError(f"Cannot write dtype {a.dtype} for {name!r}.")
        raw = a.astype(dt, copy=False).tobytes()
        shape = b"".join(_put_field(2, _put_field(1, int(d))) for d in a.shape)
        entry = (
            _put_field(1, _DTYPE_CODES[dt])
            + _put_field(2, shape)
            + (_put_field(4, len(data)) if data else b"")
            + (_put_field(5, len(raw)) if raw else b"")
            + _put_varint(6 << 3 | 5)
            + struct.pack("<I", _mask_crc(_crc32c_np(np.frombuffer(raw, np.uint8))))
        )
        items.append((name.encode(), entry))
        data += raw
    header = _put_field(1, 1) + _put_field(3, _put_field(1, 1))  # num_shards, version{producer}
    block = _build_block([(b"", header), *items])
    index = bytearray()

    def add_block(b: bytes) -> tuple[int, int]:
        off = len(index)
        index.extend(b)
        index.append(0)
        index.extend(struct.pack("<I", _mask_crc(crc32c(b + b"\x00"))))
        return off, len(b)

    data_off, data_size = add_block(block)
    meta_off, meta_size = add_block(_build_block([]))
    last_key = items[-1][0] if items else b""
    idx_off, idx_size = add_block(_build_block([(last_key, _put_varint(data_off) + _put_varint(data_size))]))
    footer = _put_varint(meta_off) + _put_varint(meta_size) + _put_varint(idx_off) + _put_varint(idx_size)
    footer += b"\x00" * (_FOOTER_LEN - 8 - len(footer)) + struct.pack("<Q", _TABLE_MAGIC)
    index += footer
    from .._files import atomic_write_bytes

    atomic_write_bytes(p + ".data-00000-of-00001", bytes(data))
    atomic_write_bytes(p + ".index", bytes(index))
