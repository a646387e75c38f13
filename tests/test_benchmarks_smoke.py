"""Smoke tests of benchmarks/: every script answers --help, and the pure helpers behave.

The benchmarks themselves need prepared data and minutes of CPU; these tests need neither.
"""

from __future__ import annotations

import doctest
import importlib.util
import shutil
import subprocess
import sys
from itertools import combinations
from math import factorial
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
DATA = BENCH / "data"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))
DATA_SCRIPTS = sorted(p for p in DATA.glob("*.py") if not p.name.startswith("_"))
MINE = (
    "confound",
    "corpus_scaling",
    "cost",
    "estimators",
    "faithfulness",
    "genre_table",
    "separation_sensitivity",
    "summaries",
)


def _load(path: Path):
    for folder in (str(BENCH), str(DATA)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    name = f"_bench_{path.parent.name}_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_is_listed_in_the_readme():
    readme = (BENCH / "README.md").read_text()
    for script in SCRIPTS + DATA_SCRIPTS:
        assert script.name in readme, f"{script.name} is missing from benchmarks/README.md"
    for name in MINE:
        assert (BENCH / f"{name}.py").is_file()


@pytest.mark.parametrize("script", SCRIPTS + DATA_SCRIPTS, ids=lambda p: p.name)
def test_help(script):
    res = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "usage:" in res.stdout
    if script.stem in MINE or script.parent == DATA:
        assert "--quick" in res.stdout


@pytest.mark.parametrize(
    "path",
    [
        DATA / "_tools.py",
        *DATA_SCRIPTS,
        BENCH / "_common.py",
        BENCH / "_methods.py",
        *(BENCH / f"{m}.py" for m in MINE),
    ],
    ids=lambda p: p.name,
)
def test_doctests(path):
    module = _load(path)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_mma_plan_is_deterministic_and_covers_genres():
    mma = _load(DATA / "mma_corpus.py")
    full, quick = mma.plan(), mma.plan(quick=True)
    assert len(full) >= 30 and len({s.genre for s in full}) == len(mma.GENRES)
    assert all(sum(s.genre == g for s in full) >= 2 for g in mma.GENRES)  # several songs per style
    assert {s.song_id for s in quick} < {s.song_id for s in full}
    assert mma.plan() == full  # seeded
    assert len({s.song_id for s in full}) == len(full)
    for s in full:
        lo, hi = mma.TEMPI[s.genre]
        assert lo <= s.tempo <= hi
        # enough bars to cover the song at its tempo
        assert len(s.chords) * 4 * 60 / s.tempo >= s.seconds
    assert mma.plan(seconds=10)[0].chords != full[0].chords or len(mma.plan(seconds=10)[0].chords) < len(
        full[0].chords
    )


def test_mma_family_mapping_covers_general_midi():
    mma = _load(DATA / "mma_corpus.py")
    fams = [mma.family(p, False) for p in range(128)]
    assert set(fams) == {"bass", "keys", "guitar", "other"}
    assert fams.count("bass") == 8 and fams.count("guitar") == 8
    assert mma.family(5, True) == "drums"
    with pytest.raises(ValueError):
        mma.family(128, False)
    src = mma.mma_source("Swing", ["Dm7", "G7"], 150, 3, seed=11)
    assert "Groove Swing" in src and "Transpose 3" in src and src.count("\n") == 6
    assert src.startswith("RndSeed 11\n")  # MMA's humanisation is seeded, not clock-seeded
    assert len({s.mma_seed for s in mma.plan()}) == len(mma.plan())


def test_song_folder_round_trip(tmp_path):
    tools = _load(DATA / "_tools.py")
    rng = np.random.default_rng(0)
    stems = {
        "drums": rng.standard_normal((2, 800)).astype(np.float32) * 0.1,
        "bass": np.zeros((2, 800), np.float32),
    }
    params = {"dataset": "test", "x": 1}
    folder = tmp_path / "song"
    assert not tools.song_ready(folder, params)
    tools.write_song(folder, stems, 8000, {"params": params, "genre": "rock"})
    assert tools.song_ready(folder, params)
    assert not tools.song_ready(folder, {"dataset": "test", "x": 2})  # other parameters: rebuild
    loaded, sr, meta = tools.load_song(folder, seconds=0.05, offset=0.01)
    assert sr == 8000 and meta["genre"] == "rock" and list(loaded) == ["drums", "bass"]
    np.testing.assert_array_equal(loaded["drums"], stems["drums"][:, 80:480])  # float32 WAV is lossless
    with pytest.raises(tools.DataError, match="asked for"):
        tools.load_song(folder, seconds=1.0)
    (folder / "meta.json").unlink()
    assert not tools.song_ready(folder, params)
    with pytest.raises(tools.DataError, match="data script"):
        tools.read_meta(folder)


def test_song_hashes_are_recorded_and_checked(tmp_path):
    tools = _load(DATA / "_tools.py")
    folder = tmp_path / "song"
    stems = {"a": np.full((1, 100), 0.25, np.float32), "b": np.zeros((1, 100), np.float32)}
    tools.write_song(folder, stems, 8000, {"params": {}})
    meta = tools.read_meta(folder)
    assert meta["sha256"]["a"] == tools.audio_sha256(folder / "a.wav")
    digest = tools.song_digest(folder)
    assert digest == tools.song_digest(folder) and len(digest) == 64
    other = tmp_path / "other"
    tools.write_song(other, {"a": stems["a"] * 2, "b": stems["b"]}, 8000, {"params": {}})
    assert tools.song_digest(other) != digest
    with open(folder / "a.wav", "r+b") as fh:  # a file changed after rendering
        fh.seek(-4, 2)
        fh.write(b"\x00\x00\x80\x3f")
    with pytest.raises(tools.DataError, match="changed after it was rendered"):
        tools.song_digest(folder)


def test_results_record_the_data_and_say_when_it_differs(tmp_path, capsys):
    import json

    common = _load(BENCH / "_common.py")
    tools = _load(DATA / "_tools.py")
    folder = tmp_path / "data" / "s1"
    tools.write_song(folder, {"a": np.full((1, 10), 0.5, np.float32)}, 8000, {"params": {}})
    args = common.parser("x", runtime="1 s", quick_runtime="1 s").parse_args(["--out", str(tmp_path)])
    common.DATA_USED.clear()
    common.record_data("toy", [folder])
    first = json.loads(common.write_result("unit", args, {}, {}, 0.0).read_text())["data"]
    assert first["songs"] == {"toy/s1": tools.song_digest(folder)} and first["previous"] is None
    again = json.loads(common.write_result("unit", args, {}, {}, 0.0).read_text())["data"]
    assert again["same_as_previous"] is True and "NOTE" not in capsys.readouterr().out
    tools.write_song(folder, {"a": np.full((1, 10), 0.4, np.float32)}, 8000, {"params": {}})
    common.DATA_USED.clear()
    common.record_data("toy", [folder])
    changed = json.loads(common.write_result("unit", args, {}, {}, 0.0).read_text())["data"]
    assert changed["same_as_previous"] is False
    assert "other benchmark data than unit.json" in capsys.readouterr().out
    common.DATA_USED.clear()


@pytest.mark.skipif(
    not all(shutil.which(b) for b in ("mma", "fluidsynth"))
    or not Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").is_file(),
    reason="needs Debian mma, fluidsynth and fluid-soundfont-gm (installed by .ci/run)",
)
def test_two_renders_of_a_song_are_bit_identical(tmp_path):
    import soundfile as sf

    mma = _load(DATA / "mma_corpus.py")
    tools = _load(DATA / "_tools.py")
    spec = mma.plan(quick=True, seconds=3.0)[0]
    a = mma.render_song(spec, tmp_path / "a")
    b = mma.render_song(spec, tmp_path / "b")
    meta = tools.read_meta(a)
    assert len(meta["stems"]) >= 2
    for stem in meta["stems"]:  # the samples, bit for bit (the WAV headers hold a time stamp)
        ya, _ = sf.read(str(a / f"{stem}.wav"), dtype="float32")
        yb, _ = sf.read(str(b / f"{stem}.wav"), dtype="float32")
        assert ya.tobytes() == yb.tobytes(), stem
    assert meta["sha256"] == tools.read_meta(b)["sha256"]
    assert tools.song_digest(a) == tools.song_digest(b)


def test_missing_apt_package_names_the_fix():
    tools = _load(DATA / "_tools.py")
    with pytest.raises(tools.DataError, match="apt-get install -y xmtag-no-such-package"):
        tools.ensure_apt(["xmtag-no-such-package"], install=False)


def test_loudness_gain_sets_the_mixture_level():
    tools = _load(DATA / "_tools.py")
    rng = np.random.default_rng(1)
    stems = {k: rng.standard_normal((2, 4000)).astype(np.float32) * 0.05 for k in "abc"}
    g = tools.loudness_gain(stems, target_rms_db=-20.0, peak=10.0)
    mix = g * np.sum(list(stems.values()), axis=0)
    assert 20 * np.log10(np.sqrt(np.mean(mix.astype(np.float64) ** 2))) == pytest.approx(-20.0, abs=1e-6)
    g_peak = tools.loudness_gain(stems, target_rms_db=0.0, peak=0.5)
    assert np.abs(g_peak * np.sum(list(stems.values()), axis=0)).max() == pytest.approx(0.5, rel=1e-6)
    with pytest.raises(tools.DataError):
        tools.loudness_gain({"a": np.zeros((1, 10), np.float32)})


def test_fretsonfire_excerpts_stay_inside_the_song():
    fof = _load(DATA / "fretsonfire.py")
    for duration in (31.0, 60.0, 143.7, 288.0):
        for start in fof.excerpt_offsets(duration, 30.0, 3):
            assert 0 <= start and start + 30.0 <= duration
    assert fof.rms_db(np.zeros((2, 10))) == float("-inf")


def test_vocal_tiling_and_params():
    voc = _load(DATA / "vocals.py")
    out = voc.tile_phrases([np.ones(3), np.full(2, 2.0)], 20, gap=2)
    assert out.shape == (20,) and out[:3].tolist() == [1, 1, 1] and out[3:5].tolist() == [0, 0]
    with pytest.raises(ValueError):
        voc.tile_phrases([], 10, 1)
    params = {voc.voice_params(f"song{i}")["voice"] for i in range(30)}
    assert len(params) > 1  # voices vary across songs


def test_segment_game_has_the_exact_segment_values():
    """The assembled (stem, segment) game of estimators.py: brute-force Shapley == shapley.segments."""
    from xmtag.attribution import shapley

    est = _load(BENCH / "estimators.py")
    rng = np.random.default_rng(0)
    n, k = 2, 2
    table = rng.random((2**n, k, 3))
    table[0] = 0.0
    w = np.array([0.25, 0.75])
    fn = est.segment_game(table, w)
    players = n * k
    values = fn(np.arange(2**players))
    brute = np.zeros((players, 3))
    for p in range(players):
        others = [q for q in range(players) if q != p]
        for size in range(players):
            weight = factorial(size) * factorial(players - size - 1) / factorial(players)
            for sub in combinations(others, size):
                m = sum(1 << q for q in sub)
                brute[p] += weight * (values[m | (1 << p)] - values[m])
    np.testing.assert_allclose(brute, shapley.segments(table, w).reshape(players, 3), atol=1e-12)


def test_naive_loop_matches_exact_shapley(tmp_path):
    import xmtag
    from xmtag import coalitions
    from xmtag.attribution import shapley
    from xmtag.taggers import FunctionTagger

    cost = _load(BENCH / "cost.py")
    t = np.arange(1600) / 8000
    stems = xmtag.Stems(
        {"a": np.sin(2 * np.pi * 200 * t)[None], "b": 0.3 * np.sin(2 * np.pi * 900 * t)[None]}, sr=8000
    )
    tagger = FunctionTagger(
        lambda b: np.stack([np.sqrt((b**2).mean(1)), np.abs(b).max(1)], axis=1),
        ["rms", "peak"],
        8000,
        name="toy",
    )
    phi, rows = cost.naive_loop(stems, tagger, tmp_path)
    assert rows == 4 and len(list(tmp_path.glob("*.wav"))) == 4
    exact = shapley.exact(coalitions.evaluate(stems, tagger, progress=False).values)
    np.testing.assert_allclose(phi, exact, atol=1e-5)


def test_confound_split_is_disjoint_and_keeps_keys_songs_in_test():
    conf = _load(BENCH / "confound.py")
    names = [f"s{i}" for i in range(12)]
    has_keys = {n: i % 2 == 0 for i, n in enumerate(names)}
    train, test = conf.split_songs(names, has_keys)
    assert not set(train) & set(test) and set(train) | set(test) == set(names)
    assert any(has_keys[n] for n in test) and any(has_keys[n] for n in train)


def test_separation_metrics():
    sep = _load(BENCH / "separation_sensitivity.py")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 50))
    same = sep.compare(a, a, np.arange(10))
    assert same["top_stem_agreement"] == 1.0 and same["kendall_tau"] == pytest.approx(1.0)
    assert same["spearman_all_tags"] == pytest.approx(1.0) and same["mean_abs_diff"] == 0.0
    noisy = sep.compare(a, a + rng.standard_normal(a.shape), np.arange(10))
    assert noisy["kendall_tau"] < 1.0
    assert sep.sdr(np.ones(10), np.ones(10)) == float("inf")
    assert sep.sdr(np.ones(10), np.zeros(10)) == pytest.approx(0.0)


