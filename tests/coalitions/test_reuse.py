"""Only the passes that matter (patch-level reuse) and what an absent stem becomes (baselines).

The toy taggers here are code-path models with fixed random weights, not real ones; the
musicnn tests use the real pretrained weights.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from xmtag import coalitions
from xmtag.attribution import shapley
from xmtag.errors import TaggerError, XmtagError

SR = 8000
PL = 400  # patch length
C = 64  # context of the context tagger


class WindowTagger:
    """Patch ``p``'s tags are a fixed nonlinear function of samples ``[p * PL - C, (p + 1) * PL)``.

    Like musicnn, it computes its patches from the whole clip (zero before the start), so a
    patch sees the end of the previous one. ``windows=True`` adds ``predict_windows``.
    ``declare=False`` hides ``patch_context`` (the guard check must catch it).
    """

    def __init__(self, context: int = C, windows: bool = True, declare: bool = True, n_tags: int = 3):
        rng = np.random.default_rng(3)
        self.labels = [f"t{i}" for i in range(n_tags)]
        self.sample_rate, self.patch_length, self.name = SR, PL, "toy-window"
        if declare:
            self.patch_context = context
        self.c = context
        self.w = rng.normal(size=(4, n_tags)) * 2
        if windows:
            self.predict_windows = self._windows
        self.rows = 0

    def _f(self, win: np.ndarray) -> np.ndarray:  # (M, C + PL) -> (M, T)
        x = win.astype(np.float64)
        ctx = x[:, : self.c] if self.c else np.zeros((len(x), 1))
        feats = np.stack(
            [
                np.sqrt((x**2).mean(-1)),
                np.abs(np.diff(x, axis=-1)).mean(-1),
                10 * x[:, self.c :].mean(-1),
                20 * np.abs(ctx).mean(-1),
            ],
            axis=-1,
        )
        return np.tanh(feats @ self.w)

    def _windows(self, windows):
        self.rows += len(windows)
        return self._f(np.asarray(windows))

    def predict_patches(self, batch):
        batch = np.asarray(batch, np.float32)
        if batch.shape[1] < PL:
            batch = np.pad(batch, ((0, 0), (0, PL - batch.shape[1])))
        p = batch.shape[1] // PL
        self.rows += len(batch) * p
        padded = np.pad(batch[:, : p * PL], ((0, 0), (self.c, 0)))
        wins = np.stack([padded[:, k * PL : k * PL + self.c + PL] for k in range(p)], axis=1)
        return self._f(wins.reshape(-1, self.c + PL)).reshape(len(batch), p, -1)

    def predict(self, batch):
        return self.predict_patches(batch).mean(axis=1)


def sparse_stems(n_patches: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """Instruments entering and leaving, with exact digital zeros elsewhere.

    ``pad`` enters mid-patch 2 and leaves mid-patch 5; ``hit`` is one short burst that ends
    ``C // 2`` samples before patch 4 starts, so patch 4 sees it only through its context.
    """
    rng = np.random.default_rng(seed)
    n = n_patches * PL + 37
    t = np.arange(n) / SR
    out = {name: np.zeros(n, np.float32) for name in ("drums", "bass", "pad", "hit")}
    out["drums"][:] = 0.3 * np.sign(np.sin(2 * np.pi * 4 * t)) * rng.random(n)
    out["bass"][PL:] = 0.4 * np.sin(2 * np.pi * 110 * t[PL:])
    a, b = 2 * PL + 150, 5 * PL + 200
    out["pad"][a:b] = 0.2 * np.sin(2 * np.pi * 660 * t[a:b])
    a, b = 4 * PL - C // 2 - 100, 4 * PL - C // 2
    out["hit"][a:b] = 0.5 * rng.normal(size=b - a)
    return out


def active_sets(stems: dict[str, np.ndarray], context: int, n_patches: int) -> list[set[int]]:
    """Independent reference: stems with a non-zero sample in each patch's receptive field."""
    names = list(stems)
    return [
        {i for i, nm in enumerate(names) if np.any(stems[nm][max(p * PL - context, 0) : (p + 1) * PL])}
        for p in range(n_patches)
    ]


def expected_rows(active: list[set[int]], guard: int) -> int:
    """Full clip (P rows) + guard + every other non-empty proper subset once + one zero window."""
    return len(active) + guard + sum(max(2 ** len(a) - 2, 0) for a in active) + 1


# ---------------------------------------------------------------------------------------------
# exactness and rows


