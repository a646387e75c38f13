"""Engine v2: every method returns an Explanation, checked against exact values.

Games are random (seeded) or the real musicnn game of the demo song (its coalition values are
computed once and looked up, so every method is tested on a real tagger's numbers without
paying for more tagger passes).
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

import xmtag
from xmtag import Explanation, plots
from xmtag.attribution import AUTO_EXACT_MAX_PLAYERS, attribute, resolve_method, shapley
from xmtag.errors import CoalitionsUnavailableError, ExplanationFileError, InvalidGameError, XmtagError
from xmtag.taggers import FunctionTagger


def random_game(n: int, t: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(2**n, t))
    v[0] = rng.normal(size=t) * 0.1
    return v


def lookup(v: np.ndarray):
    return lambda masks: v[np.asarray(masks, dtype=np.int64)]


@pytest.mark.parametrize("n", range(3, 9))
def test_exact_and_banzhaf_match_shapley_module(n):
    v = random_game(n, seed=n)
    a = attribute(lookup(v), n, method="exact")
    np.testing.assert_allclose(a.values, shapley.exact(v), atol=1e-12)
    np.testing.assert_allclose(a.base_value + a.values.sum(0), a.prediction, atol=1e-9)
    assert a.budget == 2**n and a.stderr is None and a.coalition_values.shape == (2**n, 3)
    b = attribute(lookup(v), n, method="banzhaf")
    np.testing.assert_allclose(b.values, shapley.banzhaf(v), atol=1e-12)


@pytest.mark.parametrize("n", range(3, 9))
def test_permutation_is_efficient_and_covers_exact(n):
    v = random_game(n, seed=10 + n)
    exact = shapley.exact(v)
    inside = []
    for seed in range(8):
        a = attribute(lookup(v), n, method="permutation", budget=60 * n, seed=seed)
        np.testing.assert_allclose(a.base_value + a.values.sum(0), a.prediction, atol=1e-9)
        assert a.stderr.shape == exact.shape and a.budget <= min(60 * n, 2**n)
        inside.append(np.abs(a.values - exact) <= 3 * a.stderr + 1e-12)
    assert np.mean(inside) >= 0.95


@pytest.mark.parametrize("n", range(3, 9))
def test_kernel_with_a_full_budget_is_exact(n):
    v = random_game(n, seed=20 + n)
    a = attribute(lookup(v), n, method="kernel", budget=4 * 2**n)
    np.testing.assert_allclose(a.values, shapley.exact(v), atol=1e-9)
    np.testing.assert_allclose(a.stderr, 0.0, atol=1e-9)


def test_kernel_with_a_small_budget_covers_exact():
    n = 8
    v = random_game(n, seed=3)
    exact = shapley.exact(v)
    inside = [
        np.abs((a := attribute(lookup(v), n, method="kernel", budget=160, seed=s)).values - exact)
        <= 3 * a.stderr + 1e-12
        for s in range(6)
    ]
    assert np.mean(inside) >= 0.9  # four runs per estimate: a t-interval would be wider


def test_loo_and_lime_on_an_additive_game():
    w = np.array([0.5, -1.0, 2.0, 0.25])
    game = lambda masks: (((np.asarray(masks)[:, None] >> np.arange(4)) & 1) @ w)[:, None]  # noqa: E731
    loo = attribute(game, 4, method="loo")
    np.testing.assert_allclose(loo.values.ravel(), w)
    assert loo.budget == 6
    lime = attribute(game, 4, method="lime", budget=400, seed=0)
    assert np.argmax(lime.values.ravel()) == 2 and np.argmin(lime.values.ravel()) == 1


def test_auto_switches_to_sampling_above_the_documented_threshold():
    assert resolve_method("auto", AUTO_EXACT_MAX_PLAYERS) == "exact"
    assert resolve_method("auto", AUTO_EXACT_MAX_PLAYERS + 1) == "permutation"
    with pytest.raises(XmtagError, match="method must be one of"):
        resolve_method("shapley", 3)
    with pytest.raises(InvalidGameError, match="enumerates all 2\\*\\*17"):
        attribute(lookup(random_game(3)), 17, method="exact")


# ---------------------------------------------------------------------------------------------
# the real musicnn game of the demo song


@pytest.fixture(scope="module")
def demo_game():
    expl = xmtag.explain(xmtag.load_demo(), "musicnn-msd", progress=False)
    return expl, np.asarray(expl.coalition_values)


def test_every_method_on_the_real_musicnn_game(demo_game):
    expl, v = demo_game
    n = expl.n_stems
    exact = expl.values
    # permutation sampling is unbiased: its intervals cover the exact values; KernelSHAP's standard
    # errors are the spread of its seeded runs and miss its small-sample bias (documented)
    for method, coverage in (("permutation", 0.95), ("kernel", 0.75)):
        inside = []
        for seed in range(6):
            a = attribute(lookup(v), n, method=method, budget=31, seed=seed)  # of 32
            np.testing.assert_allclose(a.base_value + a.values.sum(0), a.prediction, atol=1e-9)
            assert a.budget <= 31
            inside.append(np.abs(a.values - exact) <= 3 * a.stderr + 1e-9)
        assert np.mean(inside) >= coverage, method
    full = attribute(lookup(v), n, method="kernel", budget=4 * 2**n)
    np.testing.assert_allclose(full.values, exact, atol=1e-9)
    loo = attribute(lookup(v), n, method="loo")
    np.testing.assert_allclose(loo.values, v[-1] - v[[31 ^ (1 << i) for i in range(n)]], atol=1e-12)


# ---------------------------------------------------------------------------------------------
# explain(): every method gives a full-featured Explanation


def _loud_stems(n: int = 3, sr: int = 8000, seconds: float = 1.0) -> xmtag.Stems:
    t = np.arange(int(sr * seconds)) / sr
    rng = np.random.default_rng(0)
    return xmtag.Stems(
        {
            f"s{i}": (0.1 + 0.1 * i) * np.sin(2 * np.pi * (200 + 90 * i) * t + rng.uniform(0, 6))
            for i in range(n)
        },
        sr=sr,
    )


def _tagger(name: str = "toy") -> FunctionTagger:
    def fn(b: np.ndarray) -> np.ndarray:
        rms = np.sqrt((b.astype(np.float64) ** 2).mean(1, keepdims=True))
        return np.concatenate([np.tanh(3 * rms), 1 - np.exp(-np.abs(b).max(1, keepdims=True))], axis=1)

    return FunctionTagger(fn, ["loud", "peak"], sample_rate=8000, name=name)


@pytest.mark.parametrize("method", ["exact", "banzhaf", "permutation", "kernel", "lime", "loo", "auto"])
def test_explain_returns_an_explanation_for_every_method(method, tmp_path):
    stems = _loud_stems()
    expl = xmtag.explain(stems, _tagger(), method=method, budget=40, cache=False, progress=False)
    assert expl.method == ("exact" if method == "auto" else method)
    assert expl.provenance.method == expl.method and expl.budget and expl.budget <= 8
    assert expl.has_coalitions == (expl.method in ("exact", "banzhaf"))
    assert (expl.stderr is not None) == (expl.method in ("permutation", "kernel"))
    frame = expl.to_frame()
    assert "stderr" in frame and len(frame) == 6
    back = Explanation.load(expl.save(tmp_path / "e.xmtag"))
    assert back == expl and back.method == expl.method and back.budget == expl.budget
    for fig in (plots.bar(expl, "loud"), plots.waterfall(expl, "loud"), plots.heatmap(expl)):
        assert fig.axes


def test_sampled_explanations_say_what_they_cannot_do():
    expl = xmtag.explain(
        _loud_stems(), _tagger(), method="permutation", budget=20, cache=False, progress=False
    )
    with pytest.raises(CoalitionsUnavailableError, match="every coalition.*method='exact'"):
        expl.smallest_coalition("loud")
    with pytest.raises(CoalitionsUnavailableError, match="Interactions need"):
        plots.interactions(expl, "loud")
    assert np.isnan(expl.to_frame()["solo"]).all()


def test_six_stems_by_eight_segments_sampled_plotted_saved_reported(tmp_path):
    stems = _loud_stems(6, seconds=2.0)
    expl = xmtag.explain(
        stems, _tagger(), segments=8, method="permutation", budget=600, cache=False, progress=False
    )  # FunctionTagger is not patch-decomposable: 48 (stem, segment) players
    assert expl.segment_values.shape == (6, 8, 2) and expl.segment_stderr.shape == (6, 8, 2)
    np.testing.assert_allclose(expl.segment_values.sum(1), expl.values, atol=1e-12)
    np.testing.assert_allclose(expl.base_values + expl.values.sum(0), expl.prediction, atol=1e-9)
    assert expl.stderr.shape == (6, 2) and (expl.stderr > 0).all() and expl.budget <= 600
    assert len(expl.to_frame(segments=True)) == 6 * 8 * 2
    back = Explanation.load(expl.save(tmp_path / "s.xmtag"))
    assert back == expl
    assert plots.timeline(back, "loud").axes
    written = xmtag.export(expl, tmp_path / "out", top=2)
    assert written["report"].stat().st_size > 1000 and "plot:timeline-loud" in written
    assert not any(k.startswith("plot:interactions") for k in written)


def test_exact_segments_on_a_patch_tagger_cost_only_the_coalitions():
    class Patches:
        labels, sample_rate, patch_length, name = ["loud"], 8000, 2000, "patches"

        def predict_patches(self, batch):
            p = batch.reshape(batch.shape[0], -1, self.patch_length)
            return np.sqrt((p.astype(np.float64) ** 2).mean(-1, keepdims=True))

        def predict(self, batch):
            return self.predict_patches(batch).mean(1)

    expl = xmtag.explain(_loud_stems(3), Patches(), segments=4, cache=False, progress=False)
    # budget: patch rows, at most 2**3 coalitions x 4 patches (fewer with the reuse of patch inputs)
    assert expl.method == "exact" and expl.budget <= 8 * 4 and expl.segment_values.shape == (3, 4, 1)
    # the decomposition is exact: it equals the exact Shapley values of the 12-player game
    from xmtag.coalitions import value_function

    fn, players, _ = value_function(_loud_stems(3), Patches(), segments=4)
    brute = attribute(fn, len(players), method="exact").values.reshape(3, 4, 1)
    np.testing.assert_allclose(expl.segment_values, brute, atol=1e-12)
    sampled = xmtag.explain(
        _loud_stems(3), Patches(), segments=4, method="permutation", budget=1500, cache=False, progress=False
    )
    inside = np.abs(sampled.segment_values - expl.segment_values) <= 3 * sampled.segment_stderr + 1e-9
    assert inside.mean() >= 0.9


def test_argument_errors_name_the_argument():
    stems = _loud_stems()
    with pytest.raises(XmtagError, match="method must be one of"):
        xmtag.explain(stems, _tagger(), method="magic", progress=False)
    with pytest.raises(XmtagError, match="budget must be a positive integer"):
        xmtag.explain(stems, _tagger(), method="kernel", budget=-1, progress=False)
    with pytest.raises(XmtagError, match="baseline must be one of"):
        xmtag.explain(stems, _tagger(), baseline="pink", progress=False)
    with pytest.raises(XmtagError, match="segments must be a positive integer"):
        xmtag.explain(stems, _tagger(), segments=0, progress=False)


# ---------------------------------------------------------------------------------------------
# the file format: old files load, hostile files are refused with the reason


def _v1_file(path, expl: Explanation) -> None:
    """An explanation file as the first wave wrote it (format version 1, a metadata dict)."""
    header = {
        "format": "xmtag.explanation",
        "format_version": 1,
        "xmtag_version": "0.1.0",
        "stems": expl.stems,
        "labels": expl.labels,
        "arrays": ["values", "base_values", "prediction", "coalition_values", "interactions"],
        "metadata": {"tagger": {"name": "musicnn-msd"}, "segments": None, "n_tagger_rows": 4},
    }
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("header.json", json.dumps(header))
        for name in header["arrays"]:
            buf = io.BytesIO()
            np.save(buf, getattr(expl, name))
            zf.writestr(f"{name}.npy", buf.getvalue())


def test_version_1_files_still_load(tmp_path):
    e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
    _v1_file(tmp_path / "old.xmtag", e)
    back = Explanation.load(tmp_path / "old.xmtag")
    np.testing.assert_array_equal(back.values, e.values)
    assert back.method == "exact" and back.provenance.tagger_name == "musicnn-msd"
    assert back.metadata["n_tagger_rows"] == 4 and back.provenance.versions == {"xmtag": "0.1.0"}


def _rewrite(src, dst, *, header=None, member=None, data=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            raw = zin.read(info.filename)
            if info.filename == "header.json" and header is not None:
                raw = json.dumps(header(json.loads(raw))).encode() if callable(header) else header
            if info.filename == member:
                raw = data
            zout.writestr(info.filename, raw)


@pytest.fixture
def saved(tmp_path):
    e = Explanation.from_game(np.random.default_rng(0).random((8, 2)), ["a", "b", "c"], ["x", "y"])
    return e.save(tmp_path / "good.xmtag")


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"header": b"{not json"}, "not valid JSON"),
        ({"header": b"[1, 2]"}, "not a JSON object"),
        ({"header": lambda h: {**h, "format": "other"}}, "not an xmtag explanation"),
        ({"header": lambda h: {**h, "format_version": 99}}, "version 99.*Upgrade xmtag"),
        ({"header": lambda h: {**h, "format_version": "2"}}, "format version '2'"),
        ({"header": lambda h: {**h, "stems": "abc"}}, "'stems' must be a non-empty list"),
        ({"header": lambda h: {**h, "stems": ["a", "a", "c"]}}, "repeats names in 'stems'"),
        ({"header": lambda h: {**h, "labels": ["x"]}}, "shape \\(2,\\), expected \\(1,\\) for bad.xmtag"),
        ({"header": lambda h: {**h, "arrays": {**h["arrays"], "evil": [1]}}}, "unknown array 'evil'"),
        ({"header": lambda h: {**h, "method": "magic"}}, "invalid field.*method"),
        (
            {"member": "values.npy", "data": _npy(np.zeros((3, 2), np.float32))},
            "dtype float32, expected float64",
        ),
        ({"member": "values.npy", "data": _npy(np.full((3, 2), np.nan))}, "NaN or infinite"),
        ({"member": "values.npy", "data": _npy(np.zeros((300, 2)))}, "expands beyond|declares"),
        ({"member": "values.npy", "data": b"garbage"}, "not a readable NumPy array"),
        ({"member": "values.npy", "data": _npy(np.ones((3, 2)))}, "inconsistent values"),
    ],
)
def test_tampered_files_are_refused_with_the_reason(saved, tmp_path, change, match):
    bad = tmp_path / "bad.xmtag"
    _rewrite(saved, bad, **change)
    with pytest.raises(ExplanationFileError, match=match) as info:
        Explanation.load(bad)
    assert "bad.xmtag" in str(info.value)


def test_a_compression_bomb_is_refused_before_it_is_expanded(saved, tmp_path):
    bomb = tmp_path / "bomb.xmtag"
    _rewrite(saved, bomb, member="interactions.npy", data=b"\0" * (200 << 20))
    assert bomb.stat().st_size < 2 << 20  # 200 MB of zeros deflate to ~200 KB
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ExplanationFileError, match="interactions.npy declares"):
        Explanation.load(bomb)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 << 10  # KiB: < 100 MB more


def test_truncated_and_foreign_files_are_named_as_such(saved, tmp_path):
    data = saved.read_bytes()
    (tmp_path / "cut.xmtag").write_bytes(data[: len(data) // 2])
    with pytest.raises(ExplanationFileError, match="truncated or damaged"):
        Explanation.load(tmp_path / "cut.xmtag")
    (tmp_path / "song.xmtag").write_bytes(b"RIFF....WAVEfmt ")
    with pytest.raises(ExplanationFileError, match="not a ZIP archive"):
        Explanation.load(tmp_path / "song.xmtag")
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(ExplanationFileError, match="no header.json"):
        Explanation.load(tmp_path / "plain.zip")


# ---------------------------------------------------------------------------------------------
# players beyond stems: stems x bands, and a time x frequency grid of one mix


def test_stems_by_bands_players_sum_to_the_stems_and_explain_exactly():
    stems = _loud_stems(2, sr=8000)
    expl = xmtag.explain(stems, _tagger(), bands=[500.0], cache=False, progress=False)
    assert expl.stems == ["s0[0-500Hz]", "s0[500-4000Hz]", "s1[0-500Hz]", "s1[500-4000Hz]"]
    assert expl.provenance.bands == [500.0] and expl.coalition_values.shape == (16, 2)
    audio = expl.audio
    np.testing.assert_allclose(audio["s0[0-500Hz]"] + audio["s0[500-4000Hz]"], stems["s0"], atol=1e-5)
    np.testing.assert_allclose(
        expl.prediction, xmtag.explain(stems, _tagger(), cache=False, progress=False).prediction, atol=1e-5
    )


def test_a_time_frequency_grid_of_one_mix():
    class Patches:
        labels, sample_rate, patch_length, name = ["loud"], 8000, 2000, "patches"

        def predict_patches(self, batch):
            p = batch.reshape(batch.shape[0], -1, self.patch_length)
            return np.sqrt((p.astype(np.float64) ** 2).mean(-1, keepdims=True))

        def predict(self, batch):
            return self.predict_patches(batch).mean(1)

    mix = xmtag.Stems({"mix": _loud_stems(3).mixture}, sr=8000)
    grid = xmtag.explain(mix, Patches(), bands=4, segments=4, cache=False, progress=False)
    assert grid.method == "exact" and grid.segment_values.shape == (4, 4, 1) and grid.budget <= 16 * 4
    sampled = xmtag.explain(
        mix, Patches(), bands=4, segments=4, method="auto", budget=300, cache=False, progress=False
    )
    assert sampled.method == "exact"  # 4 band players <= 8: auto enumerates
    with pytest.raises(XmtagError, match="bands must be"):
        xmtag.explain(mix, Patches(), bands="many", cache=False, progress=False)


def test_sample_rates_are_spelled_sr_everywhere_and_the_old_names_still_work():
    class OnlySr:  # a user's tagger may give sr instead of the protocol's sample_rate
        labels, sr, patch_length, name = ["loud"], 8000, None, "only-sr"

        def predict(self, batch):
            return np.abs(batch).mean(1, keepdims=True)

    expl = xmtag.explain(_loud_stems(2), OnlySr(), cache=False, progress=False)
    assert expl.provenance.tagger["sample_rate"] == 8000
    t = _tagger()
    assert t.sr == t.sample_rate == 8000
    sep = xmtag.Separator("spleeter:2stems")
    assert sep.sr == sep.samplerate == 44100
    with pytest.raises(XmtagError, match="no 'sample_rate'"):
        xmtag.explain(
            _loud_stems(2),
            type("NoRate", (), {"labels": ["x"], "predict": lambda s, b: b})(),
            cache=False,
            progress=False,
        )