def test_separation_upper_band_measure():
    """The upper-band SDR: a perfect estimate is infinite, dropping the band is 0 dB."""
    sep = _load(BENCH / "separation_sensitivity.py")
    rng = np.random.default_rng(1)
    acc = rng.standard_normal((2, 44100)).astype(np.float32)

    class Dropped:
        def separate(self, mix, sr):
            return {"accompaniment": np.zeros_like(mix)}

    res = sep.high_band(acc, acc, acc, 44100, {"zeros": Dropped()})
    assert 0.2 < res["share_of_energy"] < 0.6  # white noise: ~48 % of its energy above 11.5 kHz
    assert res["sdr_db_average"] == float("inf") and res["sdr_db_zeros"] == pytest.approx(0.0)


def test_common_writes_json_and_tables(tmp_path, capsys):
    common = _load(BENCH / "_common.py")
    args = common.parser("x", runtime="1 s", quick_runtime="1 s").parse_args(
        ["--quick", "--out", str(tmp_path)]
    )
    env = {"versions": {}}
    path = common.write_result("unit", args, env, {"v": np.float64(0.5), "bad": float("nan")}, 1.234)
    assert path.name == "unit_quick.json"
    import json

    data = json.loads(path.read_text())
    assert data["results"] == {"v": 0.5, "bad": None} and data["wall_s"] == 1.2
    text = common.print_table([{"a": "x", "b": 1.5}, {"a": "yy", "b": 10}])
    assert text.splitlines()[0].split() == ["a", "b"] and "yy" in capsys.readouterr().out
    assert common.rank_of(np.array([3.0, 1.0, 2.0]), 2) == 1


