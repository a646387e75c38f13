"""A damaged corpus store repairs itself from its per-track files (issue 24).

A truncated ``table.parquet`` used to give pyarrow's raw ``ArrowInvalid`` on every load, and a
rerun did not repair it. The table is derived data: it is rebuilt from the track files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import xmtag
from xmtag.taggers import FunctionTagger

SR = 8000


def _tagger() -> FunctionTagger:
    def fn(batch: np.ndarray) -> np.ndarray:
        rms = np.sqrt((batch.astype(np.float64) ** 2).mean(1, keepdims=True))
        return np.concatenate(
            [np.tanh(4 * rms), 1 - np.exp(-2 * np.abs(batch).max(1, keepdims=True))], axis=1
        )

    return FunctionTagger(fn, ["rock", "jazz"], sample_rate=SR, name="store-toy")


def _corpus(tmp_path: Path) -> tuple[Path, Path]:
    src, store = tmp_path / "src", tmp_path / "store"
    t = np.arange(SR // 2) / SR
    for i in range(3):
        d = src / f"song{i}"
        d.mkdir(parents=True)
        for k, name in enumerate(("drums", "bass")):
            y = (0.1 + 0.05 * i + 0.1 * k) * np.sin(2 * np.pi * (150 + 40 * i + 300 * k) * t)
            xmtag.save_audio(d / f"{name}.wav", np.stack([y, y]).astype(np.float32), SR)
    xmtag.corpus.explain(src, store, tagger=_tagger(), workers=0, progress=False)
    return src, store


def test_a_truncated_table_is_rebuilt_on_load_and_by_a_rerun(tmp_path):
    src, store = _corpus(tmp_path)
    table = store / "table.parquet"
    good = pd.read_parquet(table)
    data = table.read_bytes()
    table.write_bytes(data[: len(data) // 2])  # a crash or a full disk mid-copy
    c = xmtag.corpus.load(store)
    pd.testing.assert_frame_equal(c.table.reset_index(drop=True), good.reset_index(drop=True))
    table.write_bytes(data[:100])
    c = xmtag.corpus.explain(src, store, tagger=_tagger(), workers=0, progress=False)  # nothing to compute
    pd.testing.assert_frame_equal(pd.read_parquet(table).reset_index(drop=True), good.reset_index(drop=True))
    assert c.summarize(by=None)["n"].max() == 3