@pytest.mark.parametrize("segments", [None, 4])
def test_sparse_arrangement_same_values_fewer_rows(segments):
    stems = sparse_stems()
    tagger = WindowTagger()
    plain = coalitions.evaluate(stems, WindowTagger(), sr=SR, segments=segments, progress=False, reuse=False)
    cv = coalitions.evaluate(stems, tagger, sr=SR, segments=segments, progress=False)
    assert cv.reuse == "windows" and plain.reuse == "off" and cv.row_unit == "patch"
    np.testing.assert_allclose(cv.values, plain.values, rtol=0, atol=1e-12)
    if segments:
        np.testing.assert_allclose(cv.segment_values, plain.segment_values, rtol=0, atol=1e-12)
    active = active_sets(stems, C, 8)
    assert [len(a) for a in active] == [1, 2, 3, 4, 4, 3, 2, 2]  # patch 4 sees 'hit' by context only
    assert 3 not in active_sets(stems, 0, 8)[4]
    assert cv.n_tagger_rows == tagger.rows == expected_rows(active, guard=0) == 55
    assert cv.n_naive_rows == plain.n_tagger_rows == 16 * 8
    if segments:  # the default (receptive-field) (stem, segment) game costs no extra rows (#26)
        np.testing.assert_allclose(
            cv.segment_attribution("exact"), plain.segment_attribution("exact"), rtol=0, atol=1e-12
        )
    np.testing.assert_allclose(shapley.exact(cv.values), shapley.exact(plain.values), atol=1e-12)


def test_reuse_is_batch_size_invariant_and_handles_one_stem():
    stems = sparse_stems()
    runs = [
        coalitions.evaluate(stems, WindowTagger(), sr=SR, segments=3, batch_size=bs, progress=False)
        for bs in (1, 2, 64)
    ]
    for other in runs[1:]:
        np.testing.assert_array_equal(other.segment_values, runs[0].segment_values)
        assert other.n_tagger_rows == runs[0].n_tagger_rows
    one = coalitions.evaluate({"pad": stems["pad"]}, WindowTagger(), sr=SR, progress=False)
    plain = coalitions.evaluate({"pad": stems["pad"]}, WindowTagger(), sr=SR, progress=False, reuse=False)
    np.testing.assert_allclose(one.values, plain.values, rtol=0, atol=1e-12)
    assert one.n_tagger_rows == 8  # the full clip only: its silent patches also give the empty coalition


def test_generic_patch_tagger_without_context_uses_one_patch_clips():
    """A tagger that does not declare patch_context: one guard row, then one-patch clips."""
    stems = sparse_stems()
    tagger = WindowTagger(context=0, windows=False, declare=False)
    cv = coalitions.evaluate(stems, tagger, sr=SR, segments=2, progress=False)
    plain = coalitions.evaluate(
        stems, WindowTagger(0, False, False), sr=SR, segments=2, progress=False, reuse=False
    )
    assert cv.reuse == "patches"
    np.testing.assert_allclose(cv.segment_values, plain.segment_values, rtol=0, atol=1e-12)
    assert cv.n_tagger_rows == tagger.rows == expected_rows(active_sets(stems, 0, 8), guard=1)


def test_context_without_predict_windows_feeds_lead_patches_when_cheaper():
    stems = {k: v for k, v in sparse_stems(n_patches=12).items() if k != "drums"}  # silent stretches
    tagger = WindowTagger(windows=False)
    cv = coalitions.evaluate(stems, tagger, sr=SR, progress=False)
    plain = coalitions.evaluate(stems, WindowTagger(windows=False), sr=SR, progress=False, reuse=False)
    assert cv.reuse == "lead" and cv.n_tagger_rows == tagger.rows < plain.n_tagger_rows
    np.testing.assert_allclose(cv.values, plain.values, rtol=0, atol=1e-12)
    rng = np.random.default_rng(1)
    dense = {f"s{i}": rng.normal(size=3 * PL).astype(np.float32) for i in range(3)}
    cv = coalitions.evaluate(dense, WindowTagger(windows=False), sr=SR, progress=False)
    assert cv.reuse == "off" and cv.n_tagger_rows == 24  # two rows per window would cost more


