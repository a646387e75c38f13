"""The Essentia backend: metadata, the worker process, agreement with the PyTorch port.

Tests marked ``essentia`` need essentia-tensorflow (``pip install 'xmtag[essentia]'``) in
this environment or in the one ``$XMTAG_ESSENTIA_PYTHON`` points at; they are skipped
otherwise. The graph ``tests/data/musicnn/msd-musicnn.pb`` was frozen from the musicnn
package's MSD checkpoint by ``benchmarks/tools/freeze_musicnn_graph.py``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import xmtag
from xmtag.errors import MissingDependencyError, ModelNotFoundError, TaggerError
from xmtag.taggers import ShortClipWarning, Tagger, load_tagger
from xmtag.taggers.essentia import EssentiaTagger, read_metadata

DATA = Path(__file__).parents[1] / "data" / "musicnn"
GRAPH = DATA / "msd-musicnn.pb"
PL = 47872
HAVE_ESSENTIA = (
    bool(os.environ.get("XMTAG_ESSENTIA_PYTHON")) or importlib.util.find_spec("essentia") is not None
)
needs_essentia = pytest.mark.skipif(
    not HAVE_ESSENTIA,
    reason="essentia-tensorflow is not installed (pip install 'xmtag[essentia]', or set "
    "XMTAG_ESSENTIA_PYTHON to a Python that has it)",
)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return xmtag.load_audio(DATA / "clip.flac", mono=True)[0]


@pytest.fixture(scope="module")
def ess():
    if not HAVE_ESSENTIA:
        pytest.skip("essentia-tensorflow not installed")
    with load_tagger(GRAPH) as tagger:
        yield tagger


def test_metadata_is_read_without_essentia():
    meta = read_metadata(GRAPH)
    assert meta["input"] == "model/Placeholder" and meta["output"] == "model/Sigmoid"
    assert meta["sample_rate"] == 16000 and len(meta["labels"]) == 50 and meta["labels"][0] == "rock"
    t = EssentiaTagger(GRAPH)  # no worker yet
    assert isinstance(t, Tagger) and t.patch_length == PL and t.name == "essentia:msd-musicnn"
    assert GRAPH.stat().st_size <= 4 * 2**20


def _copy_graph(tmp_path: Path, meta: dict | str | None) -> Path:
    g = tmp_path / "model.pb"
    shutil.copy(GRAPH, g)
    if meta is not None:
        (tmp_path / "model.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    return g


def test_metadata_errors(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"model\.json is missing"):
        load_tagger(_copy_graph(tmp_path, None))
    with pytest.raises(TaggerError, match="not Essentia model-zoo metadata"):
        load_tagger(_copy_graph(tmp_path, "{not json"))
    meta = json.loads(GRAPH.with_suffix(".json").read_text())
    meta["inference"]["algorithm"] = "TensorflowPredictVGGish"
    with pytest.raises(TaggerError, match="not supported"):
        load_tagger(_copy_graph(tmp_path, meta))
    with pytest.raises(ModelNotFoundError, match="only Essentia"):
        load_tagger(GRAPH.with_suffix(".json"))


@pytest.mark.skipif(importlib.util.find_spec("essentia") is not None, reason="essentia is installed here")
def test_worker_without_essentia_says_what_to_install(clip):
    t = EssentiaTagger(GRAPH, python=sys.executable)
    with pytest.raises(MissingDependencyError, match=r"xmtag\[essentia\].*XMTAG_ESSENTIA_PYTHON"):
        t.predict(clip[:, :PL])


def test_worker_that_cannot_start(clip):
    t = EssentiaTagger(GRAPH, python="/nonexistent/python")
    with pytest.raises(MissingDependencyError, match="Cannot start the essentia worker"):
        t.predict(clip[:, :PL])


@pytest.mark.essentia
@needs_essentia
def test_essentia_agrees_with_pytorch_port(ess, clip):
    if importlib.util.find_spec("musicnn") is None:
        pytest.skip("musicnn package not installed")
    batch = np.concatenate([clip, 0.5 * clip[:, ::-1]])
    got = ess.predict_patches(batch)
    want = load_tagger("musicnn-msd").predict_patches(batch)
    assert got.shape == want.shape == (2, 5, 50)
    # Essentia computes its own mel spectrogram: per-patch agreement within 5e-3 (measured ~9e-4)
    np.testing.assert_allclose(got, want, atol=5e-3, rtol=0)
    np.testing.assert_allclose(ess.predict(batch), want.mean(1), atol=5e-3, rtol=0)


@pytest.mark.essentia
@needs_essentia
def test_essentia_worker_lifecycle_and_inputs(ess, clip):
    y = clip[:, : 2 * PL + 1000]
    first = ess.predict_patches(y)
    assert first.shape == (1, 2, 50)
    ess.close()  # a later call starts a fresh worker
    np.testing.assert_allclose(ess.predict_patches(y), first, atol=1e-6)
    with pytest.warns(ShortClipWarning):
        assert ess.predict_patches(clip[:, :8000]).shape == (1, 1, 50)
    with pytest.raises(TaggerError, match="NaN"):
        ess.predict(np.full((1, PL), np.nan, np.float32))
    with pytest.raises(TaggerError, match="empty"):
        ess.predict(np.zeros((0, PL), np.float32))
