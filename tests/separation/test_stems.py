"""Tests of the Stems type and MUSDB-style multitrack folders."""

from __future__ import annotations

import math

import numpy as np
import pytest

import xmtag
from conftest import tone
from xmtag.errors import AudioError, AudioFileNotFoundError, OutputError, XmtagError
from xmtag.separation import DEFAULT_MAX_PAD, Stems, UnknownStemError

SR = 8000


def distinct(freq, seconds, channels, sr=SR):
    """Channel c is a tone at freq * (1 + c / 2) with level 1 - 0.3 c: channels never alike."""
    return np.concatenate([tone(freq * (1 + c / 2), sr, seconds) * (1 - 0.3 * c) for c in range(channels)])


def four(n=SR, channels=2):
    return {
        "drums": distinct(100, n / SR, channels),
        "bass": distinct(56, n / SR, channels) * 0.5,
        "other": distinct(300, n / SR, channels) * 0.25,
        "vocals": distinct(800, n / SR, channels) * 0.1,
    }


def soxr_oracle(y, orig, target):
    """Independent of xmtag.audio.resample: soxr per channel."""
    import soxr

    return np.stack([soxr.resample(c.astype(np.float64), orig, target, quality="HQ") for c in y])


# -- construction and the mapping protocol ---------------------------------------------------------
def test_mapping_protocol_and_properties():
    arrays = four()
    s = Stems(arrays, sr=SR)
    assert s.names == ["drums", "bass", "other", "vocals"] and list(s) == s.names and len(s) == 4
    assert s.sr == SR and s.n_channels == 2 and s.n_samples == SR and s.duration == 1.0
    assert "bass" in s and "piano" not in s
    assert [k for k, _ in s.items()] == s.names
    np.testing.assert_array_equal(s["bass"], arrays["bass"])
    assert s["bass"].dtype == np.float32
    assert xmtag.Stems is Stems
    assert "drums" in repr(s) and "8000" in repr(s)


def test_names_order_is_insertion_order():
    s = Stems({"z": np.zeros(4), "a": np.zeros(4), "m": np.zeros(4)}, sr=SR)
    assert s.names == ["z", "a", "m"]


def test_unknown_stem_is_keyerror_and_xmtagerror():
    s = Stems(four(), sr=SR)
    with pytest.raises(UnknownStemError, match=r"No stem 'piano'.*drums") as info:
        s["piano"]
    assert isinstance(info.value, KeyError) and isinstance(info.value, XmtagError)
    assert s.get("piano") is None


def test_stems_are_read_only_views():
    a = np.zeros((2, 10), np.float32)
    s = Stems({"x": a}, sr=SR)
    with pytest.raises(ValueError, match="read-only"):
        s["x"][0, 0] = 1.0
    a[0, 0] = 0.5  # the caller's own array stays writable
    assert a.flags.writeable


def test_int_and_float64_inputs():
    s = Stems({"x": np.zeros((2, 10), np.float64)}, sr=np.int64(SR))
    assert s["x"].dtype == np.float32 and s.sr == SR
    with pytest.raises(AudioError, match="integer samples"):
        Stems({"x": np.zeros((2, 10), np.int16)}, sr=SR)


@pytest.mark.parametrize(
    "stems, sr, match",
    [
        ({}, SR, "at least one stem"),
        ({"x": np.zeros(4)}, 0, "positive integer"),
        ({"x": np.zeros(4)}, 44100.0, "positive integer"),
        ({"": np.zeros(4)}, SR, "non-empty"),
        ({"a/b": np.zeros(4)}, SR, "file name"),
        ({".hidden": np.zeros(4)}, SR, "file name"),
        ({"mixture": np.zeros(4)}, SR, "reserved"),
        ({"x": np.array([0.0, np.nan])}, SR, "NaN"),
        ({"x": np.zeros((2, 2, 2))}, SR, "dimensions"),
    ],
)
def test_invalid_construction(stems, sr, match):
    with pytest.raises(AudioError, match=match):
        Stems(stems, sr=sr)


