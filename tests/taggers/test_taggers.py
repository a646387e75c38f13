"""Taggers: TF checkpoint reader, the musicnn port against the original TensorFlow code,
batching, the tagger protocol, FunctionTagger, bad inputs and ``xmtag tag``."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

import xmtag
from xmtag.cache import Cache
from xmtag.errors import MissingDependencyError, ModelNotFoundError, TaggerError, XmtagError
from xmtag.taggers import FunctionTagger, ShortClipWarning, Tagger, check_tagger, load_tagger
from xmtag.taggers.tfcheckpoint import CheckpointError, TFCheckpoint, crc32c, write_checkpoint

DATA = Path(__file__).parents[1] / "data" / "musicnn"
PL = 47872
HAVE_MUSICNN = importlib.util.find_spec("musicnn") is not None
needs_musicnn = pytest.mark.skipif(
    not HAVE_MUSICNN,
    reason="the musicnn package (weights) is not installed: pip install --no-deps musicnn==0.1.0",
)
MODELS = {
    "musicnn-msd": "MSD_musicnn",
    "musicnn-mtt": "MTT_musicnn",
    "msd-vgg": "MSD_vgg",
    "mtt-vgg": "MTT_vgg",
}


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    y, sr = xmtag.load_audio(DATA / "clip.flac", mono=True)
    assert sr == 16000
    return y


@pytest.fixture(scope="module")
def reference():
    return np.load(DATA / "reference.npz")


@pytest.fixture(scope="module")
def msd():
    return load_tagger("musicnn-msd", device="cpu")


def musicnn_folder(name: str) -> Path:
    return Path(next(iter(importlib.util.find_spec("musicnn").submodule_search_locations))) / name


# --------------------------------------------------------------------------- checkpoint reader
def test_crc32c_known_vectors():
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"\x00" * 32) == 0x8A9136AA  # RFC 3720 test vector


def test_checkpoint_roundtrip_all_dtypes(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "a/kernel": rng.standard_normal((3, 4, 2)).astype(np.float32),
        "b": rng.standard_normal(5),
        "c/half": rng.standard_normal(7).astype(np.float16),
        "ints": np.arange(-3, 3, dtype=np.int64),
        "i32": np.array([[1, 2], [3, 4]], np.int32),
        "u8": np.arange(10, dtype=np.uint8),
        "flag": np.array([True, False]),
        "scalar": np.float32(2.5),
        "empty": np.zeros((0, 3), np.float32),
    }
    write_checkpoint(tmp_path / "ckpt", tensors)
    ckpt = TFCheckpoint(tmp_path / "ckpt")
    assert ckpt.names() == sorted(tensors)
    for name, want in tensors.items():
        got = ckpt[name]
        assert got.dtype == np.asarray(want).dtype and got.shape == np.shape(want)
        np.testing.assert_array_equal(got, want)
    assert len(ckpt) == len(tensors) and "b" in ckpt and "zzz" not in ckpt
    with pytest.raises(KeyError, match="zzz"):
        ckpt["zzz"]


@needs_musicnn
def test_reader_is_bit_identical_to_tensorflow(reference):
    """Hashes of every inference variable as TensorFlow's own reader returned them."""
    want = json.loads(str(reference["tensor_sha256"]))
    assert len(want) == 200
    opened: dict[str, TFCheckpoint] = {}
    for key, digest in want.items():
        model, name = key.split("/", 1)
        ckpt = opened.setdefault(model, TFCheckpoint(musicnn_folder(model)))
        assert hashlib.sha256(np.ascontiguousarray(ckpt[name]).tobytes()).hexdigest() == digest, key


@needs_musicnn
def test_reader_musicnn_layout():
    ckpt = TFCheckpoint(musicnn_folder("MSD_musicnn"))
    assert ckpt.shape("conv2d/kernel") == (7, 38, 1, 204)
    assert ckpt.shape("dense_1/kernel") == (200, 50)
    assert ckpt["batch_normalization_9/moving_variance"].min() > 0


