"""The table is derived data: it records the track files it was built from, is rebuilt
whenever they differ (by a rerun with nothing to compute, and on load), and is updated
incrementally (only new or changed tracks are read)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

import xmtag
from xmtag.corpus import Store
from xmtag.taggers import FunctionTagger

SR = 8000


def _fn(batch: np.ndarray) -> np.ndarray:
    rms = np.sqrt((batch.astype(np.float64) ** 2).mean(1, keepdims=True))
    return np.concatenate([np.tanh(4 * rms), 1 - np.exp(-2 * np.abs(batch).max(1, keepdims=True))], axis=1)


def _tagger() -> FunctionTagger:
    return FunctionTagger(_fn, ["rock", "jazz"], sample_rate=SR, name="table-toy")


def _make(root: Path, n: int, start: int = 0) -> Path:
    t = np.arange(SR // 2) / SR
    for i in range(start, n):
        d = root / f"song{i}"
        d.mkdir(parents=True, exist_ok=True)
        for k, name in enumerate(("drums", "bass")):
            y = (0.1 + 0.05 * i + 0.1 * k) * np.sin(2 * np.pi * (150 + 40 * i + 300 * k) * t)
            xmtag.save_audio(d / f"{name}.wav", np.stack([y, 0.5 * y]).astype(np.float32), SR)
    return root


def _run(src: Path, store: Path, **kw):
    return xmtag.corpus.explain(src, store, tagger=_tagger(), workers=0, progress=False, segments=2, **kw)


def _stale_store(tmp_path: Path) -> tuple[Path, Path]:
    """5 track files, but the table (and segments) of the first 3: the run died before its write."""
    src = _make(tmp_path / "src", 3)
    store = tmp_path / "store"
    _run(src, store)
    old = {n: (store / n).read_bytes() for n in ("table.parquet", "segments.parquet")}
    _make(src, 5, start=3)
    _run(src, store)
    for n, data in old.items():
        (store / n).write_bytes(data)
    return src, store


def test_a_rerun_with_nothing_to_compute_rebuilds_a_stale_table(tmp_path):
    src, store = _stale_store(tmp_path)
    assert not Store(store).tables_current()
    c = _run(src, store)
    assert c.status(src) == {"done": 5, "failed": 0, "pending": 0, "total": 5}
    assert sorted(c.table.track.unique()) == [f"song{i}" for i in range(5)]
    assert sorted(c.segments.track.unique()) == [f"song{i}" for i in range(5)]
    assert set(c.summarize(by=None, n_boot=50)["n"]) == {5}
    assert Store(store).tables_current()


def test_load_rebuilds_a_stale_table(tmp_path):
    _, store = _stale_store(tmp_path)
    c = xmtag.corpus.load(store)
    assert len(c) == 5 and c.table.track.nunique() == 5 and c.segments.track.nunique() == 5
    assert Store(store).tables_current()


def test_the_table_is_updated_incrementally(tmp_path, monkeypatch):
    src = _make(tmp_path / "src", 3)
    store = tmp_path / "store"
    full = _run(src, store).table
    read: list[str] = []
    orig = Store.explanation

    def spy(self, track_id):
        read.append(track_id)
        return orig(self, track_id)

    monkeypatch.setattr(Store, "explanation", spy)
    assert Store(store).write_tables() is False and read == []  # current: nothing rewritten
    _make(src, 4, start=3)
    c = _run(src, store)
    assert read == ["song3"]  # only the new track's file was read
    assert c.table[c.table.track != "song3"].reset_index(drop=True).equals(full)
    monkeypatch.undo()
    rebuilt = tmp_path / "rebuilt"
    shutil.copytree(store, rebuilt)
    Store(rebuilt).write_tables(force=True)
    assert xmtag.corpus.load(rebuilt).table.equals(c.table)


def test_labels_named_like_table_columns_are_refused_clearly(tmp_path):
    import json

    import pandas as pd
    import pytest

    from xmtag.errors import XmtagError

    src = _make(tmp_path / "src", 2)
    clash = pd.DataFrame(
        {"track": ["song0", "song1"], "tag": ["a", "b"], "value": [1, 2], "genre": ["x", "y"]}
    )
    with pytest.raises(
        XmtagError, match=r"label column\(s\) \['tag', 'value'\] have the names of table columns"
    ):
        xmtag.corpus.explain(
            src, tmp_path / "store", tagger=_tagger(), manifest=clash, workers=0, progress=False
        )
    assert not (tmp_path / "store" / "corpus.json").exists()
    # a store written before the check: the labels never overwrite the table's columns
    c = _run(src, tmp_path / "old", manifest=clash[["track", "genre"]])
    rec = next((tmp_path / "old" / "tracks").glob("song0-*.json"))
    doc = json.loads(rec.read_text())
    doc["labels"]["tag"] = "overwritten?"
    rec.write_text(json.dumps(doc))
    Store(tmp_path / "old").write_tables(force=True)
    table = xmtag.corpus.load(tmp_path / "old").table
    assert set(table.tag) == {"rock", "jazz"} and set(table.label_tag.dropna()) == {"overwritten?"}
    assert len(c) == 2
