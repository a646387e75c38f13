"""Coalition evaluation: every subset once, bounded batches, silence memo, time-resolved values."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from xmtag import coalitions
from xmtag.attribution import shapley
from xmtag.audio import resample
from xmtag.errors import AudioError, InvalidGameError, TaggerError, XmtagError

SR = 8000
PATCH = 400


class PatchTagger:
    """A toy patch-decomposable tagger (random fixed weights: a code-path model, not a real one).

    Each patch's tags are a fixed nonlinear function of that patch's RMS, mean absolute
    difference and mean, so the clip output (mean over patches) depends on the audio in a
    non-additive way. It records every batch it receives.
    """

    def __init__(self, n_tags: int = 3, sample_rate: int = SR, patch_length: int = PATCH, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.labels = [f"tag{i}" for i in range(n_tags)]
        self.sample_rate = sample_rate
        self.patch_length = patch_length
        self.name = "toy-patch"
        self.w = rng.normal(size=(3, n_tags)) * 3
        self.b = rng.normal(size=n_tags)
        self.batches: list[np.ndarray] = []

    @property
    def rows(self) -> int:
        return sum(len(b) for b in self.batches)

    def _patches(self, batch: np.ndarray) -> np.ndarray:
        assert batch.dtype == np.float32 and batch.ndim == 2
        n = batch.shape[1]
        if n < self.patch_length:
            batch = np.pad(batch, ((0, 0), (0, self.patch_length - n)))
            n = self.patch_length
        p = n // self.patch_length
        x = batch[:, : p * self.patch_length].reshape(len(batch), p, self.patch_length).astype(np.float64)
        feats = np.stack(
            [np.sqrt((x**2).mean(-1)), np.abs(np.diff(x, axis=-1)).mean(-1), 10 * x.mean(-1)], axis=-1
        )
        return np.tanh(feats @ self.w + self.b)

    def predict_patches(self, batch):
        self.batches.append(np.array(batch, copy=True))
        return self._patches(batch)

    def predict(self, batch):
        self.batches.append(np.array(batch, copy=True))
        return self._patches(batch).mean(axis=1)


class ClipTagger:
    """A toy tagger that is not patch-decomposable (depends on the clip's peak and RMS)."""

    def __init__(self, n_tags: int = 2, sample_rate: int = SR):
        self.labels = [f"c{i}" for i in range(n_tags)]
        self.sample_rate = sample_rate
        self.patch_length = None
        self.w = np.random.default_rng(1).normal(size=(2, n_tags))
        self.rows = 0

    def predict(self, batch):
        self.rows += len(batch)
        x = batch.astype(np.float64)
        feats = np.stack([np.abs(x).max(1), np.sqrt((x**2).mean(1))], axis=1)
        return np.tanh(feats @ self.w)

    def predict_patches(self, batch):
        return self.predict(batch)[:, None]


def make_stems(n: int = 3, n_samples: int = 7 * PATCH + 123, sr: int = SR, channels: int = 1, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / sr
    out = {}
    for i in range(n):
        env = np.clip(np.sin(2 * np.pi * (0.7 + i) * t + i), 0, None)  # loud in some patches only
        # channels differ (level, phase, noise), so taking channel 0 instead of the mean is caught
        chans = [
            env
            * (1.0 - 0.4 * c)
            * (0.3 * np.sin(2 * np.pi * 220 * (i + 1) * t + 1.3 * c) + 0.1 * rng.normal(size=n_samples))
            for c in range(channels)
        ]
        out[f"s{i}"] = np.stack(chans).astype(np.float32)
    return out


def oracle_mono(y: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """Channel mean in float64, resampled with soxr directly: independent of xmtag.audio."""
    import soxr

    mono = np.asarray(y, np.float64).mean(axis=0)
    out = mono if sr == target_sr else soxr.resample(mono, sr, target_sr, quality="HQ")
    n = int(round(len(mono) * target_sr / sr))
    return np.pad(out, (0, max(0, n - len(out))))[:n].astype(np.float32)


def brute_shapley(v: np.ndarray) -> np.ndarray:
    n = int(np.log2(len(v)))
    phi = np.zeros((n, *v.shape[1:]))
    for i in range(n):
        for s in range(2**n):
            if not s >> i & 1:
                k = bin(s).count("1")
                phi[i] += (
                    math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) * (v[s | 1 << i] - v[s])
                )
    return phi


# ---------------------------------------------------------------------------------------------
# clip-level coalition values


def test_values_are_the_tagger_on_each_mix_after_one_downmix_and_resample():
    stems = make_stems(3, n_samples=2 * SR, sr=2 * SR, channels=2)
    tagger = ClipTagger()
    cv = coalitions.evaluate(stems, tagger, sr=2 * SR, progress=False)
    assert cv.values.shape == (8, 2) and cv.values.dtype == np.float64
    assert cv.names == ["s0", "s1", "s2"] and cv.labels == ["c0", "c1"]
    assert cv.sample_rate == SR and cv.duration == pytest.approx(1.0) and cv.n_patches is None
    assert cv.segment_values is None and cv.segment_weights is None and cv.segment_bounds is None
    assert not np.allclose(stems["s0"][0], stems["s0"][1], atol=0.05)  # the channels really differ
    mono = [oracle_mono(stems[k], 2 * SR, SR) for k in cv.names]
    ref = ClipTagger()
    for m in range(8):
        mix = np.zeros(mono[0].shape, np.float32)
        for i in range(3):
            if m >> i & 1:
                mix += mono[i]
        # a tight tolerance, not equality: BLAS may differ by an ulp between call patterns
        np.testing.assert_allclose(cv.values[m], ref.predict(mix[None])[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(cv.base_values, cv.values[0])
    np.testing.assert_array_equal(cv.prediction, cv.values[-1])


def test_each_coalition_once_in_bounded_batches():
    tagger = PatchTagger()
    cv = coalitions.evaluate(make_stems(4), tagger, sr=SR, batch_size=3, progress=False, reuse=False)
    assert cv.n_tagger_rows == 7 * tagger.rows == 7 * 16 == cv.n_naive_rows  # rows are patches
    assert max(len(b) for b in tagger.batches) <= 3  # never all 2**n mixes at once
    mixes = np.concatenate(tagger.batches)
    assert len(np.unique(mixes, axis=0)) == 16  # 16 distinct mixes: each coalition exactly once
    np.testing.assert_array_equal(mixes[0], 0.0)  # mask 0 is digital silence


@pytest.mark.parametrize("segments", [None, 3])
def test_batch_size_invariance(segments):
    stems = make_stems(4)
    runs = [
        coalitions.evaluate(stems, PatchTagger(), sr=SR, batch_size=bs, segments=segments, progress=False)
        for bs in (1, 3, 64)
    ]
    for other in runs[1:]:
        np.testing.assert_array_equal(other.values, runs[0].values)
        if segments:
            np.testing.assert_array_equal(other.segment_values, runs[0].segment_values)


def test_silence_is_evaluated_once_per_tagger_and_length():
    tagger = PatchTagger()
    stems = make_stems(3)
    first = coalitions.evaluate(stems, tagger, sr=SR, progress=False, reuse=False)
    assert first.n_tagger_rows == 8 * 7  # rows are patches: 7 per clip
    second = coalitions.evaluate(stems, tagger, sr=SR, progress=False, reuse=False)
    assert second.n_tagger_rows == 7 * 7 and tagger.rows == 15
    np.testing.assert_array_equal(second.values, first.values)
    np.testing.assert_array_equal(
        first.values[0], PatchTagger().predict(np.zeros((1, 7 * PATCH + 123), np.float32))[0]
    )
    shorter = coalitions.evaluate(
        make_stems(3, n_samples=5 * PATCH), tagger, sr=SR, progress=False, reuse=False
    )
    assert shorter.n_tagger_rows == 8 * 5  # another length: silence evaluated again
    fresh = coalitions.evaluate(make_stems(3), PatchTagger(), sr=SR, progress=False, reuse=False)
    assert fresh.n_tagger_rows == 8 * 7


def test_each_stem_is_resampled_once(monkeypatch):
    calls = []

    def counting(y, orig_sr, target_sr, quality="HQ"):
        calls.append(y.shape)
        return resample(y, orig_sr, target_sr, quality)

    monkeypatch.setattr(coalitions._evaluate, "resample", counting)
    coalitions.evaluate(
        make_stems(4, n_samples=SR, sr=2 * SR, channels=2), ClipTagger(), sr=2 * SR, progress=False
    )
    assert len(calls) == 4 and all(len(s) == 1 for s in calls)  # once per stem, already mono


def test_accepts_stems_objects():
    arrays = make_stems(2)

    class StemsLike:  # duck-typed: names, sr, __getitem__
        def __init__(self):
            self.names = list(arrays)
            self.sr = SR

        def __getitem__(self, name):
            return arrays[name]

    ref = coalitions.evaluate(arrays, PatchTagger(), sr=SR, progress=False)
    got = coalitions.evaluate(StemsLike(), PatchTagger(), progress=False)
    np.testing.assert_array_equal(got.values, ref.values)
    with pytest.raises(XmtagError, match="drop sr="):
        coalitions.evaluate(StemsLike(), PatchTagger(), sr=44100, progress=False)
    from xmtag import Stems

    stems = Stems(arrays, sr=SR)
    np.testing.assert_array_equal(
        coalitions.evaluate(stems, PatchTagger(), progress=False).values, ref.values
    )


def test_progress_bar(capfd):
    coalitions.evaluate(make_stems(2), PatchTagger(), sr=SR, progress=True)
    assert "coalitions" in capfd.readouterr().err
    coalitions.evaluate(make_stems(2), PatchTagger(), sr=SR, progress=False)
    assert "coalitions" not in capfd.readouterr().err


# ---------------------------------------------------------------------------------------------
# time-resolved values


def test_time_resolved_values_equal_brute_force_over_stem_segment_players():
    """3 stems x 3 segments = 9 players, 512 coalitions, from only 2**3 tagger rows."""
    stems = make_stems(3)  # 7 whole patches + a 123-sample remainder
    n, k = 3, 3
    tagger = PatchTagger()
    cv = coalitions.evaluate(stems, tagger, sr=SR, segments=k, progress=False, reuse=False)
    assert tagger.rows == 2**n and cv.n_tagger_rows == 2**n * 7  # the tagger saw 8 clips, not 512
    got = shapley.segments(cv.segment_values, cv.segment_weights)
    assert got.shape == (n, k, 3)

    # brute force: build all 512 (stem, segment) mixes and run the tagger on each
    groups = coalitions.patch_segments(7, k)
    assert groups == [(0, 3), (3, 5), (5, 7)]
    spans = [(a * PATCH, b * PATCH) for a, b in groups]
    tracks = [stems[name][0] for name in cv.names]
    mixes = np.zeros((2 ** (n * k), len(tracks[0])), np.float32)
    for t in range(2 ** (n * k)):
        for i in range(n):
            for kk, (a, b) in enumerate(spans):
                if t >> (i * k + kk) & 1:  # player p = i * K + k
                    mixes[t, a:b] += tracks[i][a:b]
    ref_tagger = PatchTagger()
    v = ref_tagger.predict(mixes)
    ref = brute_shapley(v).reshape(n, k, 3)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)
    # and the segments add up to the clip-level values
    np.testing.assert_allclose(got.sum(1), shapley.exact(cv.values), atol=1e-12)
    assert np.abs(ref).max() > 1e-3  # not a trivially zero game


def test_segment_metadata():
    cv = coalitions.evaluate(make_stems(2), PatchTagger(), sr=SR, segments=3, progress=False)
    np.testing.assert_allclose(cv.segment_weights, [3 / 7, 2 / 7, 2 / 7])
    np.testing.assert_allclose(cv.segment_bounds, np.array([[0, 3], [3, 5], [5, 7]]) * PATCH / SR)
    assert cv.n_patches == 7 and cv.segment_values.shape == (4, 3, 3)
    np.testing.assert_allclose(
        np.einsum("mkt,k->mt", cv.segment_values, cv.segment_weights), cv.values, atol=1e-12
    )
    clip = coalitions.evaluate(make_stems(2), PatchTagger(), sr=SR, progress=False)
    np.testing.assert_allclose(cv.values, clip.values, atol=1e-12)  # same game with or without segments


def test_short_clip_is_one_patch():
    stems = make_stems(2, n_samples=PATCH // 2)
    cv = coalitions.evaluate(stems, PatchTagger(), sr=SR, segments=1, progress=False)
    assert cv.n_patches == 1 and cv.segment_values.shape == (4, 1, 3)
    np.testing.assert_allclose(cv.segment_bounds, [[0, PATCH / 2 / SR]])
    with pytest.raises(XmtagError, match="only 1 whole tagger patch"):
        coalitions.evaluate(stems, PatchTagger(), sr=SR, segments=2, progress=False)


def test_non_decomposable_tagger_with_segments_points_to_estimator():
    with pytest.raises(TaggerError, match="not patch-decomposable.*estimate_segments"):
        coalitions.evaluate(make_stems(2), ClipTagger(), sr=SR, segments=2, progress=False)


def test_estimate_segments_for_non_decomposable_tagger():
    tagger = ClipTagger()
    est = coalitions.estimate_segments(
        make_stems(2), tagger, 3, sr=SR, n_permutations=40, seed=0, progress=False
    )
    assert est.values.shape == est.std_errors.shape == (2, 3, 2)
    assert est.names == ["s0", "s1"] and est.segment_bounds.shape == (3, 2)
    assert np.all(np.isfinite(est.std_errors)) and est.std_errors.max() > 0
    np.testing.assert_allclose(est.values.sum((0, 1)), est.prediction - est.base_values, atol=1e-10)
    assert est.n_tagger_rows == tagger.rows <= 2**6
    again = coalitions.estimate_segments(
        make_stems(2), ClipTagger(), 3, sr=SR, n_permutations=40, progress=False
    )
    np.testing.assert_array_equal(again.values, est.values)


def test_estimate_segments_agrees_with_exact_for_decomposable_tagger():
    stems = make_stems(3, n_samples=6 * PATCH)  # 6 patches -> segments of 2 patches each
    exact = coalitions.evaluate(stems, PatchTagger(), sr=SR, segments=3, progress=False)
    truth = shapley.segments(exact.segment_values, exact.segment_weights)
    est = coalitions.estimate_segments(stems, PatchTagger(), 3, sr=SR, n_permutations=300, progress=False)
    assert np.all(np.abs(est.values - truth) <= 5 * est.std_errors + 1e-9)
    assert np.abs(est.values - truth).max() < 0.05


def test_value_function_players():
    fn, players, bounds = coalitions.value_function(make_stems(2), PatchTagger(), sr=SR, reuse=False)
    assert players == ["s0", "s1"] and bounds.shape == (1, 2)
    cv = coalitions.evaluate(make_stems(2), PatchTagger(), sr=SR, progress=False, reuse=False)
    np.testing.assert_array_equal(fn(np.arange(4)), cv.values)
    assert fn.n_rows == 4 * 7  # rows are patches


# ---------------------------------------------------------------------------------------------
# bad input


class WrongShape(PatchTagger):
    def predict(self, batch):
        return super().predict(batch)[:, :2]


class NaNTagger(ClipTagger):
    def predict(self, batch):
        out = super().predict(batch)
        out[np.abs(batch).max(1) > 0.5] = np.nan  # NaN for loud mixes only
        return out


def test_tagger_errors():
    stems = make_stems(2)
    with pytest.raises(TaggerError, match=r"returned shape \(4, 2\).*expected \(4, 3\)"):
        coalitions.evaluate(stems, WrongShape(), sr=SR, progress=False, reuse=False)
    with pytest.raises(TaggerError, match=r"NaN or infinite.*mask \d \(the mix of \["):
        coalitions.evaluate(stems, NaNTagger(), sr=SR, progress=False)
    with pytest.raises(TaggerError, match="is not a tagger: it has no .labels., .sample_rate., .predict."):
        coalitions.evaluate(stems, object(), sr=SR, progress=False)

    bad_rate = ClipTagger()
    bad_rate.sample_rate = 0

    with pytest.raises(TaggerError, match="sample_rate"):
        coalitions.evaluate(stems, bad_rate, sr=SR, progress=False)


def test_stem_errors():
    tagger = PatchTagger()
    with pytest.raises(XmtagError, match="sr="):
        coalitions.evaluate(make_stems(2), tagger, progress=False)
    with pytest.raises(XmtagError, match="No stems"):
        coalitions.evaluate({}, tagger, sr=SR, progress=False)
    with pytest.raises(AudioError, match="same length"):
        coalitions.evaluate({"a": np.zeros(800, np.float32), "b": np.zeros(801, np.float32)}, tagger, sr=SR)
    bad = make_stems(2)
    bad["s1"][0, 10] = np.nan
    with pytest.raises(AudioError, match="stem 's1'.*NaN"):
        coalitions.evaluate(bad, tagger, sr=SR, progress=False)
    with pytest.raises(XmtagError, match="mapping"):
        coalitions.evaluate([np.zeros(10)], tagger, sr=SR, progress=False)
    many = {f"s{i}": np.zeros(PATCH, np.float32) for i in range(17)}
    with pytest.raises(InvalidGameError, match="at most 16 stems"):
        coalitions.evaluate(many, tagger, sr=SR, progress=False)
    assert tagger.rows == 0  # nothing was run for any of these
    for seg in (0, 8, 2.5, True):
        with pytest.raises(XmtagError, match="segments"):
            coalitions.evaluate(make_stems(2), tagger, sr=SR, segments=seg, progress=False)
    with pytest.raises(InvalidGameError, match="batch_size"):
        coalitions.evaluate(make_stems(2), tagger, sr=SR, batch_size=0, progress=False)


# ---------------------------------------------------------------------------------------------
# the real musicnn tagger (skipped until it is available)


@pytest.mark.slow
def test_with_musicnn_time_resolved():
    import torch

    torch.set_num_threads(1)
    import xmtag

    pytest.importorskip("musicnn", reason="the musicnn weights package: pip install --no-deps musicnn==0.1.0")
    tagger = xmtag.load_tagger("musicnn-msd")  # an import or loading regression fails, never skips
    sr = tagger.sample_rate
    n_samples = 2 * tagger.patch_length + 1000
    t = np.arange(n_samples) / sr
    stems = {
        "bass": (0.4 * np.sin(2 * np.pi * 55 * t)).astype(np.float32),
        "lead": (0.2 * np.sign(np.sin(2 * np.pi * 440 * t))).astype(np.float32),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        cv = coalitions.evaluate(stems, tagger, sr=sr, segments=2, progress=False)
    assert cv.values.shape == (4, 50) and cv.n_tagger_rows <= 4 * 2
    seg = shapley.segments(cv.segment_values, cv.segment_weights)
    np.testing.assert_allclose(seg.sum(1), shapley.exact(cv.values), atol=1e-6)
    clip = tagger.predict(np.stack([stems["bass"] + stems["lead"]]))[0]
    np.testing.assert_allclose(cv.values[-1], clip, atol=1e-5)


def test_uneven_segments_are_said(caplog):
    """`--segments 8` on 10 patches: two 2-patch and six 1-patch segments, and a warning that says so."""
    stems = make_stems(2, n_samples=10 * PATCH)
    with caplog.at_level("WARNING", logger="xmtag.coalitions"):
        cv = coalitions.evaluate(stems, PatchTagger(), sr=SR, segments=8, progress=False)
    assert "segments=8 over 10 patches" in caplog.text and "2 of" in caplog.text and "6 of" in caplog.text
    w = np.asarray(cv.segment_weights).ravel()
    assert np.allclose(sorted(w), [0.1] * 6 + [0.2] * 2)  # what the warning says: 2 long, 6 short
    caplog.clear()
    with caplog.at_level("WARNING", logger="xmtag.coalitions"):
        coalitions.evaluate(stems, PatchTagger(), sr=SR, segments=5, progress=False)
    assert "segments=" not in caplog.text  # 5 divides 10: equal segments, nothing to say
