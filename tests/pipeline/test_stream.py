"""`explain(..., stream=...)`: a long recording block by block, its stems on disk, the same values.

The separator and tagger are small deterministic code-path models (no weights).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

import xmtag
from xmtag.errors import XmtagError
from xmtag.report import export
from xmtag.separation import DiskStems
from xmtag.taggers import FunctionTagger

SR = 8000


class ChunkSeparator:
    """``loud = x * rms(chunk of 4000)``, ``rest = x - loud``: stems that depend on the chunk grid."""

    samplerate, sources, block_frames, residual, progress = None, ["loud", "rest"], 4000, "auto", False
    model_name = "toy-chunks"

    def separate(self, y, sr=None):
        if not isinstance(y, np.ndarray):  # a file
            y, sr = xmtag.load_audio(y)
        y = np.asarray(y, np.float32)
        loud = np.empty_like(y)
        for a in range(0, y.shape[1], 4000):
            loud[:, a : a + 4000] = y[:, a : a + 4000] * np.sqrt((y[:, a : a + 4000] ** 2).mean())
        return xmtag.Stems({"loud": loud, "rest": y - loud}, sr=sr, mixture=y)


def _tagger() -> FunctionTagger:
    """Per-patch (0.5 s) tags from the patch's loudness and roughness; no context."""

    def fn(batch):
        rms = np.sqrt((batch**2).mean(1))
        rough = np.abs(np.diff(batch, axis=1)).mean(1)
        return np.stack([np.tanh(4 * rms), np.tanh(3 * rough), 1 / (1 + np.exp(-(rms - rough)))], 1)

    t = FunctionTagger(fn, ["loud", "rough", "mixed"], sample_rate=SR, patch_length=4000, name="toy-rms")
    t.patch_context = 0
    return t


@pytest.fixture
def song(tmp_path):
    rng = np.random.default_rng(0)
    n = int(21.3 * SR)
    env = 0.2 + 0.8 * np.abs(np.sin(np.linspace(0, 9, n)))
    path = tmp_path / "long.wav"
    xmtag.save_audio(path, (rng.normal(0, 0.2, (2, n)) * env).astype(np.float32), SR)
    return path


def test_streamed_explanation_equals_the_in_memory_one(song, tmp_path):
    kw = {"separator": ChunkSeparator(), "segments": 6, "cache": False, "progress": False}
    mem = xmtag.explain(song, _tagger(), stream=False, **kw)
    disk = xmtag.explain(song, _tagger(), stream=True, **kw)
    assert isinstance(disk.audio, DiskStems) and not isinstance(mem.audio, DiskStems)
    assert disk.provenance.extra["streamed"] is True and mem.provenance.extra["streamed"] is False
    np.testing.assert_allclose(disk.values, mem.values, atol=1e-6)
    np.testing.assert_allclose(disk.segment_values, mem.segment_values, atol=1e-6)
    np.testing.assert_allclose(disk.coalition_values, mem.coalition_values, atol=1e-6)
    assert disk.provenance.extra["audio"]["sha256"] == mem.provenance.extra["audio"]["sha256"]
    np.testing.assert_allclose(disk.envelope, mem.envelope, atol=1e-6)  # the mix file vs the stems' sum
    # the exported audio is mixed and encoded block by block from the files: the same bytes
    a = export(disk, tmp_path / "disk", plots=False)
    b = export(mem, tmp_path / "mem", plots=False)
    listens = sorted(k for k in a if str(k).startswith("listen"))
    assert listens and listens == sorted(k for k in b if str(k).startswith("listen"))
    for k in listens:
        assert a[k].read_bytes() == b[k].read_bytes()
    assert a["report"].stat().st_size > 10_000


def test_stream_auto_by_length_and_its_refusals(song, monkeypatch, caplog):
    kw = {"separator": ChunkSeparator(), "cache": False, "progress": False}
    assert xmtag.explain(song, _tagger(), **kw).provenance.extra["streamed"] is False  # 21 s: in memory
    monkeypatch.setattr(xmtag.pipeline, "STREAM_SECONDS", 10.0)
    assert xmtag.explain(song, _tagger(), **kw).provenance.extra["streamed"] is True
    with caplog.at_level(logging.WARNING, logger="xmtag.pipeline"):
        expl = xmtag.explain(song, _tagger(), baseline="noise", **kw)
    assert expl.provenance.extra["streamed"] is False
    assert "explained in memory, because baseline='noise'" in caplog.text
    with pytest.raises(XmtagError, match=r"stream=True cannot be used here: bands= splits"):
        xmtag.explain(song, _tagger(), stream=True, bands=2, **kw)
    with pytest.raises(XmtagError, match="stream must be True, False or None"):
        xmtag.explain(song, _tagger(), stream="yes", **kw)


def test_disk_stems_are_a_source_too(song, tmp_path):
    stems = xmtag.separation.separate_blocks(ChunkSeparator(), song, tmp_path / "stems", progress=False)
    expl = xmtag.explain(stems, _tagger(), stream=True, cache=False, progress=False)
    assert expl.audio is stems and expl.provenance.source["kind"] == "stems"
    mem = xmtag.explain(
        xmtag.Stems({k: stems[k] for k in stems.names}, sr=SR), _tagger(), cache=False, progress=False
    )
    np.testing.assert_allclose(expl.values, mem.values, atol=1e-6)