def test_methods_share_one_coalition_table():
    """benchmarks/_methods.py: every method on one table, charged the rows it queried."""
    from xmtag.attribution import shapley

    meth = _load(BENCH / "_methods.py")
    rng = np.random.default_rng(0)
    n = 4
    table = rng.random((2**n, 3))
    labels = [m[0] for m in meth.methods(n)]
    assert len(labels) == len(set(labels)) and {"exact", "lime", "loo", "solo", "random"} <= set(labels)
    for label, method, budget in meth.methods(n):
        values, rows, passes = meth.run(table, label, method, budget, seed=1)
        assert values.shape == (n, 3) and np.isfinite(values).all(), label
        assert rows <= 2**n and (passes == 1000 if label == "lime" else passes <= max(2**n, 2 * n + 2)), label
        if budget is not None and method not in ("lime", "kernel"):  # the budget, or the minimum
            assert rows <= max(budget, 2 * n + 2, 12), label
    np.testing.assert_allclose(meth.run(table, "exact", "exact", None, 0)[0], shapley.exact(table))
    solo = meth.run(table, "solo", "solo", None, 0)[0]
    np.testing.assert_allclose(solo[2], table[4] - table[0])
    a, b = meth.run(table, "random", "random", None, 3)[0], meth.run(table, "random", "random", None, 3)[0]
    np.testing.assert_array_equal(a, b)  # seeded


