"""Tests of the Demucs Separator, its model loading, cache and CLI.

No pretrained Demucs weights can be downloaded here, so every model below is a tiny
HTDemucs with **random weights**, built and saved in a temporary model folder in the
layout Demucs' ``LocalRepo`` reads. Such models output noise: the tests check routing,
shapes, chunking, the bag average, determinism, caching and error handling, never
separation quality.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("demucs")

from demucs.apply import apply_model  # noqa: E402
from demucs.htdemucs import HTDemucs  # noqa: E402
from demucs.pretrained import get_model  # noqa: E402
from demucs.states import save_with_checksum  # noqa: E402

import xmtag  # noqa: E402
from xmtag.cli import main  # noqa: E402
from xmtag.errors import AudioError, ModelNotFoundError, XmtagError  # noqa: E402
from xmtag.separation import Separator, Stems  # noqa: E402
from xmtag.separation import _demucs as sepmod  # noqa: E402

SR = 44100
FOUR = ["drums", "bass", "other", "vocals"]
SIX = [*FOUR, "guitar", "piano"]


def tiny_htdemucs(sources, seed, t_layers=0):
    """A ~0.3 M-parameter HTDemucs with random weights (1-s segment): code paths only."""
    torch.manual_seed(seed)
    kwargs = dict(channels=8, depth=4, dconv_comp=4, segment=1, bottom_channels=0)
    if t_layers:
        kwargs.update(t_layers=t_layers, t_heads=2)
    else:
        kwargs.update(t_layers=0)
    return HTDemucs(sources=list(sources), **kwargs)


def package(model):
    """The dict Demucs' ``load_model`` reads (OFFLINE_MODELS.md)."""
    args, kwargs = model._init_args_kwargs
    return {"klass": type(model), "args": args, "kwargs": kwargs, "state": model.state_dict()}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """Model folder: tiny4.th, tiny6-<sha>.th (checksummed), tiny_a/tiny_b.th + tinybag.yaml."""
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("demucs-models")
    torch.save(package(tiny_htdemucs(FOUR, 0)), d / "tiny4.th")
    save_with_checksum(package(tiny_htdemucs(SIX, 1, t_layers=1)), d / "tiny6.th")
    torch.save(package(tiny_htdemucs(FOUR, 2)), d / "tiny_a.th")
    torch.save(package(tiny_htdemucs(FOUR, 3)), d / "tiny_b.th")
    (d / "tinybag.yaml").write_text("models: ['tiny_a', 'tiny_b']\n")
    (d / "brokenbag.yaml").write_text("models: ['tiny_a', 'tiny_missing']\n")
    return d


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("XMTAG_CACHE", str(d))
    return d


def noise(seconds=1.5, channels=2, sr=SR, seed=0):
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((channels, int(seconds * sr)))).astype(np.float32)


def soxr_oracle(y, orig, target):
    """Independent of xmtag.audio.resample: soxr on each channel, cut or zero-padded to the length."""
    import soxr

    n = int(round(y.shape[1] * target / orig))
    out = np.zeros((y.shape[0], n), np.float32)
    for c in range(y.shape[0]):
        r = soxr.resample(y[c].astype(np.float64), orig, target, quality="HQ")[:n]
        out[c, : len(r)] = r
    return out


def reference(repo, name, y, **kw):
    """What demucs itself computes (demucs.api's normalisation + apply_model)."""
    model = get_model(name, repo=repo)
    x = torch.from_numpy(y)
    ref = x.mean(0)
    mean, std = ref.mean(), ref.std() + 1e-8
    with torch.no_grad():
        out = apply_model(model, ((x - mean) / std)[None], split=True, shifts=0, overlap=0.25, **kw)
    return (out * std + mean)[0].numpy()


def sep(repo, name="tiny4", **kw):
    kw.setdefault("progress", False)
    kw.setdefault("cache", False)
    kw.setdefault("residual", False)  # random weights: the residual is large; keep the model's stems
    return Separator(name, repo=repo, **kw)