def _copy_ckpt(tmp_path: Path) -> Path:
    dst = tmp_path / "MSD_musicnn"
    dst.mkdir()
    for f in (".index", ".data-00000-of-00001"):
        shutil.copy(musicnn_folder("MSD_musicnn") / f, dst / f)
    return dst


@needs_musicnn
def test_reader_detects_corrupt_tensor(tmp_path):
    folder = _copy_ckpt(tmp_path)
    entry = TFCheckpoint(folder).entry("conv2d/kernel")
    data = folder / ".data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[entry.offset + 100] ^= 0x40
    data.write_bytes(bytes(raw))
    ckpt = TFCheckpoint(folder)
    ckpt["dense/bias"]  # untouched variables still read
    with pytest.raises(CheckpointError, match="checksum mismatch for variable 'conv2d/kernel'"):
        ckpt["conv2d/kernel"]
    assert TFCheckpoint(folder, verify=False)["conv2d/kernel"].shape == (7, 38, 1, 204)


@needs_musicnn
def test_reader_detects_truncated_data_and_bad_index(tmp_path):
    folder = _copy_ckpt(tmp_path)
    data = folder / ".data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated"):
        TFCheckpoint(folder)["dense/kernel"]
    index = folder / ".index"
    raw = bytearray(index.read_bytes())
    raw[200] ^= 0xFF
    index.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="checksum"):
        TFCheckpoint(folder)
    index.write_bytes(bytes(raw[:-8]) + struct.pack("<Q", 1234))
    with pytest.raises(CheckpointError, match="magic"):
        TFCheckpoint(folder)
    index.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"\.index"):
        TFCheckpoint(folder)


def test_reader_missing_files(tmp_path):
    with pytest.raises(ModelNotFoundError, match="No TensorFlow checkpoint index"):
        TFCheckpoint(tmp_path / "nothing")
    write_checkpoint(tmp_path / "c", {"x": np.ones(3, np.float32)})
    (tmp_path / "c.data-00000-of-00001").unlink()
    with pytest.raises(ModelNotFoundError, match="data file"):
        TFCheckpoint(tmp_path / "c")["x"]


# --------------------------------------------------------------------------- fidelity
@pytest.mark.parametrize("model", sorted(MODELS))
def test_port_matches_original_tensorflow(model, clip, reference):
    """Per-patch outputs equal the original TF implementation (fixture made by
    benchmarks/tools/musicnn_reference.py with TF 2.15.1, numpy 1.26, librosa 0.11)."""
    want = reference[MODELS[model]]
    tagger = load_tagger(model)
    got = tagger.predict_patches(clip)
    assert got.shape == (1, 5, 50) and want.shape == (5, 50)
    np.testing.assert_allclose(got[0], want, atol=1e-3, rtol=0)
    # in fact far tighter than the 1e-3 contract (measured ~2e-6)
    assert np.abs(got[0] - want).max() < 2e-5
    np.testing.assert_allclose(tagger.predict(clip)[0], want.mean(0), atol=1e-3, rtol=0)


FOF = Path("/usr/share/games/fretsonfire/data/songs")


@pytest.mark.slow
@pytest.mark.skipif(
    not FOF.is_dir(),
    reason="recordings not installed: apt-get install fretsonfire-songs-muldjord fretsonfire-songs-sectoid",
)
@pytest.mark.parametrize(
    ("song", "folder"), [("armygeddon", "muldjord/armygeddon"), ("feelings", "sectoid/Feelings")]
)
def test_port_matches_original_on_recorded_music(song, folder):
    """Recorded rock songs (guitar.ogg + song.ogg, seconds 30-60 at 16 kHz), references made by
    benchmarks/tools/recorded_music_reference.py with the original TensorFlow code."""
    ref = np.load(DATA / "recorded.npz")
    parts = [xmtag.load_audio(FOF / folder / f, sr=16000, mono=True)[0] for f in ("guitar.ogg", "song.ogg")]
    n = min(p.shape[1] for p in parts)
    y = (parts[0][:, :n] + parts[1][:, :n])[:, 30 * 16000 : 60 * 16000]
    for model, key in MODELS.items():
        got = load_tagger(model).predict_patches(y)[0]
        np.testing.assert_allclose(got, ref[f"{song}/{key}"], atol=1e-3, rtol=0, err_msg=model)