# -- the channel and length policy --------------------------------------------------------------------
def test_mono_stem_is_broadcast_to_stereo():
    s = Stems({"a": np.ones((2, 5)), "b": np.full(5, 0.25)}, sr=SR)
    assert s["b"].shape == (2, 5) and np.all(s["b"] == 0.25)
    np.testing.assert_array_equal(s.mixture, np.full((2, 5), 1.25, np.float32))


def test_incompatible_channel_counts():
    with pytest.raises(AudioError, match=r"different channel counts \(a: 2, b: 6\)"):
        Stems({"a": np.ones((2, 5)), "b": np.ones((6, 5))}, sr=SR)


def test_short_length_difference_is_zero_padded():
    tol = int(DEFAULT_MAX_PAD * SR)
    s = Stems({"a": np.ones((2, 1000)), "b": np.ones((2, 1000 - tol))}, sr=SR, mixture=np.ones((2, 999)))
    assert s.n_samples == 1000 and s["b"].shape == (2, 1000)
    assert np.all(s["b"][:, -tol:] == 0) and np.all(s["b"][:, : 1000 - tol] == 1)
    assert s.mixture.shape == (2, 1000) and s.mixture[0, -1] == 0


def test_long_length_difference_is_an_error():
    tol = int(DEFAULT_MAX_PAD * SR)
    with pytest.raises(AudioError, match=r"differ in length.*401 samples.*a: 1000.*b: 599"):
        Stems({"a": np.ones(1000), "b": np.ones(1000 - tol - 1)}, sr=SR)
    # raising max_pad accepts it
    assert Stems({"a": np.ones(1000), "b": np.ones(500)}, sr=SR, max_pad=0.1).n_samples == 1000
    with pytest.raises(AudioError, match="differ in length"):
        Stems({"a": np.ones(1000)}, sr=SR, mixture=np.ones(100))


# -- mixture and residual -----------------------------------------------------------------------------
def test_mixture_defaults_to_sum_and_residual_is_zero():
    arrays = four()
    s = Stems(arrays, sr=SR)
    expected = sum(arrays.values())
    np.testing.assert_allclose(s.mixture, expected, rtol=1e-6, atol=1e-7)
    assert not s.has_mixture
    assert not s.residual.any() and s.residual_db == -math.inf


def test_given_mixture_residual_and_db():
    arrays = four()
    total = sum(arrays.values())
    leak = 0.01 * total  # residual energy = 1e-4 of the mixture's -> -40 dB
    s = Stems(arrays, sr=SR, mixture=total + leak)
    assert s.has_mixture
    np.testing.assert_allclose(s.residual, leak, atol=1e-6)
    assert s.residual_db == pytest.approx(20 * np.log10(0.01 / 1.01), abs=0.01)


def test_residual_db_edge_cases():
    assert Stems({"a": np.zeros(4)}, sr=SR, mixture=np.zeros(4)).residual_db == -math.inf
    assert Stems({"a": np.ones(4)}, sr=SR, mixture=np.zeros(4)).residual_db == math.inf
    exact = Stems({"a": np.full(4, 0.5), "b": np.full(4, 0.25)}, sr=SR, mixture=np.full(4, 0.75))
    assert exact.residual_db == -math.inf


# -- subset, resampled, equality ----------------------------------------------------------------------
def test_subset():
    s = Stems(four(), sr=SR, mixture=np.ones((2, SR)))
    sub = s.subset(["vocals", "drums"])
    assert sub.names == ["vocals", "drums"] and sub.sr == SR
    np.testing.assert_array_equal(sub["drums"], s["drums"])
    np.testing.assert_allclose(sub.mixture, s["vocals"] + s["drums"], rtol=1e-6)
    assert s.subset("bass").names == ["bass"]
    with pytest.raises(UnknownStemError, match="piano"):
        s.subset(["piano"])
    with pytest.raises(AudioError, match="at least one"):
        s.subset([])
    with pytest.raises(AudioError, match="repeated"):
        s.subset(["bass", "bass"])