# -- models and routing -------------------------------------------------------------------------
def test_four_stem_model_matches_demucs(repo):
    y = noise(2.5)  # longer than the 1-s segment: several overlapping chunks
    stems = sep(repo).separate(y, sr=SR)
    assert isinstance(stems, Stems)
    assert stems.names == FOUR and stems.sr == SR and stems.n_channels == 2 and stems.n_samples == y.shape[1]
    expected = reference(repo, "tiny4", y)
    for i, name in enumerate(FOUR):
        assert stems[name].dtype == np.float32
        np.testing.assert_allclose(stems[name], expected[i], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(stems.mixture, y)
    assert np.isfinite(stems.residual_db)


def test_six_stem_model_with_checksummed_file(repo):
    assert any(p.name.startswith("tiny6-") for p in repo.iterdir())
    s = sep(repo, "tiny6")
    stems = s.separate(noise(1.2), sr=SR)
    assert stems.names == SIX and len(stems) == 6
    assert s.signature["files"][0][0].startswith("tiny6-")


def test_bag_of_two_is_the_mean_of_its_models(repo):
    y = noise(1.3, seed=1)
    bag = sep(repo, "tinybag").separate(y, sr=SR)
    a = sep(repo, "tiny_a").separate(y, sr=SR)
    b = sep(repo, "tiny_b").separate(y, sr=SR)
    assert bag.names == FOUR
    for name in FOUR:
        np.testing.assert_allclose(bag[name], (a[name] + b[name]) / 2, rtol=1e-4, atol=1e-6)
        assert not np.allclose(a[name], b[name])  # the two models really differ
    assert [p.name for p in sep(repo, "tinybag")._source.files] == ["tinybag.yaml", "tiny_a.th", "tiny_b.th"]


def test_segment_override_and_limit(repo):
    y = noise(1.5, seed=2)
    short = sep(repo, segment=0.5).separate(y, sr=SR)
    np.testing.assert_allclose(
        short["bass"], reference(repo, "tiny4", y, segment=0.5)[1], rtol=1e-5, atol=1e-6
    )
    with pytest.raises(XmtagError, match="segment=2 s exceeds the 1 s"):
        sep(repo, segment=2.0).separate(y, sr=SR)


def test_mono_input_to_stereo_model(repo):
    mono = noise(1.2, channels=1, seed=3)
    stems = sep(repo).separate(mono[0], sr=SR)  # 1-D array is mono
    assert stems.n_channels == 1 and stems["drums"].shape == (1, mono.shape[1])
    np.testing.assert_array_equal(stems.mixture, mono)
    stereo = sep(repo).separate(np.repeat(mono, 2, axis=0), sr=SR)
    np.testing.assert_allclose(stems["vocals"][0], stereo["vocals"].mean(0), rtol=1e-5, atol=1e-6)


def test_8khz_input_is_resampled_to_the_model_rate(repo, tmp_path):
    y = noise(1.0, sr=8000, seed=4)
    y[1] *= 0.3  # channels differ in content and level: channel-0-for-all is caught
    path = xmtag.save_audio(tmp_path / "low.wav", y, 8000)
    stems = sep(repo).separate(path)
    assert stems.sr == SR and stems.n_samples == SR
    np.testing.assert_allclose(stems.mixture, soxr_oracle(y, 8000, SR), atol=2e-6)


def test_silent_input_gives_silent_finite_stems(repo):
    stems = sep(repo).separate(np.zeros((2, SR), np.float32), sr=SR)
    for name in FOUR:
        assert np.isfinite(stems[name]).all() and np.abs(stems[name]).max() < 1e-5
    assert not stems.mixture.any()


def test_callers_array_is_never_modified(repo):
    for y, rate in ((noise(1.0, seed=10), SR), (noise(0.5, sr=8000, seed=11), 8000)):
        before = y.copy()
        stems = sep(repo).separate(y, sr=rate)
        np.testing.assert_array_equal(y, before)
        np.testing.assert_allclose(stems.mixture, soxr_oracle(before, rate, SR), atol=2e-6)


def test_file_input_mixture_is_exact_and_change_is_detected(repo, tmp_path, monkeypatch):
    y = noise(1.0, seed=12)
    path = xmtag.save_audio(tmp_path / "song.wav", y, SR)
    stems = sep(repo).separate(path)  # samples normalised in place, mixture re-read afterwards
    np.testing.assert_array_equal(stems.mixture, y)
    np.testing.assert_allclose(stems["drums"], sep(repo).separate(y, sr=SR)["drums"], rtol=1e-6, atol=1e-7)
    reads = []

    def flaky_load(p, sr=None, mono=False):
        reads.append(p)
        return (y if len(reads) == 1 else y * 0.5), SR

    monkeypatch.setattr(sepmod, "load_audio", flaky_load)
    with pytest.raises(AudioError, match="changed while it was being separated"):
        sep(repo).separate(path)


def test_deterministic_with_shifts(repo):
    y = noise(1.2, seed=5)
    one = sep(repo, shifts=2, seed=7).separate(y, sr=SR)
    two = sep(repo, shifts=2, seed=7).separate(y, sr=SR)
    other = sep(repo, shifts=2, seed=8).separate(y, sr=SR)
    assert one == two
    assert not np.array_equal(one["drums"], other["drums"])


# -- cache ----------------------------------------------------------------------------------------
def test_cache_hit_is_fast_and_equal(repo, cache_dir, tmp_path, monkeypatch):
    path = xmtag.save_audio(tmp_path / "song.flac", noise(3.0, seed=6), SR)
    s = sep(repo, cache=True)
    calls = []
    real = s._separate
    monkeypatch.setattr(s, "_separate", lambda *a: calls.append(1) or real(*a))
    first = s.separate(path)
    t0 = time.perf_counter()
    second = s.separate(path)
    elapsed = time.perf_counter() - t0
    assert calls == [1] and elapsed < 0.5
    assert first == second and second.names == FOUR
    # a fresh Separator (e.g. the next CLI run) hits the same entry without loading the model
    fresh = sep(repo, cache=True)
    assert fresh.separate(path) == first and fresh._model is None
    assert len(list(s.cache.entries(sepmod.CACHE_NAMESPACE))) == 1


def test_cache_key_depends_on_audio_params_and_weights(repo, cache_dir, tmp_path):
    y = noise(1.0, seed=7)
    base = sep(repo, cache=True)
    base.separate(y, sr=SR)
    sep(repo, cache=True, overlap=0.5).separate(y, sr=SR)
    base.separate(y[:, ::-1].copy(), sr=SR)
    assert len(list(base.cache.entries(sepmod.CACHE_NAMESPACE))) == 3
    # same name, other weights -> another key
    other = tmp_path / "other-repo"
    other.mkdir()
    torch.save(package(tiny_htdemucs(FOUR, 99)), other / "tiny4.th")
    assert sep(other).signature != base.signature
    out = sep(other, cache=True).separate(y, sr=SR)
    assert not np.array_equal(out["drums"], base.separate(y, sr=SR)["drums"])


def test_no_cache_bypasses(repo, cache_dir):
    s = sep(repo, cache=False)
    s.separate(noise(1.0), sr=SR)
    assert not (cache_dir / sepmod.CACHE_NAMESPACE).exists()


def test_corrupt_cache_entry_is_recomputed(repo, cache_dir, caplog):
    y = noise(1.0, seed=8)
    s = sep(repo, cache=True)
    good = s.separate(y, sr=SR)
    (entry,) = s.cache.entries(sepmod.CACHE_NAMESPACE)
    raw = bytearray(entry.read_bytes())
    raw[100] ^= 0xFF
    entry.write_bytes(bytes(raw))
    again = s.separate(y, sr=SR)
    assert again == good
    assert "corrupt" in caplog.text
    assert sep(repo, cache=True).separate(y, sr=SR) == good  # rewritten, readable again


# -- errors ---------------------------------------------------------------------------------------
@pytest.fixture
def offline_empty_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("XMTAG_CACHE", str(tmp_path / "xmtag"))
    return tmp_path


@pytest.mark.parametrize("name", ["htdemucs", "htdemucs_6s"])
def test_missing_model_offline_fails_fast_and_says_what_to_do(offline_empty_caches, name):
    t0 = time.perf_counter()
    with pytest.raises(ModelNotFoundError, match="offline") as info:
        Separator(name)
    assert time.perf_counter() - t0 < 5
    msg = str(info.value)
    assert "offline" in msg and "repo=" in msg and "--repo" in msg
    assert ".th" in msg and "https://dl.fbaipublicfiles.com/demucs/" in msg
    assert f"{name}.yaml" in msg
    assert isinstance(info.value, FileNotFoundError)


def test_unknown_model_offline(offline_empty_caches):
    with pytest.raises(ModelNotFoundError, match="not a released Demucs model"):
        Separator("no_such_model")


def test_offline_uses_torch_hub_cache_and_verifies_checksum(offline_empty_caches):
    # The released htdemucs weights are 955717e8-<checksum>.th; a file of that name holding other
    # bytes must be rejected by Demucs' checksum check, with a clear error.
    ckpt = offline_empty_caches / "torch" / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    (basename,) = [u.rsplit("/", 1)[-1] for u in sepmod._remote_listing("htdemucs")]
    torch.save(package(tiny_htdemucs(FOUR, 0)), ckpt / basename)
    s = Separator("htdemucs", progress=False)  # found in the cache: no error yet
    assert s._source.kind == "torch-hub-cache"
    with pytest.raises(ModelNotFoundError, match="checksum"):
        s.separate(noise(0.5), sr=SR)


def test_offline_uses_hugging_face_cache(offline_empty_caches):
    """A model in the Hugging Face cache layout demucs.hf reads (tiny, random weights)."""
    import json

    from safetensors.torch import save_file

    model = tiny_htdemucs(FOUR, 4)
    args, kwargs = model._init_args_kwargs
    snap = offline_empty_caches / "hf" / "models--adefossez--HTDemucs" / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    (snap.parent.parent / "refs").mkdir()
    (snap.parent.parent / "refs" / "main").write_text("0" * 40)
    (snap / "htdemucs.yaml").write_text("models: ['sigx']\n")
    meta = {"klass": "demucs.htdemucs.HTDemucs", "args": json.dumps(list(args)), "kwargs": json.dumps(kwargs)}
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, str(snap / "sigx.safetensors"), meta
    )
    s = Separator("htdemucs", progress=False, cache=False, residual=False)
    assert s._source.kind == "hf-cache"
    y = noise(1.0, seed=13)
    stems = s.separate(y, sr=SR)
    assert stems.names == FOUR
    x = torch.from_numpy(y)
    mean, std = x.mean(0).mean(), x.mean(0).std() + 1e-8
    with torch.no_grad():
        ref = apply_model(model.eval(), ((x - mean) / std)[None], shifts=0, split=True, overlap=0.25)
    np.testing.assert_allclose(stems["other"], (ref * std + mean)[0, 2].numpy(), rtol=1e-5, atol=1e-6)


