"""Hostile corpus: cache entries damaged in every region, old formats, size cap and hygiene.

An entry is ``[arrays][JSON header][8-byte length][32-byte SHA-256][8-byte magic]``. A flipped
byte anywhere (including the JSON header, which holds the labels and array offsets) must be
detected: the entry is deleted, ``get`` misses, and ``get_or_compute`` recomputes and rewrites
it. A damaged entry is never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import time

import numpy as np
import pytest

from xmtag import cache as cachemod
from xmtag.cache import Cache, make_key
from xmtag.cli import main
from xmtag.errors import CacheError

KEY = make_key("hostile", 1)
ARRAYS = {"values": np.arange(64, dtype=np.float32).reshape(8, 8), "idx": np.array([3, 1, 2], np.int64)}
META = {"labels": ["rock", "jazz", "pop"], "note": "x" * 40}


def _layout(path):
    raw = path.read_bytes()
    hl = struct.unpack("<Q", raw[-48:-40])[0]
    body = len(raw) - 48
    size = body - hl
    return raw, size, hl


def _regions(size, hl, total):
    return {
        "first data byte": 0,
        "middle data byte": size // 2,
        "last data byte": size - 1,
        "first header byte": size,
        "header: a label": None,  # found by content below
        "header: an offset": None,
        "last header byte": size + hl - 1,
        "header length": size + hl,
        "digest": size + hl + 8 + 5,
        "magic": total - 3,
    }


@pytest.fixture
def entry(tmp_path):
    c = Cache(tmp_path / "c", max_bytes="unlimited")
    path = c.put("taggers", KEY, ARRAYS, META)
    assert path is not None
    return c, path


def _recompute_counts(c):
    calls = []

    def compute():
        calls.append(1)
        return ARRAYS, META

    arrays, meta = c.get_or_compute("taggers", KEY, compute)
    np.testing.assert_array_equal(arrays["values"], ARRAYS["values"])
    assert meta == META
    return len(calls)


@pytest.mark.parametrize(
    "region",
    [
        "first data byte",
        "middle data byte",
        "last data byte",
        "first header byte",
        "header: a label",
        "header: an offset",
        "last header byte",
        "header length",
        "digest",
        "magic",
    ],
)
def test_flipped_byte_in_every_region_is_detected_and_rewritten(entry, region, caplog):
    c, path = entry
    raw, size, hl = _layout(path)
    where = _regions(size, hl, len(raw))[region]
    if region == "header: a label":
        where = raw.index(b'"jazz"') + 1  # "jazz" -> "kazz": relabels a tag, JSON stays valid
    elif region == "header: an offset":
        where = raw.index(b'"offset": 256') + len(b'"offset": ')  # 256 -> 356: shifts an array
    damaged = bytearray(raw)
    damaged[where] ^= 0x01
    path.write_bytes(bytes(damaged))
    assert c.get("taggers", KEY) is None  # detected: never used
    assert not path.exists()  # and deleted
    assert "corrupt" in caplog.text or "older format" in caplog.text
    assert _recompute_counts(c) == 1  # recomputed ...
    assert path.read_bytes() == raw  # ... and rewritten, identical to the original
    assert _recompute_counts(c) == 0  # now a hit


@pytest.mark.parametrize("cut", [0, 7, 47, "half", "minus one"])
def test_truncated_entries(entry, cut):
    c, path = entry
    raw = path.read_bytes()
    n = {"half": len(raw) // 2, "minus one": len(raw) - 1}.get(cut, cut)
    path.write_bytes(raw[:n])
    assert c.get("taggers", KEY) is None and not path.exists()
    assert _recompute_counts(c) == 1


def test_appended_garbage_is_detected(entry):
    c, path = entry
    with open(path, "ab") as fh:
        fh.write(b"\x00")
    assert c.get("taggers", KEY) is None
    assert _recompute_counts(c) == 1


def test_a_consistent_forgery_of_the_header_only_is_detected(entry):
    """Editing the labels and fixing the JSON length still breaks the whole-entry digest."""
    c, path = entry
    raw, size, hl = _layout(path)
    header = json.loads(raw[size : size + hl])
    header["meta"]["labels"] = ["pop", "jazz", "rock"]
    new = json.dumps(header).encode()
    path.write_bytes(raw[:size] + new + struct.pack("<Q", len(new)) + raw[-40:])
    assert c.get("taggers", KEY) is None


def _write_format1(path, arrays, meta):
    """An entry as the first cache format wrote it (checksum of the arrays only)."""
    h = hashlib.sha256()
    index, offset, data = [], 0, b""
    for name, a in arrays.items():
        b = np.ascontiguousarray(a).tobytes()
        index.append({"name": name, "dtype": a.dtype.str, "shape": list(a.shape), "offset": offset})
        data += b
        h.update(b)
        offset += len(b)
    header = json.dumps({"arrays": index, "meta": meta, "size": offset, "sha256": h.hexdigest()}).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data + header + struct.pack("<Q8s", len(header), b"XMTAGC01"))


def test_old_format_entry_is_recomputed_once(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="xmtag.cache")
    c = Cache(tmp_path / "c")
    _write_format1(c.path("taggers", KEY), ARRAYS, {"labels": ["tampered"]})
    assert c.get("taggers", KEY) is None  # an unverifiable header is never trusted
    assert "older format" in caplog.text
    assert _recompute_counts(c) == 1 and _recompute_counts(c) == 0


def test_entry_replaced_by_a_directory(tmp_path):
    c = Cache(tmp_path / "c")
    c.path("taggers", KEY).mkdir(parents=True)
    assert c.get("taggers", KEY) is None
    assert _recompute_counts(c) == 1  # the value is still computed; caching is skipped


def test_mmap_hit_is_verified_and_read_only(entry):
    c, _ = entry
    arrays, _ = c.get("taggers", KEY, mmap=True)
    assert not arrays["values"].flags.writeable
    np.testing.assert_array_equal(arrays["values"], ARRAYS["values"])


# ------------------------------------------------------------------------ size cap and hygiene
def _fill(c, n, size=100_000):
    paths = []
    for i in range(n):
        paths.append(c.put("stems", make_key("lru", i), {"y": np.full(size // 4, i, np.float32)}))
        t = time.time() - 1000 + i  # distinct, increasing last-use times
        os.utime(paths[-1], (t, t))
    return paths


def test_lru_eviction_keeps_the_cap_and_the_recently_used(tmp_path):
    c = Cache(tmp_path / "c", max_bytes="350KB")
    paths = _fill(c, 3)
    assert c.get("stems", make_key("lru", 0)) is not None  # a hit refreshes entry 0
    c.put("stems", make_key("lru", 3), {"y": np.zeros(25_000, np.float32)})
    assert [p.exists() for p in paths] == [True, False, True]  # entry 1 was least recently used
    assert cachemod.info(c.root).size_bytes <= 350_000


def test_cap_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("XMTAG_CACHE_MAX", "250KB")
    c = Cache(tmp_path / "c")
    _fill(c, 4)
    assert cachemod.info(c.root).entries == 2
    monkeypatch.setenv("XMTAG_CACHE_MAX", "unlimited")
    assert cachemod.max_cache_bytes() is None


@pytest.mark.parametrize("bad", ["2XB", "lots", "-1GB", "1e3", ""])
def test_bad_cache_max(monkeypatch, bad, tmp_path):
    monkeypatch.setenv("XMTAG_CACHE_MAX", bad)
    if bad == "":
        assert cachemod.max_cache_bytes() == cachemod.DEFAULT_MAX_BYTES  # unset-like: the default
        return
    with pytest.raises(CacheError, match=r"XMTAG_CACHE_MAX=.* is not a size; write e\.g\. 2GB"):
        Cache(tmp_path).put("stems", KEY, {"y": np.zeros(3)})


def test_clear_touches_only_cache_entries(tmp_path):
    c = Cache(tmp_path / "c")
    _fill(c, 2)
    (c.root / "README.txt").write_text("not an entry")  # e.g. XMTAG_CACHE pointed at a busy folder
    (c.root / "demucs-repos").mkdir()
    (c.root / "demucs-repos" / "model.th").write_bytes(b"weights")
    assert cachemod.clear(root=c.root) == 2
    assert (c.root / "README.txt").exists() and (c.root / "demucs-repos" / "model.th").exists()
    assert cachemod.info(c.root).entries == 0


def test_prune_removes_stale_temp_files_and_corrupt_entries(tmp_path):
    c = Cache(tmp_path / "c", max_bytes="unlimited")
    paths = _fill(c, 3)
    stale = paths[0].parent / ".abc.xmc.1234.tmp.xmc"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = paths[0].parent / ".def.xmc.99.tmp.xmc"  # a writer still at work: kept
    fresh.write_bytes(b"half")
    raw = bytearray(paths[2].read_bytes())
    raw[10] ^= 0xFF
    paths[2].write_bytes(bytes(raw))
    r = cachemod.prune("10GB", c.root, verify=True)
    assert r == {"evicted": 0, "freed_bytes": 0, "temp_files": 1, "corrupt": 1}
    assert not stale.exists() and fresh.exists() and not paths[2].exists()
    r = cachemod.prune("150KB", c.root)
    assert r["evicted"] == 1 and paths[1].exists() and not paths[0].exists()


def test_cache_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XMTAG_CACHE", str(tmp_path / "c"))
    _fill(Cache(), 2)
    assert main(["cache", "info", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["entries"] == 2 and doc["namespaces"]["stems"]["entries"] == 2
    assert main(["cache", "prune", "--max", "150KB"]) == 0
    assert "evicted 1 entries" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert "removed 1 cache entries" in capsys.readouterr().out
    assert main(["cache", "prune", "--max", "huge"]) == 1
    assert "--max='huge' is not a size; write e.g. 2GB" in capsys.readouterr().err


def test_uncacheable_meta_and_arrays_are_clear_errors(tmp_path):
    c = Cache(tmp_path / "c")
    with pytest.raises(CacheError, match=r"Cannot cache taggers/.*not JSON serialisable.*JSON-able meta"):
        c.put("taggers", KEY, ARRAYS, {"fn": print})
    with pytest.raises(CacheError, match=r"Cannot cache array 'o' of object dtype"):
        c.put("taggers", KEY, {"o": np.array([None, 1], dtype=object)})
    assert (
        list((tmp_path / "c").rglob("*.xmc")) == []
        and [p for p in (tmp_path / "c").rglob("*") if p.is_file()] == []
    )
