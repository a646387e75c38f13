"""Bounded log-Mel features: the same numbers as faster-whisper's extractor, in bounded memory (#27)."""

from __future__ import annotations

import sys
import tracemalloc
import weakref

import numpy as np
import pytest

pytest.importorskip("faster_whisper", reason="needs the [speech] extra")
from faster_whisper.feature_extractor import FeatureExtractor

from xmtag.speech import _features, models
from xmtag.speech._audio import SpeechSource
from xmtag.speech._features import BoundedFeatureExtractor, bound_features
from xmtag.speech._postprocess import SegmentStats
from xmtag.speech.transcript import Segment

transcribe_mod = sys.modules["xmtag.speech._transcribe"]
pytestmark = pytest.mark.speech


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    y = 0.1 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(n)
    return y.astype(np.float32)


@pytest.mark.parametrize(
    "n", [1, 239, 400, 16000, 3000 * 160 - 1, 3000 * 160, 3000 * 160 + 161, 16000 * 95 + 7]
)
@pytest.mark.parametrize("n_mels", [80, 128])
def test_features_equal_faster_whisper_bit_for_bit(n, n_mels):
    ref = FeatureExtractor(feature_size=n_mels)
    y = _speechlike(n, n)
    expected = ref(y, chunk_length=30)
    got = BoundedFeatureExtractor.like(ref)(y, chunk_length=30)
    assert got.dtype == expected.dtype == np.float32
    assert got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("chunk", [64, 100, 999])
def test_every_chunking_gives_the_same_features(chunk):
    ref = FeatureExtractor()
    y = _speechlike(16000 * 21 + 333).astype(np.float64)  # a float64 input is converted as the original does
    y[: 16000 * 12] = 0.0  # silence: its chunks are clamped by the maximum of the whole input
    bounded = BoundedFeatureExtractor.like(ref)
    bounded.chunk_frames = chunk
    assert bounded(y, padding=0).tobytes() == ref(y, padding=0).tobytes()


def test_working_set_does_not_grow_with_the_input():
    """Beyond the padded input and the output, the extractor holds a few MB whatever the length."""
    bounded = BoundedFeatureExtractor.like(FeatureExtractor())
    extra = []
    for seconds in (120, 480):
        y = _speechlike(16000 * seconds)
        tracemalloc.start()
        out = bounded(y)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        extra.append(peak - 2 * y.nbytes - out.nbytes)  # the padded copies of the input, the output
    assert max(extra) < 32 * 2**20  # faster-whisper's own extractor: 0.1 GB at 120 s, 0.4 GB at 480 s
    assert extra[1] < extra[0] + 2**20


def test_bound_features_replaces_the_extractor_once():
    class Model:
        feature_extractor = FeatureExtractor()

    m = Model()
    assert bound_features(m) is m and isinstance(m.feature_extractor, BoundedFeatureExtractor)
    fe = m.feature_extractor
    bound_features(m)
    assert m.feature_extractor is fe
    assert fe.n_samples == Model.feature_extractor.n_samples and fe.mel_filters.shape == (80, 201)
    assert _features.CHUNK_FRAMES * fe.hop_length == 30 * 16000


def test_transcription_keeps_no_block_while_reading_the_next(monkeypatch):
    """The transcription loop drops each block (and the backend's results that hold it) before it
    reads the next: memory holds one block of audio, not two (#27)."""
    alive: list[weakref.ref] = []
    leaks = []

    class Results:  # like faster-whisper's lazy segments, which hold the block's audio
        def __init__(self, block):
            self.block, self.items = block, iter([(Segment(0.0, 1.0, "words"), SegmentStats())])

        def __iter__(self):
            return self

        def __next__(self):
            return next(self.items)

    def fake_backend(model, block, options):
        alive.append(weakref.ref(block))
        return "en", None, Results(block)

    real_blocks = SpeechSource.blocks

    def blocks(self):
        for piece in real_blocks(self):
            leaks.append(sum(r() is not None for r in alive))
            yield piece

    monkeypatch.setattr(transcribe_mod, "_faster_whisper", fake_backend)
    monkeypatch.setattr(transcribe_mod.post, "speech_regions", lambda block, sr: None)
    monkeypatch.setattr(transcribe_mod, "load_model", lambda *a, **k: (None, models.resolve_model(None)))
    monkeypatch.setattr(SpeechSource, "blocks", blocks)
    y = _speechlike(16000 * 200)
    tr = transcribe_mod.transcribe(y, sr=16000, progress=False, block_seconds=30)
    assert len(alive) >= 6 and len(tr.segments) == len(alive)
    assert max(leaks) == 0