def test_local_repo_errors(repo, tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        Separator("tiny4", repo=tmp_path / "nope")
    with pytest.raises(ModelNotFoundError, match=r"No Demucs model 'tiny9'.*tiny4"):
        Separator("tiny9", repo=repo)
    with pytest.raises(ModelNotFoundError, match="tiny_missing"):
        Separator("brokenbag", repo=repo)
    with pytest.raises(ModelNotFoundError, match=r"htdemucs\.yaml"):
        Separator("htdemucs", repo=repo)  # names the files of the released model


def test_corrupt_model_file(tmp_path):
    (tmp_path / "bad.th").write_bytes(b"not a torch file")
    s = Separator("bad", repo=tmp_path, progress=False, cache=False)
    with pytest.raises(ModelNotFoundError, match="corrupt"):
        s.separate(noise(0.5), sr=SR)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"overlap": 1.0}, r"overlap must be in \[0, 1\), got 1\.0"),
        ({"shifts": -1}, r"shifts must be a non-negative integer, got -1"),
        ({"segment": 0}, r"segment must be a positive number of seconds, got 0"),
        ({"jobs": -2}, r"jobs must be a non-negative integer, got -2"),
        ({"shifts": True}, r"shifts must be a non-negative integer, got True"),
        ({"device": "gpu0"}, r"unknown device 'gpu0'"),
        ({"overlap": "x"}, r"overlap must be a number, got 'x'"),
        ({"segment": float("nan")}, r"segment must be finite, got nan"),
    ],
)
def test_bad_parameters(repo, kw, match):
    with pytest.raises(XmtagError, match=match):
        sep(repo, **kw)