def test_mel_filterbank_is_librosa_slaney(reference):
    from xmtag.taggers.musicnn import mel_filterbank

    fb = mel_filterbank()
    assert fb.shape == (96, 257) and fb.dtype == np.float32
    # bit-identical to librosa.filters.mel(sr=16000, n_fft=512, n_mels=96) (hash from the reference env)
    assert hashlib.sha256(fb.tobytes()).hexdigest() == str(reference["librosa_mel_sha256"])
    # Slaney normalisation: each triangle has unit area (row sum x 31.25 Hz bin spacing ~ 1)
    np.testing.assert_allclose(fb.sum(axis=1) * 31.25, 1.0, atol=0.1)
    # a few exact values checked against librosa.filters.mel(sr=16000, n_fft=512, n_mels=96)
    assert fb[0, 1] == pytest.approx(0.031999223, rel=1e-6)
    assert fb[95, 250] == pytest.approx(0.00298842, rel=1e-5)


@pytest.mark.slow  # importing librosa's spectrum module (numba, scipy) takes ~10 s on a loaded 2-core machine
def test_log_mel_is_musicnns_librosa_pipeline(clip):
    """Against librosa itself: musicnn computes melspectrogram -> float16 -> log10(10000 x + 1)."""
    librosa = pytest.importorskip("librosa", reason="librosa is in the [test] extra")
    from xmtag.taggers.musicnn import log_mel

    m = log_mel(clip)[0].astype(np.float64)
    mel = librosa.feature.melspectrogram(y=clip[0], sr=16000, n_fft=512, hop_length=256, n_mels=96).T
    assert m.shape == mel.shape == (1 + clip.shape[1] // 256, 96)
    want = np.log10(10000 * mel.astype(np.float16).astype(np.float64) + 1)
    diff = np.abs(m - want)
    # xmtag's mel is computed in float64, librosa's in float32: the two agree to 2e-5 except where
    # they round to neighbouring float16 values (measured: 7 of 90,048 bins), one float16 step apart
    assert (diff > 2e-5).mean() < 1e-3
    assert diff.max() < np.log10(1 + 2.0**-10) + 2e-5
    # without the float16 step the error would be everywhere, not in a few bins
    no_f16 = np.log10(10000 * mel.astype(np.float64) + 1)
    assert (np.abs(m - no_f16) > 2e-5).mean() > 0.05


def test_log_mel_float16_quantisation_is_exact(clip):
    """Undo the compression: the mel values lie exactly on the float16 grid (to float32 rounding)."""
    from xmtag.taggers.musicnn import log_mel

    m = log_mel(clip)
    assert m.dtype == np.float32 and np.isfinite(m).all() and m.min() >= 0
    m = m.astype(np.float64)
    mel = (10**m - 1) / 10000
    requantised = np.log10(10000 * mel.astype(np.float16).astype(np.float64) + 1)
    # measured 2.4e-7 with the float16 step; 2.1e-4 if it is dropped
    np.testing.assert_allclose(m, requantised, atol=2e-5, rtol=0)
    assert m.max() > 4.8  # loud bands exceed float16 range after * 10000: computed in float32


# --------------------------------------------------------------------------- batching and patches
def test_batching_invariance(msd, clip):
    y = clip[0]
    batch = np.stack([y[: 3 * PL], y[-3 * PL :], 0.3 * y[PL : 4 * PL]])
    together = msd.predict_patches(batch)
    alone = np.concatenate([msd.predict_patches(b[None]) for b in batch])
    np.testing.assert_allclose(together, alone, atol=1e-6, rtol=0)
    small = xmtag.taggers.musicnn.MusicnnTagger("musicnn-msd", batch_size=7)
    np.testing.assert_allclose(small.predict_patches(batch), together, atol=1e-6, rtol=0)
    assert not np.allclose(together[0], together[1], atol=1e-3)  # different clips, different tags


def test_patches_drop_remainder_and_locality(msd, clip):
    y = clip[:, : 2 * PL + 5000].copy()
    full = msd.predict_patches(y)
    assert full.shape == (1, 2, 50)
    np.testing.assert_array_equal(full, msd.predict_patches(y[:, : 2 * PL]))
    # patch 0 depends on nothing after its end; patch 1 on nothing before sample PL - 256
    z = y.copy()
    z[:, PL:] = 0
    np.testing.assert_allclose(msd.predict_patches(z)[0, 0], full[0, 0], atol=1e-6)
    z = y.copy()
    z[:, : PL - 256] = 0
    np.testing.assert_allclose(msd.predict_patches(z)[0, 1], full[0, 1], atol=1e-6)
    z = y.copy()
    z[:, PL - 256 : PL] = 0  # the shared STFT context at the patch edge
    assert np.abs(msd.predict_patches(z)[0, 1] - full[0, 1]).max() > 1e-7


def test_short_clip_is_padded_with_warning(msd, clip):
    short = clip[:, :16000]
    with pytest.warns(ShortClipWarning, match="shorter than one patch"):
        out = msd.predict_patches(short)
    assert out.shape == (1, 1, 50)
    padded = np.pad(short, ((0, 0), (0, PL - 16000)))
    np.testing.assert_array_equal(out, msd.predict_patches(padded))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortClipWarning)
        np.testing.assert_array_equal(msd.predict(short), out[:, 0])


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((0, PL), np.float32), "empty"),
        (np.zeros((2, 0), np.float32), "zero samples"),
        (np.zeros((1, 2, PL), np.float32), "to_mono"),
        (np.zeros((1, PL), np.int16), "integer PCM"),
        (np.zeros((1, PL), np.complex64), "float samples"),
        (np.where(np.arange(PL) == 7, np.nan, 0).astype(np.float32)[None], "NaN or infinite.*sample 7"),
        (np.where(np.arange(PL) == 9, np.inf, 0).astype(np.float32)[None], "NaN or infinite"),
    ],
)
def test_bad_inputs(msd, bad, match):
    with pytest.raises(TaggerError, match=match) as info:
        msd.predict(bad)
    assert isinstance(info.value, XmtagError)


