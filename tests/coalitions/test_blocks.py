"""Coalition values of a long recording, block by block (`evaluate_blocks`), against `evaluate`.

The toy tagger is a code-path model with fixed random weights; the musicnn test uses the real
pretrained weights on a real song.
"""

from __future__ import annotations

import numpy as np
import pytest

import xmtag
from xmtag import coalitions
from xmtag.errors import TaggerError

SR = 8000
PL = 2000


class ContextTagger:
    """Patch ``p``'s tags: a fixed nonlinear function of samples ``[p * PL - context, (p + 1) * PL)``
    (zeros before the clip), so a patch hears ``context`` samples of the patches before it."""

    def __init__(self, context: int):
        rng = np.random.default_rng(5)
        self.labels = ["a", "b", "c"]
        self.sample_rate, self.patch_length, self.name = SR, PL, f"toy-context-{context}"
        self.patch_context = context
        self.w = rng.normal(size=(3, 3)) * 2

    def predict_patches(self, batch):
        batch = np.asarray(batch, np.float64)
        p = max(1, batch.shape[1] // PL)
        c = self.patch_context
        padded = np.pad(batch[:, : p * PL], ((0, 0), (c, 0)))
        out = []
        for k in range(p):
            win = padded[:, k * PL : k * PL + c + PL]
            feats = np.stack(
                [
                    np.sqrt((win[:, c:] ** 2).mean(-1)),
                    np.abs(win[:, :c]).mean(-1) if c else 0 * win[:, 0],
                    win.mean(-1),
                ],
                axis=-1,
            )
            out.append(np.tanh(feats @ self.w))
        return np.stack(out, axis=1)

    def predict(self, batch):
        return self.predict_patches(batch).mean(axis=1)


def _stems(sr: int, seconds: float, seed: int = 0) -> xmtag.Stems:
    """Three stems that start and stop (digital silence in parts, as separated stems have)."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    a = 0.5 * np.sin(2 * np.pi * 220 * t) * (t % 3 < 2)
    b = rng.normal(0, 0.2, (2, n)) * (np.sin(2 * np.pi * 0.3 * t) > 0)
    c = 0.3 * np.sign(np.sin(2 * np.pi * 3 * t)) * (t > seconds / 3)
    return xmtag.Stems({"a": a, "b": b, "c": c}, sr=sr)


@pytest.mark.parametrize("context", [0, 64, 2600])  # none, within one patch, more than one patch
@pytest.mark.parametrize("block", [1, 3, 64])
def test_blocks_equal_the_whole_recording(context, block):
    stems, tagger = _stems(SR, 9.7), ContextTagger(context)
    whole = coalitions.evaluate(stems, tagger, segments=4, progress=False)
    parts = coalitions.evaluate_blocks(stems, tagger, segments=4, block_patches=block, progress=False)
    assert parts.n_patches == whole.n_patches == 38
    np.testing.assert_allclose(parts.values, whole.values, atol=1e-6)
    np.testing.assert_allclose(parts.segment_values, whole.segment_values, atol=1e-6)
    np.testing.assert_allclose(parts.segment_shapley, whole.segment_shapley, atol=1e-6)
    np.testing.assert_allclose(parts.segment_bounds, whole.segment_bounds)
    np.testing.assert_allclose(parts.segment_weights, whole.segment_weights)
    assert parts.segment_method == whole.segment_method and parts.row_unit == "patch"
    assert parts.n_naive_rows == whole.n_naive_rows


def test_blocks_resample_as_one_pass():
    """Stems at another rate: the streamed resampling gives the one-pass samples."""
    stems, tagger = _stems(22050, 7.3, seed=1), ContextTagger(64)
    whole = coalitions.evaluate(stems, tagger, progress=False)
    parts = coalitions.evaluate_blocks(stems, tagger, block_patches=2, progress=False)
    assert parts.segment_values is None
    np.testing.assert_allclose(parts.values, whole.values, atol=1e-6)


def test_blocks_need_a_patchwise_tagger_with_context():
    tagger = ContextTagger(0)
    del tagger.patch_context
    tagger.patch_context = None
    with pytest.raises(TaggerError, match="patch_context"):
        coalitions.evaluate_blocks(_stems(SR, 2.0), tagger, progress=False)
    with pytest.raises(TaggerError, match="shorter than one"):
        coalitions.evaluate_blocks(_stems(SR, 0.04), ContextTagger(0), progress=False)


def test_blocks_musicnn_on_a_real_song(real_song_stems):
    """The real tagger (pretrained musicnn) on a real song's stems: the same values by blocks."""
    tagger = xmtag.load_tagger("musicnn-msd")
    whole = coalitions.evaluate(real_song_stems, tagger, segments=3, progress=False)
    parts = coalitions.evaluate_blocks(real_song_stems, tagger, segments=3, block_patches=4, progress=False)
    np.testing.assert_allclose(parts.values, whole.values, atol=1e-5)
    np.testing.assert_allclose(parts.segment_shapley, whole.segment_shapley, atol=1e-5)


@pytest.fixture(scope="module")
def real_song_stems() -> xmtag.Stems:
    """The first 20 s of two of the bundled demo song's stems (real recorded instruments)."""
    stems = xmtag.datasets.load_demo()
    return xmtag.Stems({k: stems[k][:, : 20 * stems.sr] for k in stems.names[:2]}, sr=stems.sr)
