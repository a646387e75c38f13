"""xmtag.explain() and xmtag.Explanation: identities, save/load, tables, listenable explanations, errors."""

from __future__ import annotations

import json
import math
import zipfile
from itertools import combinations

import numpy as np
import pytest

import xmtag
from xmtag import Explanation
from xmtag.datasets import load_demo
from xmtag.errors import (
    AudioError,
    AudioFileNotFoundError,
    ExplanationFileError,
    InvalidGameError,
    OutputError,
    UnknownTagError,
    XmtagError,
)
from xmtag.taggers import FunctionTagger

SR = 8000
FREQS = {"guitar": 200.0, "drums": 1000.0, "sax": 3000.0}  # whole cycles per second: orthogonal


def _sine(freq: float, amp: float = 1.0, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _amplitudes(batch: np.ndarray) -> np.ndarray:
    """Amplitude of each of the three sines in each row (projection; linear in the mix)."""
    t = np.arange(batch.shape[1]) / SR
    basis = np.stack([np.sin(2 * np.pi * f * t) for f in FREQS.values()])  # (3, N)
    return 2.0 * batch.astype(np.float64) @ basis.T / batch.shape[1]


def _toy_fn(batch: np.ndarray) -> np.ndarray:
    g, d, s = _amplitudes(batch).T
    rock = 0.6 * g + 0.35 * d + 0.05 * s  # linear: Shapley values are the weights
    groove = np.minimum(g, d)  # pure synergy of guitar and drums
    return np.stack([rock, groove], axis=1)


@pytest.fixture(scope="module")
def toy_stems() -> xmtag.Stems:
    return xmtag.Stems({name: _sine(f) for name, f in FREQS.items()}, sr=SR)


@pytest.fixture(scope="module")
def toy_tagger() -> FunctionTagger:
    return FunctionTagger(_toy_fn, ["rock", "groove"], sample_rate=SR, patch_length=SR // 4, name="toy")


@pytest.fixture(scope="module")
def toy_expl(toy_stems, toy_tagger) -> Explanation:
    return xmtag.explain(toy_stems, toy_tagger, segments=2, progress=False)


def _brute_force_shapley(v: np.ndarray) -> np.ndarray:
    """Textbook Shapley formula, independent of xmtag.shapley."""
    n = int(v.shape[0]).bit_length() - 1
    phi = np.zeros((n, *v.shape[1:]))
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            w = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in combinations(others, size):
                m = sum(1 << j for j in subset)
                phi[i] += w * (v[m | (1 << i)] - v[m])
    return phi


# -- real tagger ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def musicnn():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    pytest.importorskip("musicnn", reason="the musicnn-msd weights: pip install --no-deps musicnn==0.1.0")
    return xmtag.load_tagger("musicnn-msd")


@pytest.fixture(scope="module")
def real_stems() -> xmtag.Stems:
    """Three stems of the demo song (6.1 s: two musicnn patches) plus one of digital silence."""
    demo = load_demo()
    n = int(6.1 * demo.sr)
    parts = {k: demo[k][:, 4 * demo.sr : 4 * demo.sr + n] for k in ("drums", "guitar", "saxophone")}
    parts["silence"] = np.zeros_like(parts["drums"])
    return xmtag.Stems(parts, sr=demo.sr)


@pytest.fixture(scope="module")
def real_expl(real_stems, musicnn) -> Explanation:
    return xmtag.explain(real_stems, musicnn, segments=2, cache=False, progress=False)


def test_efficiency_on_real_tagger_outputs(real_expl, real_stems, musicnn):
    e = real_expl
    assert e.values.shape == (4, len(musicnn.labels))
    np.testing.assert_allclose(e.base_values + e.values.sum(0), e.prediction, rtol=0, atol=1e-6)
    # the ends of the game are the tagger's own outputs for silence and for the full mix
    mono = real_stems.resampled(musicnn.sample_rate).mixture.mean(0, keepdims=True)
    np.testing.assert_allclose(e.prediction, musicnn.predict(mono)[0], atol=1e-5)
    np.testing.assert_allclose(e.base_values, musicnn.predict(np.zeros_like(mono))[0], atol=1e-5)
    # the values are Shapley values (textbook formula) of the coalition values
    np.testing.assert_allclose(e.values, _brute_force_shapley(e.coalition_values), atol=1e-12)
    # time-resolved values add up to the clip values
    np.testing.assert_allclose(e.segment_values.sum(1), e.values, atol=1e-9)
    assert e.top_tags(1)[0] in musicnn.labels


def test_digital_silence_gets_exactly_zero_on_real_tagger(real_expl):
    i = real_expl.stems.index("silence")
    assert np.all(real_expl.values[i] == 0.0)
    assert np.all(real_expl.interactions[i] == 0.0) and np.all(real_expl.interactions[:, i] == 0.0)
    assert np.all(real_expl.segment_values[i] == 0.0)
    assert np.abs(real_expl.values[:i]).max() > 1e-3  # the other stems do matter


def test_segments_larger_than_patches_raise(real_stems, musicnn):
    with pytest.raises(XmtagError, match="segments"):
        xmtag.explain(real_stems, musicnn, segments=3, cache=False, progress=False)


def test_unknown_tagger_name_raises(toy_stems):
    with pytest.raises(XmtagError, match="no-such-tagger"):
        xmtag.explain(toy_stems, "no-such-tagger", progress=False)


# -- toy tagger with known answers -------------------------------------------------------------
def test_linear_toy_game_values_are_the_weights(toy_expl):
    rock = toy_expl.tag_index("rock")
    np.testing.assert_allclose(toy_expl.values[:, rock], [0.6, 0.35, 0.05], atol=1e-5)
    np.testing.assert_allclose(toy_expl.base_values, 0.0, atol=1e-9)
    np.testing.assert_allclose(toy_expl.interactions[0, 1, rock], 0.0, atol=1e-6)  # additive: none
    groove = toy_expl.tag_index("groove")
    assert toy_expl.interactions[0, 1, groove] > 0.9  # min(g, d): synergy
    np.testing.assert_allclose(toy_expl.values[2, groove], 0.0, atol=1e-6)


@pytest.mark.parametrize(
    ("share", "expected"),
    [(0.5, ("guitar",)), (0.9, ("guitar", "drums")), (0.96, ("guitar", "drums", "sax"))],
)
def test_smallest_coalition_known_answer(toy_expl, share, expected):
    pick = toy_expl.smallest_coalition("rock", share=share)
    assert pick.stems == expected
    assert pick.mask == toy_expl.mask_of(expected)
    assert pick.value >= share * pick.prediction - 1e-9
    assert pick.kept >= share - 1e-9


def test_listen_writes_the_coalition_mix_and_solo_the_stem(toy_expl, toy_stems, tmp_path):
    pick = toy_expl.listen("rock", tmp_path / "rock.wav", share=0.9)
    assert pick.stems == ("guitar", "drums") and pick.path == tmp_path / "rock.wav"
    y, sr = xmtag.load_audio(pick.path)
    assert sr == SR
    np.testing.assert_array_equal(y, toy_stems["guitar"] + toy_stems["drums"])
    path = toy_expl.solo("sax", tmp_path / "sax.wav")
    np.testing.assert_array_equal(xmtag.load_audio(path)[0], toy_stems["sax"])


def test_listen_rejects_a_tag_the_mix_does_not_raise(toy_stems):
    tagger = FunctionTagger(lambda b: -_toy_fn(b)[:, :1], ["anti"], sample_rate=SR, name="anti")
    e = xmtag.explain(toy_stems, tagger, progress=False)
    with pytest.raises(XmtagError, match="above silence"):
        e.smallest_coalition("anti")
    with pytest.raises(XmtagError, match="share"):
        e.smallest_coalition("anti", share=1.5)


def test_silent_stem_exact_zero_on_toy_tagger(toy_stems, toy_tagger):
    stems = xmtag.Stems({**dict(toy_stems.items()), "mute": np.zeros(SR, np.float32)}, sr=SR)
    e = xmtag.explain(stems, toy_tagger, segments=4, progress=False)
    assert np.all(e.values[3] == 0.0) and np.all(e.segment_values[3] == 0.0)
    assert np.all(e.interactions[3] == 0.0)


def test_tags_and_top_restrict_the_kept_tags(toy_stems, toy_tagger, toy_expl):
    e = xmtag.explain(toy_stems, toy_tagger, tags=["groove"], progress=False)
    assert e.labels == ["groove"] and e.values.shape == (3, 1)
    np.testing.assert_allclose(e.values[:, 0], toy_expl.values[:, 1])
    top = xmtag.explain(toy_stems, toy_tagger, top=1, progress=False)
    assert top.labels == toy_expl.top_tags(1)
    with pytest.raises(UnknownTagError, match="rok.*Did you mean 'rock'"):
        xmtag.explain(toy_stems, toy_tagger, tags=["rok"], progress=False)
    with pytest.raises(UnknownTagError):
        toy_expl.tag_index("jazz")
    with pytest.raises(XmtagError):
        xmtag.explain(toy_stems, toy_tagger, top=0, progress=False)


# -- bad input -----------------------------------------------------------------------------------
def test_folder_without_audio_raises(tmp_path, toy_tagger):
    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(AudioError, match="no stem files"):
        xmtag.explain(tmp_path, toy_tagger, progress=False)


def test_missing_source_and_bad_types_raise(tmp_path, toy_tagger):
    with pytest.raises(AudioFileNotFoundError, match="does not exist"):
        xmtag.explain(tmp_path / "nope.wav", toy_tagger, progress=False)
    with pytest.raises(XmtagError, match="Stems"):
        xmtag.explain({"a": np.zeros(100)}, toy_tagger, progress=False)
    with pytest.raises(XmtagError, match="segments"):
        xmtag.explain(tmp_path, toy_tagger, segments=0, progress=False)
    with pytest.raises(XmtagError, match="not a tagger"):
        xmtag.explain(tmp_path, object(), progress=False)


def test_inconsistent_values_are_rejected():
    with pytest.raises(InvalidGameError, match="efficiency|prediction"):
        Explanation(["a"], ["t"], [[1.0]], [0.0], [2.0], [[0.0], [2.0]], [[[1.0]]])
    with pytest.raises(InvalidGameError, match="n_tags"):
        Explanation.from_game(np.zeros((4, 2)), ["a", "b"], ["t"])
    with pytest.raises(InvalidGameError):
        Explanation.from_game(np.zeros((3, 1)), ["a", "b"], ["t"])


# -- save / load ---------------------------------------------------------------------------------
def test_save_load_round_trip_is_lossless(toy_expl, tmp_path):
    path = toy_expl.save(tmp_path / "toy.xmtag")
    back = Explanation.load(path)
    assert back == toy_expl
    for name in ("values", "base_values", "prediction", "coalition_values", "interactions"):
        a, b = getattr(back, name), getattr(toy_expl, name)
        assert a.dtype == b.dtype and np.array_equal(a, b)
    np.testing.assert_array_equal(back.segment_values, toy_expl.segment_values)
    np.testing.assert_array_equal(back.segment_bounds, toy_expl.segment_bounds)
    np.testing.assert_array_equal(back.envelope, toy_expl.envelope)
    assert back.stems == toy_expl.stems and back.labels == toy_expl.labels
    assert back.metadata["tagger"]["name"] == "toy"
    assert back.metadata["residual_db"] == "-inf"  # JSON has no infinities
    assert back.audio is None
    # readable without xmtag: a ZIP of .npy files and a JSON header
    with np.load(path) as npz:
        np.testing.assert_array_equal(npz["values"], toy_expl.values)
    # nothing left behind by the atomic write
    assert [p.name for p in tmp_path.iterdir()] == ["toy.xmtag"]


def test_load_attaches_and_checks_audio(toy_expl, toy_stems, tmp_path):
    path = toy_expl.save(tmp_path / "toy.xmtag")
    back = Explanation.load(path, audio=toy_stems)
    assert back.audio is toy_stems
    with pytest.raises(XmtagError, match="listen"):
        Explanation.load(path).listen("rock", tmp_path / "x.wav")
    other = xmtag.Stems({k: 0.5 * v for k, v in toy_stems.items()}, sr=SR)
    with pytest.raises(XmtagError, match="not the audio"):
        Explanation.load(path, audio=other)


def test_load_reattaches_audio_from_a_stem_folder(toy_stems, toy_tagger, tmp_path):
    folder = tmp_path / "song"
    folder.mkdir()
    toy_stems.save(folder)
    e = xmtag.explain(folder, toy_tagger, progress=False)
    assert e.metadata["source"]["kind"] == "folder"
    back = Explanation.load(e.save(tmp_path / "song.xmtag"))
    pick = back.listen("rock", tmp_path / "rock.wav")
    assert set(pick.stems) == {"guitar", "drums"} and pick.path.exists()


def _rewrite_header(src, dst, **changes):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "header.json":
                header = json.loads(data)
                header.update(changes)
                data = json.dumps(header).encode()
            zout.writestr(item, data)
    return dst


def test_load_rejects_other_versions_and_other_files(toy_expl, tmp_path):
    path = toy_expl.save(tmp_path / "toy.xmtag")
    newer = _rewrite_header(path, tmp_path / "newer.xmtag", format_version=99)
    with pytest.raises(ExplanationFileError, match="version 99.*Upgrade xmtag"):
        Explanation.load(newer)
    older = _rewrite_header(path, tmp_path / "older.xmtag", format_version=0)
    with pytest.raises(ExplanationFileError, match="version 0.*Recompute"):
        Explanation.load(older)
    other = _rewrite_header(path, tmp_path / "other.xmtag", format="something.else")
    with pytest.raises(ExplanationFileError, match="not an xmtag explanation"):
        Explanation.load(other)
    (tmp_path / "text.xmtag").write_text("hello")
    with pytest.raises(ExplanationFileError, match="not a ZIP"):
        Explanation.load(tmp_path / "text.xmtag")
    data = path.read_bytes()
    (tmp_path / "cut.xmtag").write_bytes(data[: len(data) // 2])
    with pytest.raises(ExplanationFileError):
        Explanation.load(tmp_path / "cut.xmtag")
    with pytest.raises(AudioFileNotFoundError):
        Explanation.load(tmp_path / "missing.xmtag")
    with pytest.raises(OutputError):
        toy_expl.save(tmp_path / "no" / "such" / "folder.xmtag")


# -- tables and exports --------------------------------------------------------------------------
def test_to_frame_is_tidy_and_consistent(toy_expl):
    df = toy_expl.to_frame()
    assert list(df.columns) == [
        "tag",
        "stem",
        "value",
        "stderr",
        "solo",
        "without",
        "base_value",
        "prediction",
    ]
    assert len(df) == toy_expl.n_tags * toy_expl.n_stems
    rock = df[df.tag == "rock"].set_index("stem")
    np.testing.assert_allclose(rock.value.to_numpy(), toy_expl.values[:, 0])
    np.testing.assert_allclose(rock.loc["guitar", "solo"], 0.6, atol=1e-5)
    np.testing.assert_allclose(rock.loc["guitar", "without"], 0.4, atol=1e-5)
    seg = toy_expl.to_frame(segments=True)
    assert len(seg) == toy_expl.n_tags * toy_expl.n_stems * 2
    summed = seg.groupby(["tag", "stem"], sort=False).value.sum()
    np.testing.assert_allclose(summed.loc["rock"].to_numpy(), toy_expl.values[:, 0], atol=1e-12)
    assert (seg.end > seg.start).all()


def test_to_frame_segments_needs_segments(toy_stems, toy_tagger):
    e = xmtag.explain(toy_stems, toy_tagger, progress=False)
    with pytest.raises(XmtagError, match="segments"):
        e.to_frame(segments=True)


def test_to_shap_shapes(toy_expl):
    sv = toy_expl.to_shap()
    assert sv.values.shape == (2, 3) and list(sv.feature_names) == toy_expl.stems
    one = toy_expl.to_shap("rock")
    np.testing.assert_allclose(one.base_values + one.values.sum(), toy_expl.prediction[0], atol=1e-9)
    np.testing.assert_array_equal(sv["rock"].values, one.values)


def test_coalition_values_are_cached_for_named_taggers(tmp_path, monkeypatch, toy_stems):
    monkeypatch.setenv("XMTAG_CACHE", str(tmp_path / "cache"))
    calls = []

    def fn(batch):
        calls.append(batch.shape[0])
        return _toy_fn(batch)

    tagger = FunctionTagger(fn, ["rock", "groove"], sample_rate=SR, name="toy-cache")
    a = xmtag.explain(toy_stems, tagger, progress=False)
    n_first = sum(calls)
    b = xmtag.explain(toy_stems, tagger, progress=False)
    assert not a.metadata["from_cache"] and not b.metadata["from_cache"]  # objects: never cached
    assert sum(calls) - n_first >= 7  # all non-empty mixes again (silence may be memoised)
    import xmtag.taggers as taggers

    monkeypatch.setattr(taggers, "load_tagger", lambda name: tagger)
    c = xmtag.explain(toy_stems, "toy-cache", progress=False)
    n_calls = sum(calls)
    d = xmtag.explain(toy_stems, "toy-cache", progress=False)
    assert not c.metadata["from_cache"] and d.metadata["from_cache"]
    assert sum(calls) == n_calls  # the second call did not run the tagger
    np.testing.assert_array_equal(c.coalition_values, d.coalition_values)


def test_demo_song_is_bundled():
    demo = load_demo()
    assert demo.names == ["drums", "bass", "guitar", "piano", "saxophone"]
    assert demo.sr == 44100 and demo.n_channels == 2 and 20 <= demo.duration <= 30
    assert demo.residual_db == float("-inf")  # the mix is the sum of the stems
    for name in demo.names:
        assert np.sqrt(np.mean(demo[name] ** 2)) > 1e-3  # every stem is audible
    folder = xmtag.datasets.demo_path()
    assert (folder / "LICENSE").is_file()
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 3_000_000
    assert float(np.abs(demo.mixture).max()) <= 1.0


def test_explain_an_audio_file_through_a_separator(tmp_path, toy_tagger):
    """Code path only: a tiny HTDemucs with random weights (its stems are noise, not music)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("demucs")
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(0)
    model = HTDemucs(
        sources=["drums", "bass", "other", "vocals"],
        channels=8,
        depth=4,
        dconv_comp=4,
        segment=1,
        bottom_channels=0,
        t_layers=0,
    )
    args, kwargs = model._init_args_kwargs
    repo = tmp_path / "models"
    repo.mkdir()
    torch.save(
        {"klass": HTDemucs, "args": args, "kwargs": kwargs, "state": model.state_dict()}, repo / "tiny.th"
    )
    song = tmp_path / "song.wav"
    t = np.arange(44100) / 44100
    xmtag.save_audio(song, np.stack([np.sin(2 * np.pi * 200 * t), np.sin(2 * np.pi * 1000 * t)]) * 0.3, 44100)
    sep = xmtag.Separator("tiny", repo=repo, progress=False, cache=False, residual=False)
    e = xmtag.explain(song, toy_tagger, separator=sep, cache=False, progress=False)
    # random weights lose much of the mix: the separator adds it back as an explicit residual stem
    assert e.stems[:4] == ["drums", "bass", "other", "vocals"] and e.stems[4:] in ([], ["residual"])
    assert e.metadata["source"] == {"kind": "file", "path": str(song.resolve())}
    assert e.metadata["separator"]["name"] == "tiny"
    assert isinstance(e.metadata["residual_db"], float)
    np.testing.assert_allclose(e.base_values + e.values.sum(0), e.prediction, atol=1e-6)
    assert e.audio is not None and e.audio.has_mixture


@pytest.mark.slow
def test_demo_song_is_reproducible_from_its_script(tmp_path):
    """benchmarks/tools/make_demo_song.py regenerates the committed stems (same FluidSynth)."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("pretty_midi")
    if shutil.which("fluidsynth") is None or not Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").is_file():
        pytest.skip("needs `apt-get install fluidsynth fluid-soundfont-gm`")
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "tools" / "make_demo_song.py"
    r = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    fresh = xmtag.Stems.from_folder(tmp_path, names=load_demo().names)
    committed = load_demo()
    for name in committed.names:
        np.testing.assert_allclose(fresh[name], committed[name], rtol=0, atol=1e-4, err_msg=name)