def test_faithfulness_benchmark_rows_on_a_known_game():
    import xmtag

    bench = _load(BENCH / "faithfulness.py")
    w = np.array([0.3, 0.1, -0.2])
    bits = (np.arange(8)[:, None] >> np.arange(3)) & 1
    table = np.stack([0.1 + bits @ w, np.full(8, 0.05)], axis=1)
    expl = xmtag.Explanation.from_game(table, ["a", "b", "c"], ["t", "u"])
    frame = bench.clip_frame("toy", "clip", expl, n_tags=1, seed=0)
    assert set(frame["tag"]) == {"t"} and frame["dataset"].eq("toy").all()
    exact = frame[frame.method == "exact"].iloc[0]
    assert exact["FF"] == pytest.approx(0.4) and exact["top_agrees_exact"] == 1.0
    # on an additive game every Shapley estimator is exact: the same ranking as exact
    for m in ("banzhaf", "loo", "solo", "permutation@2^n"):
        assert frame[frame.method == m].iloc[0]["deletion_auc"] == pytest.approx(exact["deletion_auc"]), m
    summary = bench.summary_table(frame.assign(clip=frame["method"] + "x"), n_boot=50, seed=0)
    text = bench.markdown(summary, "toy", ["exact", "random"])
    assert text.count("\n") == 3 and "| exact |" in text


