"""The store records the separator actually used for its mixes (also when chosen automatically),
and a later run neither picks another one nor mixes stems of two separators into one table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import xmtag
from xmtag.corpus import runner
from xmtag.taggers import FunctionTagger

SR = 16000


def _fn(batch: np.ndarray) -> np.ndarray:
    rms = np.sqrt((batch.astype(np.float64) ** 2).mean(1, keepdims=True))
    return np.concatenate([np.tanh(4 * rms), 1 - np.exp(-2 * np.abs(batch).max(1, keepdims=True))], axis=1)


def _tagger() -> FunctionTagger:
    return FunctionTagger(_fn, ["rock", "jazz"], sample_rate=SR, name="sep-toy")


def _mix(path: Path, i: int) -> None:
    t = np.arange(SR) / SR
    y = 0.2 * np.sin(2 * np.pi * (220 + 50 * i) * t) + 0.1 * np.sign(np.sin(2 * np.pi * 3 * t))
    path.parent.mkdir(parents=True, exist_ok=True)
    xmtag.save_audio(path, np.stack([y, y]).astype(np.float32), SR)


def _run(src: Path, store: Path):
    return xmtag.corpus.explain(src, store, tagger=_tagger(), workers=0, progress=False)


def test_the_separator_chosen_automatically_is_recorded_and_kept(tmp_path, monkeypatch):
    src = tmp_path / "mixes"
    _mix(src / "a.wav", 0)
    store = tmp_path / "store"
    c = _run(src, store)
    assert c.failures.empty, c.failures.reason.tolist()
    doc = json.loads((store / "corpus.json").read_text())
    assert doc["settings"]["separator"] is None
    used = doc["separator_used"]
    assert used == c.explanation("a").provenance.separator["name"]
    assert c.records()[0]["separator"] == used

    seen: list = []
    real = runner.explain_task

    def other_weights(task):  # a later run where another separator would be the best one
        seen.append(task["separator"])
        return {**real(task), "separator": "htdemucs"}

    monkeypatch.setattr(runner, "explain_task", other_weights)
    _mix(src / "b.wav", 1)
    c = _run(src, store)
    assert seen == [used]  # the recorded separator is asked for, not the automatic choice
    assert c.tracks == ["a"]  # and a track separated otherwise never enters the table
    (reason,) = c.failures.reason
    assert f"separated with 'htdemucs', but this store's mixes were separated with {used!r}" in reason
    assert set(c.table.track) == {"a"}