def test_bad_inputs(repo, tmp_path):
    s = sep(repo)
    with pytest.raises(AudioError, match="sample rate"):
        s.separate(noise(0.5))
    with pytest.raises(AudioError, match="3 channels"):
        s.separate(noise(0.5, channels=3), sr=SR)
    path = xmtag.save_audio(tmp_path / "x.wav", noise(0.5), SR)
    with pytest.raises(AudioError, match="sr= is for arrays"):
        s.separate(path, sr=SR)
    with pytest.raises(xmtag.errors.AudioFileNotFoundError, match=r"missing\.wav' does not exist"):
        s.separate(tmp_path / "missing.wav")


def test_network_probe_respects_offline_env(monkeypatch):
    monkeypatch.setenv("XMTAG_OFFLINE", "1")
    t0 = time.perf_counter()
    assert sepmod.network_available() is False
    assert time.perf_counter() - t0 < 0.1


# -- CLI ------------------------------------------------------------------------------------------
def test_cli_separate(repo, cache_dir, tmp_path, capsys):
    song = xmtag.save_audio(tmp_path / "song.wav", noise(1.0, seed=9), SR)
    out = tmp_path / "out"
    assert main(["separate", str(song), "--model", "tiny4", "--repo", str(repo), "--out", str(out)]) == 0
    # random weights: the residual is not negligible and is written as a stem, so the files sum to the mix
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.wav" for n in [*FOUR, "residual"])
    assert "residual" in capsys.readouterr().out
    back = Stems.from_folder(out)
    assert back.names == [*FOUR, "residual"] and back.sr == SR
    np.testing.assert_allclose(sum(back.values()), noise(1.0, seed=9), atol=1e-5)
    direct = sep(repo).separate(song)
    np.testing.assert_array_equal(back["bass"], direct["bass"])
    assert (
        main(["-q", "separate", str(song), "-n", "tiny4", "--repo", str(repo), "-o", str(out), "--mp3"]) == 0
    )
    assert (out / "vocals.mp3").is_file()