def test_one_dimensional_and_float64_input(msd, clip):
    y = clip[0, :PL]
    np.testing.assert_array_equal(msd.predict(y), msd.predict(y[None].astype(np.float64)))


# --------------------------------------------------------------------------- weights, cache, registry
class _UnverifiedCache(Cache):
    """Reads entries WITHOUT checking their digest: shows what a corruption would do if unnoticed."""

    def get(self, namespace, key, mmap=False):
        raw = self.path(namespace, key).read_bytes()
        (hl,) = struct.unpack("<Q", raw[-48:-40])
        header = json.loads(raw[len(raw) - 48 - hl : len(raw) - 48])
        arrays = {}
        for item in header["arrays"]:
            dt = np.dtype(item["dtype"])
            count = int(np.prod(item["shape"]))
            arrays[item["name"]] = np.frombuffer(raw, dt, count, item["offset"]).reshape(item["shape"])
        return arrays, header["meta"]


@needs_musicnn
def test_weights_are_cached_and_corrupt_cache_rebuilt(tmp_path, clip, caplog):
    from xmtag.taggers.musicnn import MusicnnTagger

    cache = Cache(tmp_path / "cache")
    folder = musicnn_folder("MSD_musicnn")  # a user's checkpoint: converted once, then cached
    first = MusicnnTagger("musicnn-msd", checkpoint=folder, cache=cache)
    (entry,) = cache.entries("taggers")
    good = entry.read_bytes()
    raw = bytearray(good)
    raw[4096:8192] = b"\x7f" * 4096  # 1024 weights become ~3e38: a damage that changes the output
    entry.write_bytes(bytes(raw))
    want = first.predict(clip[:, :PL])
    unnoticed = MusicnnTagger("musicnn-msd", checkpoint=folder, cache=_UnverifiedCache(tmp_path / "cache"))
    assert not np.allclose(unnoticed.predict(clip[:, :PL]), want, atol=1e-3)  # the damage matters
    second = MusicnnTagger("musicnn-msd", checkpoint=folder, cache=cache)
    assert f"Cache entry {entry} is corrupt (checksum mismatch)" in caplog.text  # detected
    assert entry.read_bytes() == good  # recomputed and rewritten, identical to the first conversion
    np.testing.assert_array_equal(second.predict(clip[:, :PL]), want)
    assert first.checkpoint_hash == second.checkpoint_hash
    assert first.n_parameters > 780_000