@pytest.mark.slow
def test_external_taggers_quick(tmp_path):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("transformers")
    import os

    env = {**os.environ, "PYTHONPATH": str(BENCH.parent)}  # this checkout's xmtag
    res = subprocess.run(
        [sys.executable, str(BENCH / "external_taggers.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "birdnet-2.4" in res.stdout and (tmp_path / "external_taggers_quick.json").is_file()


@pytest.mark.slow
def test_corpus_scaling_quick(tmp_path):
    """The corpus benchmark end to end (local pools, a Dask LocalCluster, the rerun), small (~1-2 min)."""
    pytest.importorskip("distributed")
    import json
    import os

    env = {**os.environ, "PYTHONPATH": str(BENCH.parent)}  # this checkout's xmtag, also in the workers
    cmd = [
        sys.executable,
        str(BENCH / "corpus_scaling.py"),
        "--quick",
        "--no-progress",
        "--out",
        str(tmp_path),
    ]
    cmd += ["--tracks", "3", "--rerun-tracks", "12", "--repeats", "1"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "EXTRAPOLATED" in res.stdout
    out = json.loads((tmp_path / "corpus_scaling_quick.json").read_text())["results"]
    assert [r["engine"] for r in out["throughput"]] == [
        "local pool, workers=1",
        "local pool, workers=2",
        "Dask LocalCluster, 2 workers",
    ]
    assert all(r["tracks"] == 3 and r["tracks_per_min"] > 0 for r in out["throughput"])
    rerun = out["rerun"]
    assert rerun["tracks_in_store"] == 12 and rerun["build_tagger_calls"] > 0
    assert rerun["rerun_tagger_calls"] == 0 and rerun["rerun_after_touch_tagger_calls"] == 0
    assert out["overhead"]["bare_s_per_track_median"] > 0
