"""Hostile corpus, issue #24 part 1: ``xmtag cache clear|prune`` pointed at a folder that is not
xmtag's cache deletes nothing; in xmtag's cache only xmtag's entries and temporary files go."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from hostile_support import tree_hash

import xmtag.cache as cachemod
from xmtag.cache import CACHE_MARKER, Cache, make_key
from xmtag.cli import main
from xmtag.errors import CacheError, XmtagError


def _user_cache(home):
    """What ~/.cache looks like: other programs' folders, temp files, even a ``.xmc`` file."""
    c = home / ".cache"
    (c / "pip" / "ab").mkdir(parents=True)
    (c / "pip" / "ab" / "0123abcd.xmc").write_bytes(b"another program's file")
    (c / "pip" / "ab" / ".0123.xmc.x1y2.tmp.xmc").write_bytes(b"half")
    (c / "mozilla" / "firefox").mkdir(parents=True)
    (c / "mozilla" / ".parent.lock.tmp").write_bytes(b"lock")
    (c / "empty-folder" / "00").mkdir(parents=True)
    old = time.time() - 86400
    for p in (c / "pip" / "ab" / ".0123.xmc.x1y2.tmp.xmc", c / "mozilla" / ".parent.lock.tmp"):
        os.utime(p, (old, old))
    return c


def test_cli_cache_clear_on_a_folder_that_is_not_a_cache_is_refused(tmp_path, monkeypatch, capsys):
    c = _user_cache(tmp_path)
    monkeypatch.setenv("XMTAG_CACHE", str(c))
    before = tree_hash(tmp_path)
    assert main(["cache", "clear"]) == 1
    assert main(["cache", "prune", "--max", "0B"]) == 1
    err = capsys.readouterr().err
    assert "not an xmtag cache" in err and str(c) in err and "XMTAG_CACHE" in err
    assert tree_hash(tmp_path) == before


@pytest.mark.parametrize("action", ["clear", "prune"])
def test_library_clear_and_prune_refuse_a_foreign_folder(tmp_path, action):
    c = _user_cache(tmp_path)
    before = tree_hash(tmp_path)
    with pytest.raises(CacheError, match=r"Refusing to .*not an xmtag cache.*XMTAG_CACHE"):
        cachemod.clear(root=c) if action == "clear" else cachemod.prune("0B", c, verify=True)
    assert issubclass(CacheError, XmtagError)
    assert tree_hash(tmp_path) == before


def test_someone_elses_cachedir_tag_does_not_make_a_folder_ours(tmp_path):
    c = _user_cache(tmp_path)
    (c / CACHE_MARKER).write_text("Signature: 8a477f597d28d172789f06886806bc55\n# by another tool\n")
    before = tree_hash(tmp_path)
    with pytest.raises(CacheError, match="not an xmtag cache"):
        cachemod.clear(root=c)
    assert tree_hash(tmp_path) == before


def test_in_a_real_cache_only_entries_with_the_xmtag_trailer_are_removed(tmp_path):
    cache = Cache(tmp_path / "c", max_bytes="unlimited")
    entry = cache.put("stems", make_key("song"), {"y": np.zeros(100, np.float32)})
    assert (cache.root / CACHE_MARKER).is_file()
    shard = entry.parent
    impostor = shard / ("ab" * 32 + ".xmc")  # an entry-like name without xmtag's trailer
    impostor.write_bytes(b"not written by xmtag")
    foreign_tmp = shard / ".lock.tmp"
    foreign_tmp.write_bytes(b"x")
    (cache.root / "stems" / "notes").mkdir()
    outside = tmp_path / "outside"
    (outside / "ab").mkdir(parents=True)
    (outside / "ab" / ("cd" * 32 + ".xmc")).write_bytes(entry.read_bytes())  # a real entry, elsewhere
    os.symlink(outside, cache.root / "linked")  # a namespace that is a link: not followed
    before = {k: v for k, v in tree_hash(tmp_path).items() if "stems/" not in k or "notes" in k}
    assert cachemod.clear(root=cache.root) == 1
    assert not entry.exists()
    assert impostor.exists() and foreign_tmp.exists() and (cache.root / "stems" / "notes").is_dir()
    after = {k: v for k, v in tree_hash(tmp_path).items() if "stems/" not in k or "notes" in k}
    assert after == before