@needs_musicnn
def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    from xmtag.taggers.musicnn import MusicnnTagger

    folder = _copy_ckpt(tmp_path)
    data = folder / ".data-00000-of-00001"
    entry = TFCheckpoint(folder).entry("dense/kernel")
    raw = bytearray(data.read_bytes())
    raw[entry.offset + 8] ^= 0x10
    data.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="corrupt"):
        MusicnnTagger("musicnn-msd", checkpoint=folder, cache=Cache(tmp_path / "c"))


def test_missing_musicnn_package_names_the_install(monkeypatch):
    from xmtag.taggers import musicnn

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "musicnn" else real(n, *a))
    with pytest.raises(MissingDependencyError, match=r"pip install --no-deps musicnn==0\.1\.0"):
        musicnn.musicnn_checkpoint("MSD_musicnn")
    assert musicnn.MusicnnTagger("musicnn-msd", device="cpu").weights == "xmtag"  # shipped weights


def test_registry_names_and_errors(tmp_path):
    names = ["birdnet", "msd-vgg", "mtt-vgg", "musicnn-msd", "musicnn-mtt"]
    assert xmtag.taggers.available_taggers() == names
    with pytest.raises(ModelNotFoundError, match="Unknown tagger 'nope'.*musicnn-msd"):
        load_tagger("nope")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_tagger(tmp_path / "missing.pb")
    with pytest.raises(ModelNotFoundError, match="Unknown musicnn model"):
        xmtag.taggers.musicnn.MusicnnTagger("musicnn-xyz")


def test_aliases_and_protocol(msd):
    assert isinstance(msd, Tagger) and check_tagger(msd) is msd
    assert msd.sample_rate == 16000 and msd.patch_length == 187 * 256 and msd.name == "musicnn-msd"
    assert msd.labels[:3] == ["rock", "pop", "alternative"] and len(msd.labels) == 50
    assert load_tagger("MSD_musicnn").labels == msd.labels
    assert load_tagger("musicnn-mtt").labels[0] == "guitar"


# --------------------------------------------------------------------------- FunctionTagger
def test_function_tagger_clip_level():
    calls = []

    def fn(b):
        calls.append(b.shape)
        return np.stack([b.mean(1), b.std(1)], axis=1)

    t = FunctionTagger(fn, ["mean", "std"], sample_rate=100, batch_size=2)
    y = np.arange(15, dtype=np.float32).reshape(5, 3)
    out = t.predict(y)
    np.testing.assert_allclose(out[:, 0], y.mean(1))
    assert calls == [(2, 3), (2, 3), (1, 3)]
    assert isinstance(t, Tagger) and t.patch_length is None
    with pytest.raises(TaggerError, match="not patch-decomposable"):
        t.predict_patches(y)


def test_function_tagger_per_patch_matches_mean():
    t = FunctionTagger(lambda b: b.max(1, keepdims=True), ["max"], sample_rate=10, patch_length=4)
    y = np.array([[1, 2, 3, 4, 8, 7, 6, 5, 100]], np.float32)
    np.testing.assert_array_equal(t.predict_patches(y)[0, :, 0], [4, 8])
    np.testing.assert_array_equal(t.predict(y), [[6]])
    with pytest.warns(ShortClipWarning):
        np.testing.assert_array_equal(t.predict_patches(y[:, :2]), [[[2]]])