def test_undeclared_context_is_caught_and_falls_back_to_whole_clips():
    stems = sparse_stems()
    tagger = WindowTagger(windows=False, declare=False)
    with pytest.warns(coalitions.ReuseWarning, match="patch_context"):
        cv = coalitions.evaluate(stems, tagger, sr=SR, progress=False)
    plain = coalitions.evaluate(stems, WindowTagger(windows=False), sr=SR, progress=False, reuse=False)
    assert cv.reuse == "off"
    np.testing.assert_allclose(cv.values, plain.values, rtol=0, atol=1e-12)
    assert cv.n_tagger_rows == plain.n_tagger_rows + 1  # only the guard row was extra


def test_patch_context_none_turns_reuse_off():
    tagger = WindowTagger()
    tagger.patch_context = None
    cv = coalitions.evaluate(sparse_stems(), tagger, sr=SR, progress=False)
    assert cv.reuse == "off" and cv.n_tagger_rows == 16 * 8
    tagger.patch_context = -1
    with pytest.raises(
        TaggerError,
        match=r"patch_context \(samples before a patch that reach its output\) must be a non-negative",
    ):
        coalitions.evaluate(sparse_stems(), tagger, sr=SR, progress=False)
    with pytest.raises(XmtagError, match="reuse must be True or False"):
        coalitions.evaluate(sparse_stems(), WindowTagger(), sr=SR, progress=False, reuse="yes")


def test_all_stems_active_everywhere_costs_at_most_the_plain_rows():
    rng = np.random.default_rng(1)
    stems = {f"s{i}": rng.normal(size=3 * PL).astype(np.float32) for i in range(3)}
    cv = coalitions.evaluate(stems, WindowTagger(), sr=SR, progress=False)
    assert cv.n_tagger_rows == 3 + 3 * 6 + 1 <= cv.n_naive_rows == 24  # the empty window is shared


def test_short_clip_and_silent_stem():
    stems = {"a": np.r_[np.zeros(100), np.ones(150)].astype(np.float32), "b": np.zeros(250, np.float32)}
    tagger = WindowTagger()
    cv = coalitions.evaluate(stems, tagger, sr=SR, progress=False)
    plain = coalitions.evaluate(stems, WindowTagger(), sr=SR, progress=False, reuse=False)
    np.testing.assert_allclose(cv.values, plain.values, rtol=0, atol=1e-12)
    assert cv.n_tagger_rows == 2  # the full clip, and silence; 'b' is a dummy everywhere
    np.testing.assert_array_equal(cv.values[0b10], cv.values[0])


def test_silence_window_is_memoised_across_calls():
    tagger = WindowTagger()
    first = coalitions.evaluate(sparse_stems(), tagger, sr=SR, progress=False)
    again = coalitions.evaluate(sparse_stems(seed=1), tagger, sr=SR, progress=False)
    assert again.n_tagger_rows == first.n_tagger_rows - 1
    coalitions.clear_silence_cache()
    assert coalitions.evaluate(sparse_stems(seed=1), tagger, sr=SR, progress=False).n_tagger_rows == (
        first.n_tagger_rows
    )


# ---------------------------------------------------------------------------------------------
# sampled value functions


@pytest.mark.parametrize("segments", [None, 3])
def test_value_function_reuses_patches_across_calls(segments):
    stems = sparse_stems()
    fn, players, _ = coalitions.value_function(stems, WindowTagger(), sr=SR, segments=segments)
    ref, _, _ = coalitions.value_function(stems, WindowTagger(), sr=SR, segments=segments, reuse=False)
    assert fn.reuse == "windows" and ref.reuse == "off"
    masks = np.random.default_rng(0).integers(0, 2 ** len(players), size=40)
    np.testing.assert_allclose(fn(masks), ref(masks), rtol=0, atol=1e-12)
    rows = fn.n_rows
    assert rows < ref.n_rows == fn.n_naive_rows == 40 * 8
    np.testing.assert_allclose(fn(masks[::-1]), ref(masks[::-1]), rtol=0, atol=1e-12)
    assert fn.n_rows == rows  # nothing new to evaluate
    if segments is None:
        cv = coalitions.evaluate(stems, WindowTagger(), sr=SR, progress=False)
        np.testing.assert_allclose(fn(np.arange(16)), cv.values, rtol=0, atol=1e-12)


def test_estimate_segments_with_reuse_matches_without():
    stems = sparse_stems(n_patches=6)
    kw = dict(sr=SR, n_permutations=4, seed=0, progress=False)
    a = coalitions.estimate_segments(stems, WindowTagger(), 3, **kw)
    b = coalitions.estimate_segments(stems, WindowTagger(), 3, reuse=False, **kw)
    np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-12)
    assert a.n_tagger_rows < b.n_tagger_rows


