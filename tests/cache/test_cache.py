from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest

from xmtag.cache import Cache, cache_dir, hash_array, make_key


def test_roundtrip_and_meta(tmp_path, rng):
    c = Cache(tmp_path)
    key = make_key("song", 1)
    arrays = {"a": rng.standard_normal((2, 100)).astype(np.float32), "b": np.arange(5), "e": np.zeros(0)}
    c.put("ns", key, arrays, meta={"sr": 44100, "names": ["a", "b"]})
    got, meta = c.get("ns", key)
    assert meta == {"sr": 44100, "names": ["a", "b"]}
    for k, v in arrays.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape
        np.testing.assert_array_equal(got[k], v)
    mm, _ = c.get("ns", key, mmap=True)
    np.testing.assert_array_equal(mm["a"], arrays["a"])


def test_miss_and_disabled(tmp_path):
    c = Cache(tmp_path)
    assert c.get("ns", make_key("x")) is None
    off = Cache(tmp_path, enabled=False)
    assert off.put("ns", make_key("x"), {"a": np.zeros(1)}) is None
    assert c.get("ns", make_key("x")) is None


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage"])
def test_corrupt_entry_is_a_miss_and_recomputed(tmp_path, damage):
    c = Cache(tmp_path)
    key = make_key("k")
    path = c.put("ns", key, {"a": np.arange(1000, dtype=np.float64)})
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[100] ^= 0xFF
    elif damage == "empty":
        data = bytearray()
    else:
        data = bytearray(b"not a cache entry at all")
    path.write_bytes(bytes(data))
    assert c.get("ns", key) is None
    assert not path.exists()  # removed so that it is rebuilt
    calls = []

    def compute():
        calls.append(1)
        return {"a": np.arange(1000, dtype=np.float64)}, {}

    got, _ = c.get_or_compute("ns", key, compute)
    np.testing.assert_array_equal(got["a"], np.arange(1000.0))
    got2, _ = c.get_or_compute("ns", key, compute)
    assert len(calls) == 1 and np.array_equal(got2["a"], got["a"])


def test_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("XMTAG_CACHE", str(tmp_path / "here"))
    assert cache_dir() == tmp_path / "here"


def test_bad_key(tmp_path):
    from xmtag.errors import CacheError

    with pytest.raises(CacheError, match=r"Cache key must be a lowercase hex digest, got '\.\./"):
        Cache(tmp_path).path("ns", "../../etc/passwd")


def test_unwritable_cache_does_not_fail(tmp_path):
    (tmp_path / "file").write_text("x")
    c = Cache(tmp_path / "file")  # root is a file: cannot create folders below it
    assert c.put("ns", make_key("a"), {"a": np.zeros(2)}) is None


def test_hash_array_sensitivity():
    a = np.arange(6, dtype=np.float32)
    assert hash_array(a) != hash_array(a.reshape(2, 3))
    b = a.copy()
    b[3] += 1e-6
    assert hash_array(a) != hash_array(b)
    assert hash_array(np.asfortranarray(a.reshape(2, 3))) == hash_array(a.reshape(2, 3))


def _fill(root: str, seed: int) -> None:
    c = Cache(root)
    for _ in range(20):
        c.put("race", make_key("same"), {"a": np.arange(200_000, dtype=np.float32)}, meta={"by": seed})


def test_two_processes_fill_same_key(tmp_path, caplog):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_fill, args=(str(tmp_path), i)) for i in range(2)]
    for p in procs:
        p.start()
    c = Cache(tmp_path)
    seen = misses = 0
    while any(p.is_alive() for p in procs):
        hit = c.get("race", make_key("same"))
        if hit is not None:  # never a half-written entry: a hit is always complete
            assert hit[0]["a"].shape == (200_000,) and hit[0]["a"][-1] == 199_999
            seen += 1
        else:
            misses += 1
    for p in procs:
        p.join()
        assert p.exitcode == 0
    # 40 writes of 800 KB (each fsynced) take far longer than one read: the reader saw the entry
    # while the writers were still replacing it, and never a damaged one (no entry was deleted)
    assert seen > 0, f"no hit in {misses} reads while two processes wrote the entry"
    assert "corrupt" not in caplog.text
    arrays, meta = c.get("race", make_key("same"))
    np.testing.assert_array_equal(arrays["a"], np.arange(200_000, dtype=np.float32))
    assert meta["by"] in (0, 1)
    leftovers = [p for p in (tmp_path / "race").rglob("*") if p.is_file() and not p.name.endswith(".xmc")]
    assert leftovers == []