def test_cli_offline_error_is_one_line(offline_empty_caches, tmp_path, capsys):
    song = xmtag.save_audio(tmp_path / "song.wav", noise(0.2), SR)
    assert main(["separate", str(song), "--model", "htdemucs"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("xmtag: error:") and "Traceback" not in err and "--repo" in err


def test_help_mentions_options(capsys):
    with pytest.raises(SystemExit):
        main(["separate", "--help"])
    out = capsys.readouterr().out
    for flag in ("--model", "--repo", "--out", "--mp3", "--no-cache"):
        assert flag in out


def test_auto_separator_probe_imports_nothing_when_the_caches_are_empty(tmp_path, monkeypatch):
    """``find_local`` on empty caches answers from a few ``stat`` calls: importing demucs,
    huggingface_hub and torch just to learn that the caches are empty cost ~2 s per
    ``xmtag explain`` (#27)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from xmtag.separation._demucs_models import find_local, _torch_hub_checkpoints\n"
        "assert find_local('htdemucs') is None\n"
        "print(sorted(m for m in ('torch', 'demucs', 'huggingface_hub') if m in sys.modules))\n"
        "print(_torch_hub_checkpoints())\n"
    )
    env = {
        **__import__("os").environ,
        "HF_HUB_CACHE": str(tmp_path / "hf"),
        "TORCH_HOME": str(tmp_path / "torch"),
    }
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    imported, where = r.stdout.splitlines()
    assert imported == "[]"
    assert where == str(tmp_path / "torch" / "hub" / "checkpoints")  # what torch.hub.get_dir() says


def test_probe_namespace_is_demucs_own():
    pytest.importorskip("demucs")
    from demucs.hf import DEFAULT_NAMESPACE

    from xmtag.separation._demucs_models import _HF_NAMESPACE

    assert _HF_NAMESPACE == DEFAULT_NAMESPACE


def test_probe_still_finds_a_hugging_face_copy(tmp_path, monkeypatch):
    """A cache holding the model's folder is still looked at properly (not skipped)."""
    from xmtag.separation import _demucs_models as dm

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert dm._hf_cache_may_hold("htdemucs") is False
    (tmp_path / "models--adefossez--HTDemucs").mkdir()
    assert dm._hf_cache_may_hold("htdemucs") is True
    assert dm._hf_cache_may_hold("someone/htdemucs") is False