def test_resampled():
    s = Stems(four(), sr=SR, mixture=np.zeros((2, SR)))
    r = s.resampled(16000)
    assert r.sr == 16000 and r.n_samples == 16000 and r.names == s.names and r.has_mixture
    for name in s.names:  # every channel resampled on its own (independent oracle: soxr per channel)
        np.testing.assert_allclose(r[name], soxr_oracle(s[name], SR, 16000)[:, :16000], atol=2e-6)
    # known tones: channel 0 of drums stays 100 Hz at level 0.5, channel 1 stays 150 Hz at 0.35
    for c, (freq, level) in enumerate([(100, 0.5), (150, 0.35)]):
        assert np.argmax(np.abs(np.fft.rfft(r["drums"][c]))) == freq
        assert np.sqrt(np.mean(r["drums"][c] ** 2)) == pytest.approx(level / np.sqrt(2), rel=1e-2)
    assert s.resampled(SR) is s
    with pytest.raises(AudioError, match=r"sample rate must be a positive integer, got 0"):
        s.resampled(0)


def test_equality():
    a = Stems(four(), sr=SR)
    assert a == Stems(four(), sr=SR)
    assert a != Stems(four(), sr=16000)
    assert a != a.subset(["drums"])
    assert (a == "x") is False


# -- files --------------------------------------------------------------------------------------------
def test_save_and_from_folder_roundtrip_wav_is_exact(tmp_path):
    arrays = four()
    mix = sum(arrays.values()) + 0.001
    s = Stems(arrays, sr=SR, mixture=mix)
    written = s.save(tmp_path / "song")
    assert sorted(written) == ["bass", "drums", "mixture", "other", "vocals"]
    back = Stems.from_folder(tmp_path / "song")
    assert back == s
    assert back.names == ["drums", "bass", "other", "vocals"]
    assert not list((tmp_path / "song").glob(".*"))  # no temporary files left


def test_save_without_mixture_and_formats(tmp_path):
    s = Stems(four(), sr=SR)
    assert sorted(s.save(tmp_path / "a")) == ["bass", "drums", "other", "vocals"]
    assert "mixture" in s.save(tmp_path / "b", mixture=True)
    paths = s.save(tmp_path / "c", format="flac")
    assert all(p.suffix == ".flac" for p in paths.values())
    back = Stems.from_folder(tmp_path / "c")
    np.testing.assert_allclose(back["drums"], s["drums"], atol=1e-6)  # 24-bit flac
    with pytest.raises(OutputError, match="aiff"):
        s.save(tmp_path / "d", format="aiff")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        s.save(tmp_path / "file")


def test_from_folder_mixed_formats_and_extra_stems(tmp_path):
    d = tmp_path / "multi"
    d.mkdir()
    arrays = four(n=4000)
    xmtag.save_audio(d / "drums.wav", arrays["drums"], SR)
    xmtag.save_audio(d / "bass.flac", arrays["bass"], SR)
    xmtag.save_audio(d / "vocals.ogg", arrays["vocals"], SR)
    xmtag.save_audio(d / "other.mp3", arrays["other"], SR)
    xmtag.save_audio(d / "synth_pad.wav", arrays["other"], SR)
    xmtag.save_audio(d / "accordion.wav", arrays["other"], SR)
    (d / "notes.txt").write_text("not audio")
    s = Stems.from_folder(d)
    # known names in Demucs order, then the rest alphabetically
    assert s.names == ["drums", "bass", "other", "vocals", "accordion", "synth_pad"]
    assert not s.has_mixture
    # lossy files come back padded/aligned to one length within the tolerance
    assert abs(s.n_samples - 4000) <= DEFAULT_MAX_PAD * SR
    np.testing.assert_allclose(s["bass"][:, :4000], arrays["bass"], atol=1e-5)
    assert Stems.from_folder(d, names=["vocals", "drums"]).names == ["vocals", "drums"]


