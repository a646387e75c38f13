"""A corpus rerun skips untouched tracks but re-explains a track rewritten with the same byte length.

The quick skip check compares each audio file's name, size and modification time with the store's
record; a file rewritten in place with other samples of the same length keeps its size, so only
its newer modification time tells the rerun to look again (and hash the content).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import xmtag
from xmtag.taggers import FunctionTagger

SR = 8000
ROWS = {"n": 0}


def _fn(batch: np.ndarray) -> np.ndarray:
    ROWS["n"] += batch.shape[0]
    rms = np.sqrt((batch.astype(np.float64) ** 2).mean(1, keepdims=True))
    return np.concatenate([np.tanh(4 * rms), 1 - np.exp(-2 * np.abs(batch).max(1, keepdims=True))], axis=1)


def _tagger() -> FunctionTagger:
    return FunctionTagger(_fn, ["rock", "jazz"], sample_rate=SR, name="skip-rewrite-toy")


def _stem(i: int, k: int, gain: float = 1.0) -> np.ndarray:
    t = np.arange(SR // 2) / SR
    y = gain * (0.1 + 0.05 * i + 0.1 * k) * np.sin(2 * np.pi * (150 + 40 * i + 300 * k) * t)
    return np.stack([y, 0.5 * y]).astype(np.float32)


def _make(root: Path) -> Path:
    for i in range(2):
        d = root / f"song{i}"
        d.mkdir(parents=True)
        for k, name in enumerate(("drums", "bass")):
            xmtag.save_audio(d / f"{name}.wav", _stem(i, k), SR)
    return root


def test_same_length_rewrite_with_newer_mtime_is_explained_again(tmp_path):
    """Catches the skip check comparing file sizes without mtimes (a same-length rewrite is skipped)."""
    src = _make(tmp_path / "src")
    store = tmp_path / "store"
    ROWS["n"] = 0
    first = xmtag.corpus.explain(src, store, tagger=_tagger(), workers=0, cache=False, progress=False)
    before = {t: first.explanation(t).values.copy() for t in ("song0", "song1")}
    hashes = {r["track"]: r["input_hash"] for r in first.records()}
    rows_both = ROWS["n"]  # tagger rows to explain both tracks
    assert rows_both > 0

    # rewrite song1's drums in place: other samples, the same number of bytes, a newer mtime
    wav = src / "song1" / "drums.wav"
    old_bytes, old_stat = wav.read_bytes(), wav.stat()
    xmtag.save_audio(wav, _stem(1, 0, gain=2.5), SR)
    assert wav.stat().st_size == old_stat.st_size and wav.read_bytes() != old_bytes
    os.utime(wav, ns=(old_stat.st_atime_ns, old_stat.st_mtime_ns + 5_000_000_000))
    untouched = {p: p.stat().st_mtime_ns for p in (src / "song0").iterdir()}

    ROWS["n"] = 0
    again = xmtag.corpus.explain(src, store, tagger=_tagger(), workers=0, cache=False, progress=False)
    assert {p: p.stat().st_mtime_ns for p in (src / "song0").iterdir()} == untouched
    # song1 ran again, song0 did not: some tagger rows, fewer than for both tracks
    assert 0 < ROWS["n"] < rows_both
    assert len(again) == 2 and again.failures.empty
    new_hashes = {r["track"]: r["input_hash"] for r in again.records()}
    assert new_hashes["song0"] == hashes["song0"]
    assert new_hashes["song1"] != hashes["song1"]
    np.testing.assert_array_equal(again.explanation("song0").values, before["song0"])
    assert not np.allclose(again.explanation("song1").values, before["song1"])
    direct = xmtag.explain(src / "song1", _tagger(), cache=False, progress=False)
    np.testing.assert_allclose(again.explanation("song1").values, direct.values, atol=1e-12)
    # and the table follows the new explanation
    rows = again.table.query("track == 'song1' and tag == 'rock' and stem == 'drums'")["value"]
    assert rows.iloc[0] == pytest.approx(np.asarray(direct.values)[direct.stems.index("drums"), 0], abs=1e-12)