# ---------------------------------------------------------------------------------------------
# baselines


def test_noise_baseline_is_a_seeded_floor_in_every_mix():
    stems = sparse_stems()
    floor = coalitions.NoiseFloor()
    y = floor.signal(8 * PL + 37, SR)
    assert abs(20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2))) + 60) < 1e-3
    np.testing.assert_array_equal(y, coalitions.NoiseFloor(seed=0).signal(8 * PL + 37, SR))
    assert not np.array_equal(y, coalitions.NoiseFloor(seed=1).signal(8 * PL + 37, SR))
    white = coalitions.NoiseFloor(level_db=-40, color="white").signal(SR, SR)
    assert abs(np.sqrt(np.mean(white.astype(np.float64) ** 2)) - 0.01) < 1e-6

    noisy = coalitions.evaluate(stems, WindowTagger(), sr=SR, progress=False, baseline="noise")
    plain = coalitions.evaluate(stems, WindowTagger(), sr=SR, progress=False, baseline="noise", reuse=False)
    silent = coalitions.evaluate(stems, WindowTagger(), sr=SR, progress=False)
    assert (
        noisy.baseline == plain.baseline == "noise(pink, -60 dBFS RMS, seed 0)"
        and silent.baseline == "silence"
    )
    np.testing.assert_allclose(noisy.values, plain.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(noisy.base_values, WindowTagger().predict(y[None])[0], atol=1e-12)
    assert np.abs(noisy.base_values - silent.base_values).max() > 1e-3  # the floor is not silence
    # silent stems still drop out, but no window is all zeros: one floor window per patch
    assert noisy.n_tagger_rows == silent.n_tagger_rows + 7
    again = coalitions.evaluate(stems, WindowTagger(), sr=SR, progress=False, baseline=floor)
    np.testing.assert_array_equal(again.values, noisy.values)
    fn, _, _ = coalitions.value_function(stems, WindowTagger(), sr=SR, baseline="noise")
    np.testing.assert_allclose(fn(np.arange(16)), noisy.values, rtol=0, atol=1e-12)


def test_noise_baseline_is_not_memoised_as_silence():
    tagger = WindowTagger(context=0, windows=False)
    stems = sparse_stems()
    silent = coalitions.evaluate(stems, tagger, sr=SR, progress=False, reuse=False)
    noisy = coalitions.evaluate(stems, tagger, sr=SR, progress=False, reuse=False, baseline="noise")
    assert not np.array_equal(silent.base_values, noisy.base_values)
    fn, _, _ = coalitions.value_function(stems, tagger, sr=SR, reuse=False, baseline="noise")
    np.testing.assert_allclose(fn(np.array([0]))[0], noisy.base_values, atol=1e-12)


@pytest.mark.parametrize(
    "bad, match",
    [("zeros", "baseline must be 'silence'"), (None, "baseline must be"), (0.0, "baseline must be")],
)
def test_bad_baseline(bad, match):
    with pytest.raises(XmtagError, match=match):
        coalitions.evaluate(sparse_stems(), WindowTagger(), sr=SR, progress=False, baseline=bad)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"level_db": 3}, "level_db must be a finite number <= 0"),
        ({"color": "brown"}, "color must be one of"),
    ],
)
def test_bad_noise_floor(kw, match):
    with pytest.raises(XmtagError, match=match):
        coalitions.NoiseFloor(**kw)


# ---------------------------------------------------------------------------------------------
# the real musicnn tagger (pretrained weights from the musicnn package)


@pytest.fixture(scope="module")
def musicnn():
    import xmtag

    return xmtag.load_tagger("musicnn-msd")


def demo_excerpt(names, seconds):
    import xmtag
    from xmtag.coalitions import prepare_stems

    stems = xmtag.load_demo()
    names_all, tracks, _, _ = prepare_stems(stems, 16000)
    return {nm: tracks[names_all.index(nm), : int(seconds * 16000)] for nm in names}


def test_musicnn_windows_equal_patches_of_the_clip(musicnn):
    """The 256-sample context: a window reproduces the patch inside its clip, a bare patch does not."""
    y = demo_excerpt(["drums", "guitar"], 6.1)
    mix = (y["drums"] + y["guitar"])[None, : 2 * 47872]
    ref = musicnn.predict_patches(mix)[0]
    win = mix[0, 47872 - 256 :]
    np.testing.assert_allclose(musicnn.predict_windows(win[None])[0], ref[1], rtol=0, atol=1e-6)
    assert np.abs(musicnn.predict_patches(win[None, 256:])[0, 0] - ref[1]).max() > 1e-4
    with pytest.raises(TaggerError, match="windows must have 48128 samples"):
        musicnn.predict_windows(mix)