@pytest.mark.parametrize(
    ("fn", "match"),
    [
        (lambda b: np.zeros((b.shape[0], 3)), r"shape \(1, 3\), expected \(1, 2\)"),
        (lambda b: np.full((b.shape[0], 2), np.nan), "NaN"),
        (lambda b: "junk", "not a numeric array"),
    ],
)
def test_function_tagger_checks_outputs(fn, match):
    t = FunctionTagger(fn, ["a", "b"], sample_rate=10)
    with pytest.raises(TaggerError, match=match):
        t.predict(np.zeros((1, 5), np.float32))


def test_check_tagger_rejects_non_taggers():
    with pytest.raises(TaggerError, match="no 'labels'"):
        check_tagger(object())
    with pytest.raises(TaggerError, match="sample_rate"):
        FunctionTagger(lambda b: b, ["x"], sample_rate=0)
    with pytest.raises(TaggerError, match="callable"):
        FunctionTagger("nope", ["x"], sample_rate=10)


# --------------------------------------------------------------------------- CLI
def test_cli_tag(capsys, reference):
    from xmtag.cli import main

    assert main(["tag", str(DATA / "clip.flac"), "--top", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    want = reference["MSD_musicnn"].mean(0)
    assert [t["tag"] for t in out["top"]] == [
        xmtag.taggers.musicnn.MSD_LABELS[i] for i in np.argsort(-want)[:3]
    ]
    assert out["top"][0]["tag"] == "rock"
    assert np.shape(out["patches"]) == (5, 50)
    assert main(["tag", str(DATA / "clip.flac"), "--top", "2"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert len(text) == 2 and text[0].split()[0] == "rock"
    assert main(["tag", str(DATA / "no-such.wav")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["tag", str(DATA / "clip.flac"), "--tagger", "bogus"]) == 1
    assert "Unknown tagger" in capsys.readouterr().err


def test_cli_tag_many_files_folders_and_globs(tmp_path, capsys):
    """`xmtag tag a b`, a folder and a glob: one row per file, the same scores as one file alone."""
    import csv
    import io
    import shutil

    from xmtag.cli import main

    for name in ("a.flac", "b.flac"):
        shutil.copy(DATA / "clip.flac", tmp_path / name)
    y, sr = xmtag.load_audio(DATA / "clip.flac")
    xmtag.save_audio(tmp_path / "short.wav", y[:, : 4 * sr], sr)  # another length: its own batch
    assert main(["tag", str(DATA / "clip.flac"), "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)["tags"]

    assert main(["tag", str(tmp_path / "a.flac"), str(tmp_path / "b.flac"), "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.split()[1] == "rock" for line in lines)

    assert main(["tag", str(tmp_path), "--json"]) == 0  # a folder: every audio file in it
    table = json.loads(capsys.readouterr().out)
    assert [f["file"].rsplit("/", 1)[1] for f in table["files"]] == ["a.flac", "b.flac", "short.wav"]
    for row in table["files"][:2]:
        assert row["tags"] == pytest.approx(alone, abs=2e-6)  # batched == alone

    assert main(["tag", str(tmp_path / "*.flac"), "--csv", "--top", "3"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 6 and [r["rank"] for r in rows[:3]] == ["1", "2", "3"] and rows[0]["tag"] == "rock"

    (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEnope")
    assert main(["tag", str(tmp_path / "a.flac"), str(tmp_path / "bad.wav")]) == 1  # reported, others done
    captured = capsys.readouterr()
    assert "bad.wav" in captured.err and len(captured.out.splitlines()) == 1 and "a.flac" in captured.out
    assert main(["tag", str(tmp_path / "*.mp3")]) == 1
    assert "No file matches" in capsys.readouterr().err
