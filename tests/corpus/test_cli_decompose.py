"""``xmtag corpus explain --decompose hpss`` splits each mix without a model, as ``xmtag explain`` does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import xmtag

ROOT = Path(__file__).resolve().parents[2]  # the subprocess imports this checkout's xmtag
SR = 16000


def test_corpus_explain_decompose_hpss(tmp_path):
    t = np.arange(SR) / SR
    y = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.3 * (np.arange(SR) % 4000 < 40)
    src = tmp_path / "mixes"
    src.mkdir()
    xmtag.save_audio(src / "a.wav", np.stack([y, y]).astype(np.float32), SR)
    store = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "xmtag", "-q", "corpus", "explain", str(src), "--out", str(store)]
    r = subprocess.run(
        [*cmd, "--tagger", "musicnn-msd", "--workers", "0", "--decompose", "hpss"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads((store / "corpus.json").read_text())
    assert doc["settings"]["separator"] == "hpss" and doc["separator_used"]
    c = xmtag.corpus.load(store)
    assert c.failures.empty and c.tracks == ["a"]
    assert set(c.table.stem) == set(c.explanation("a").stems) and len(set(c.table.stem)) == 2
    help_text = subprocess.run(
        [sys.executable, "-m", "xmtag", "corpus", "explain", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    ).stdout
    assert "--decompose" in help_text
