"""Tagging a long recording chunk by chunk: :func:`xmtag.taggers.stream_patches`."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from xmtag.errors import TaggerError
from xmtag.taggers import FunctionTagger, can_stream, stream_patches


class ContextTagger:
    """Patch ``p`` depends on its own samples and the ``patch_context`` samples before it (zeros
    before the clip), as musicnn's first STFT frame of a patch does."""

    labels = ("mean", "edge")
    sample_rate = 100
    patch_length = 10
    patch_context = 3

    def predict_patches(self, batch: np.ndarray) -> np.ndarray:
        b, n = batch.shape
        p = max(1, n // self.patch_length)
        padded = np.concatenate([np.zeros((b, self.patch_context), batch.dtype), batch], axis=1)
        out = np.empty((b, p, 2))
        for k in range(p):
            window = padded[:, k * self.patch_length : (k + 1) * self.patch_length + self.patch_context]
            out[:, k, 0] = window.mean(axis=1)
            out[:, k, 1] = window[:, : self.patch_context].sum(axis=1)  # only the context
        return out

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.predict_patches(batch).mean(axis=1)


@pytest.mark.parametrize("chunk", [1, 2, 7, 100])
def test_chunks_give_the_whole_clip_patches(chunk):
    tagger = ContextTagger()
    y = np.random.default_rng(0).standard_normal(257).astype(np.float32)
    whole = tagger.predict_patches(y[np.newaxis])[0]
    cuts = [0, 5, 6, 40, 41, 130, 257]
    blocks = [y[a:b] for a, b in itertools.pairwise(cuts)]
    got = np.concatenate(list(stream_patches(tagger, blocks, chunk_patches=chunk, total=257)))
    assert got.shape == whole.shape == (25, 2)
    np.testing.assert_allclose(got, whole, rtol=0, atol=1e-12)


def test_what_cannot_be_streamed_is_refused():
    clip_level = FunctionTagger(lambda b: b.mean(1, keepdims=True), ["m"], sample_rate=10)
    assert not can_stream(clip_level)
    no_context = FunctionTagger(lambda b: b.mean(1, keepdims=True), ["m"], sample_rate=10, patch_length=5)
    assert not can_stream(no_context)  # undeclared context: patches may see the whole clip
    with pytest.raises(TaggerError, match="chunk by chunk"):
        next(stream_patches(no_context, [np.zeros(20, np.float32)]))
    wide = ContextTagger()
    wide.patch_context = 11  # more than one patch before
    assert not can_stream(wide)
    with pytest.raises(TaggerError, match="chunk_patches"):
        next(stream_patches(ContextTagger(), [np.zeros(20, np.float32)], chunk_patches=0))


def test_short_and_empty_recordings():
    tagger = ContextTagger()
    short = np.ones(7, np.float32)
    rows = list(stream_patches(tagger, [short]))
    np.testing.assert_allclose(np.concatenate(rows), tagger.predict_patches(short[np.newaxis])[0])
    with pytest.raises(TaggerError, match="zero samples"):
        list(stream_patches(tagger, [np.zeros(0, np.float32)]))


@pytest.mark.slow
def test_tag_command_streams_a_long_file_with_the_whole_file_scores(tmp_path, capsys):
    """``xmtag tag`` on a file over two minutes tags it chunk by chunk: same JSON scores as whole."""
    import json

    import soundfile as sf

    import xmtag
    from xmtag.cli import main
    from xmtag.cli.tag import STREAM_SECONDS, _scores

    sr = 16000
    t = np.arange(int((STREAM_SECONDS + 75) * sr)) / sr
    rng = np.random.default_rng(0)
    y = 0.3 * np.sin(2 * np.pi * 110 * t * (1 + 0.1 * np.sin(t))) + 0.05 * rng.standard_normal(t.size)
    path = tmp_path / "long.wav"
    sf.write(path, y.astype(np.float32), sr, subtype="FLOAT")
    assert main(["tag", str(path), "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    tagger = xmtag.load_tagger("musicnn-msd")
    clip, patches = _scores(tagger, [y[np.newaxis].astype(np.float32)])[0]
    assert len(out["patches"]) == patches.shape[0] == t.size // tagger.patch_length
    np.testing.assert_allclose(np.array(out["patches"]), patches, atol=2e-6)
    np.testing.assert_allclose([out["tags"][k] for k in tagger.labels], clip, atol=2e-6)
    assert out["duration_s"] == pytest.approx(t.size / sr)