def test_from_folder_missing_requested_stem(tmp_path):
    Stems({"drums": np.zeros(100), "bass": np.zeros(100)}, sr=SR).save(tmp_path)
    with pytest.raises(AudioError, match=r"no file for \['vocals'\].*\['bass', 'drums'\]"):
        Stems.from_folder(tmp_path, names=["drums", "vocals"])


def test_from_folder_errors(tmp_path):
    with pytest.raises(AudioFileNotFoundError, match="does not exist"):
        Stems.from_folder(tmp_path / "nope")
    f = xmtag.save_audio(tmp_path / "song.wav", np.zeros(100), SR)
    with pytest.raises(AudioFileNotFoundError, match="not a folder"):
        Stems.from_folder(f)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    with pytest.raises(AudioError, match=r"no stem files.*readme\.txt"):
        Stems.from_folder(empty)
    only_mix = tmp_path / "only_mix"
    only_mix.mkdir()
    xmtag.save_audio(only_mix / "mixture.wav", np.zeros(100), SR)
    with pytest.raises(AudioError, match="only a mixture"):
        Stems.from_folder(only_mix)


def test_from_folder_duplicate_name(tmp_path):
    xmtag.save_audio(tmp_path / "drums.wav", np.zeros(100), SR)
    xmtag.save_audio(tmp_path / "drums.flac", np.zeros(100), SR)
    with pytest.raises(AudioError, match="two files for 'drums'"):
        Stems.from_folder(tmp_path)


def test_from_folder_sample_rate_mismatch_and_fix(tmp_path):
    xmtag.save_audio(tmp_path / "drums.wav", tone(100, 8000, 0.5), 8000)
    xmtag.save_audio(tmp_path / "bass.wav", tone(100, 16000, 0.5), 16000)
    with pytest.raises(AudioError, match=r"different sample rates.*8000 Hz.*16000 Hz.*sr="):
        Stems.from_folder(tmp_path)
    s = Stems.from_folder(tmp_path, sr=16000)
    assert s.sr == 16000 and s.n_samples == 8000


def test_from_folder_resamples_each_channel(tmp_path):
    y = distinct(100, 0.5, 2)
    xmtag.save_audio(tmp_path / "drums.wav", y, SR)
    xmtag.save_audio(tmp_path / "bass.wav", distinct(56, 0.5, 2, sr=16000), 16000)
    s = Stems.from_folder(tmp_path, sr=16000)
    np.testing.assert_allclose(s["drums"], soxr_oracle(y, SR, 16000)[:, :8000], atol=2e-6)
    assert not np.allclose(s["drums"][0], s["drums"][1], atol=0.05)


def test_from_folder_length_mismatch(tmp_path):
    xmtag.save_audio(tmp_path / "drums.wav", np.zeros(SR), SR)
    xmtag.save_audio(tmp_path / "bass.wav", np.zeros(SR // 2), SR)
    with pytest.raises(AudioError, match=r"Stem folder .* differ in length by 0\.500 s"):
        Stems.from_folder(tmp_path)


def test_from_folder_channel_policy(tmp_path):
    xmtag.save_audio(tmp_path / "drums.wav", tone(100, SR, 0.1, channels=2), SR)
    xmtag.save_audio(tmp_path / "bass.wav", tone(100, SR, 0.1, channels=1), SR)
    s = Stems.from_folder(tmp_path)
    assert s.n_channels == 2 and s["bass"].shape == (2, 800)
    xmtag.save_audio(tmp_path / "vocals.wav", tone(100, SR, 0.1, channels=4), SR)
    with pytest.raises(AudioError, match="channel counts"):
        Stems.from_folder(tmp_path)