def test_musicnn_reuse_on_the_demo_intro(musicnn):
    """Piano is digitally silent in the first patch: 5 rows instead of 8, values within 1e-6."""
    stems = demo_excerpt(["piano", "saxophone"], 6.0)
    coalitions.clear_silence_cache()
    cv = coalitions.evaluate(stems, musicnn, sr=16000, segments=2, progress=False)
    plain = coalitions.evaluate(stems, musicnn, sr=16000, segments=2, progress=False, reuse=False)
    assert cv.reuse == "windows" and (cv.n_tagger_rows, cv.n_naive_rows) == (5, 8)
    np.testing.assert_allclose(cv.segment_values, plain.segment_values, rtol=0, atol=1e-6)
    np.testing.assert_allclose(cv.values, plain.values, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_musicnn_reuse_on_the_whole_demo_song(musicnn):
    import xmtag

    coalitions.clear_silence_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error", coalitions.ReuseWarning)
        cv = coalitions.evaluate(xmtag.load_demo(), musicnn, segments=4, progress=False)
    plain = coalitions.evaluate(xmtag.load_demo(), musicnn, segments=4, progress=False, reuse=False)
    assert cv.n_tagger_rows == 233 and cv.n_naive_rows == plain.n_tagger_rows == 256
    np.testing.assert_allclose(cv.segment_values, plain.segment_values, rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        cv.segment_attribution("exact"), plain.segment_attribution("exact"), rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(shapley.exact(cv.values), shapley.exact(plain.values), rtol=0, atol=1e-6)


@pytest.mark.slow  # ~30 s: the Essentia worker loads TensorFlow
def test_essentia_graph_declares_its_context():
    """Essentia frames like musicnn: patch_context = 256, exact with lead patches (no guard, no warning)."""
    pytest.importorskip("essentia")
    from pathlib import Path

    from xmtag.taggers.essentia import load_essentia_tagger

    with load_essentia_tagger(Path(__file__).parents[1] / "data" / "musicnn" / "msd-musicnn.pb") as tagger:
        assert tagger.patch_context == 256
        n = 3 * 47872
        y = demo_excerpt(["drums", "piano"], 9.0)
        stems = {"drums": y["drums"][:n], "piano": np.r_[np.zeros(2 * 47872), y["piano"][2 * 47872 : n]]}
        stems = {k: v.astype(np.float32) for k, v in stems.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("error", coalitions.ReuseWarning)
            cv = coalitions.evaluate(stems, tagger, sr=16000, progress=False)
        plain = coalitions.evaluate(stems, tagger, sr=16000, progress=False, reuse=False)
    assert cv.reuse == "lead" and cv.n_tagger_rows < plain.n_tagger_rows
    np.testing.assert_allclose(cv.values, plain.values, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# benchmarks/reuse.py (its --help is checked with every benchmark in test_benchmarks_smoke.py)


def _bench():
    import importlib.util
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[2] / "benchmarks"
    for folder in (str(bench), str(bench / "data")):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("_bench_reuse", bench / "reuse.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return bench, module


def test_reuse_benchmark_doctests_and_quick_flag():
    import doctest
    import subprocess
    import sys

    bench, module = _bench()
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0
    res = subprocess.run(
        [sys.executable, str(bench / "reuse.py"), "--help"], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0 and "--quick" in res.stdout


@pytest.mark.slow
def test_reuse_benchmark_quick(tmp_path):
    """benchmarks/reuse.py --quick: exact (<= 1e-6) and fewer rows on every case."""
    import json
    import os
    import subprocess
    import sys

    bench, _ = _bench()
    env = {**os.environ, "PYTHONPATH": str(bench.parent)}  # this checkout's xmtag
    res = subprocess.run(
        [sys.executable, str(bench / "reuse.py"), "--quick", "--no-progress", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=env,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    cases = json.loads((tmp_path / "reuse_quick.json").read_text())["results"]["cases"]
    assert {"demo song", "sparse arrangement"} <= {c["case"] for c in cases}
    for c in cases:
        assert c["max_diff_shapley"] <= 1e-6 and c["rows_reuse"] < c["rows_plain"]
