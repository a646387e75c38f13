"""Hostile corpus: stem folders and stem arrays (missing, duplicated, mismatched, broken files,
mixtures that are not the sum of the stems) and argument checks."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf
from hostile_support import make_tone

import xmtag
from xmtag.errors import AudioError, AudioFileNotFoundError, XmtagError
from xmtag.separation import MixtureWarning
from xmtag.separation._stems import RESIDUAL_WARN_DB


def _folder(tmp_path, files: dict, sr=8000, subtype="FLOAT"):
    d = tmp_path / "song"
    d.mkdir(exist_ok=True)
    for name, y in files.items():
        sf.write(str(d / name), np.asarray(y).T, sr, subtype=subtype)
    return d


def _two(tmp_path, **extra):
    d, b = make_tone(110, channels=2), make_tone(220, channels=2)
    return _folder(tmp_path, {"drums.wav": d, "bass.wav": b, **extra}), d, b


# ------------------------------------------------------------------------ folder structure
def test_empty_folder(tmp_path):
    (tmp_path / "song").mkdir()
    with pytest.raises(AudioError, match=r"holds no stem files.*found: nothing.*Put one file per stem"):
        xmtag.Stems.from_folder(tmp_path / "song")


def test_only_a_mixture(tmp_path):
    d = _folder(tmp_path, {"mixture.wav": make_tone()})
    with pytest.raises(AudioError, match=r"no stem files .*; only a mixture"):
        xmtag.Stems.from_folder(d)


def test_two_files_for_one_stem(tmp_path):
    d = _folder(tmp_path, {"drums.wav": make_tone(), "drums.flac": make_tone()}, subtype="PCM_16")
    with pytest.raises(AudioError, match=r"two files for 'drums': drums\.flac and drums\.wav\. Keep one"):
        xmtag.Stems.from_folder(d)


def test_requested_stem_missing(tmp_path):
    d, _, _ = _two(tmp_path)
    with pytest.raises(AudioError, match=r"has no file for \['vocals'\]; it has \['bass', 'drums'\]"):
        xmtag.Stems.from_folder(d, names=["drums", "vocals"])


def test_folder_is_a_file_or_missing(tmp_path):
    (tmp_path / "song.wav").write_bytes(b"x")
    with pytest.raises(AudioFileNotFoundError, match=r"is a file, not a folder of stems.*Separator"):
        xmtag.Stems.from_folder(tmp_path / "song.wav")
    with pytest.raises(AudioFileNotFoundError, match=r"does not exist\. Check the path"):
        xmtag.Stems.from_folder(tmp_path / "nope")


def test_hidden_and_non_audio_files_are_ignored(tmp_path):
    d, drums, _bass = _two(tmp_path)
    (d / "._drums.wav").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    (d / "notes.txt").write_text("mix notes")
    (d / "stems.zip").write_bytes(b"PK")
    (d / "old.wav").mkdir()  # a folder with an audio suffix
    s = xmtag.Stems.from_folder(d)
    assert s.names == ["drums", "bass"]
    np.testing.assert_array_equal(s["drums"], drums)


@pytest.mark.parametrize("kind", ["dangling", "fifo", "loop"])
def test_broken_stem_file_is_named_not_skipped(tmp_path, kind):
    d, _, _ = _two(tmp_path)
    p = d / "vocals.wav"
    if kind == "dangling":
        p.symlink_to(d / "gone.wav")
        match = r"Stem file .*vocals\.wav.* symbolic link to .*which does not exist"
    elif kind == "fifo":
        os.mkfifo(p)
        match = r"Stem file .*vocals\.wav.* named pipe"
    else:
        p.symlink_to(p)
        match = r"Stem file .*vocals\.wav.* symbolic link loop"
    with pytest.raises(AudioFileNotFoundError, match=match):
        xmtag.Stems.from_folder(d)


def test_truncated_stem_names_the_file(tmp_path):
    d, _, _ = _two(tmp_path)
    raw = (d / "bass.wav").read_bytes()
    (d / "bass.wav").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(AudioError, match=r"bass\.wav.*is truncated"):
        xmtag.Stems.from_folder(d)


def test_nan_in_a_stem_names_the_file(tmp_path):
    bad = make_tone()
    bad[0, 7] = np.nan
    d = _folder(tmp_path, {"drums.wav": make_tone(), "bass.wav": bad})
    with pytest.raises(AudioError, match=r"bass\.wav.*NaN or infinite samples \(first at sample 7\)"):
        xmtag.Stems.from_folder(d)


# ------------------------------------------------------------------------ mismatches
def test_different_rates_say_how_to_fix_in_python_and_on_the_command_line(tmp_path):
    d = tmp_path / "song"
    d.mkdir()
    sf.write(str(d / "drums.wav"), make_tone(sr=8000)[0], 8000)
    sf.write(str(d / "bass.wav"), make_tone(sr=16000)[0], 16000)
    with pytest.raises(AudioError, match=r"different sample rates .*Pass sr= \(command line: --sr 44100\)"):
        xmtag.Stems.from_folder(d)
    s = xmtag.Stems.from_folder(d, sr=8000)
    assert s.sr == 8000 and s.n_samples == 4000


def test_channel_counts_that_cannot_be_broadcast(tmp_path):
    d = _folder(tmp_path, {"drums.wav": make_tone(channels=2), "bass.wav": make_tone(channels=6)})
    with pytest.raises(AudioError, match=r"different channel counts \(drums: 2, bass: 6\)"):
        xmtag.Stems.from_folder(d)


def test_six_channel_stems_load_with_distinct_channels(tmp_path):
    d = _folder(tmp_path, {"drums.wav": make_tone(channels=6), "bass.wav": make_tone(220, channels=6)})
    s = xmtag.Stems.from_folder(d)
    assert s.n_channels == 6
    np.testing.assert_array_equal(s["drums"], make_tone(channels=6))


def test_lengths_too_far_apart(tmp_path):
    d = _folder(tmp_path, {"drums.wav": make_tone(seconds=1.0), "bass.wav": make_tone(seconds=0.5)})
    with pytest.raises(AudioError, match=r"differ in length by 0\.500 s .*raise max_pad"):
        xmtag.Stems.from_folder(d)


@pytest.mark.parametrize("max_pad", [float("nan"), -0.1, float("inf"), "0.05", None])
def test_bad_max_pad(max_pad):
    with pytest.raises(AudioError, match=r"max_pad \(seconds\) must be a finite number >= 0"):
        xmtag.Stems({"a": make_tone()}, sr=8000, max_pad=max_pad)


@pytest.mark.parametrize("sr", [0, -1, 8000.5, "8000"])
def test_bad_folder_rate(tmp_path, sr):
    d, _, _ = _two(tmp_path)
    with pytest.raises(AudioError, match=r"from_folder\(\): sr \(Hz\) must be a positive integer"):
        xmtag.Stems.from_folder(d, sr=sr)


# ------------------------------------------------------------------------ the mixture file
def test_mixture_that_is_the_sum_is_quiet(tmp_path, recwarn):
    d, drums, bass = _two(tmp_path)
    sf.write(str(d / "mixture.wav"), (drums + bass).T, 8000, subtype="FLOAT")
    s = xmtag.Stems.from_folder(d)
    assert s.has_mixture and s.residual_db < -100
    assert not [w for w in recwarn if issubclass(w.category, MixtureWarning)]


def test_mixture_that_is_not_the_sum_warns_with_its_level(tmp_path):
    d, drums, bass = _two(tmp_path)
    other = make_tone(880, channels=2)
    sf.write(str(d / "mixture.wav"), (drums + bass + other).T, 8000, subtype="FLOAT")
    want = 10 * np.log10(np.sum(other.astype(np.float64) ** 2) / np.sum((drums + bass + other) ** 2.0))
    with pytest.warns(MixtureWarning, match=r"mixture\.wav is not the sum of the stems") as rec:
        s = xmtag.Stems.from_folder(d)
    assert s.residual_db == pytest.approx(want, abs=0.01) and s.residual_db > RESIDUAL_WARN_DB
    msg = str(rec[0].message)
    assert f"{want:.1f} dB relative to the mixture" in msg and "--mixture sum" in msg


def test_mixture_sum_ignores_the_file(tmp_path, recwarn):
    d, drums, bass = _two(tmp_path)
    sf.write(str(d / "mixture.wav"), (3 * drums).T, 8000, subtype="FLOAT")
    s = xmtag.Stems.from_folder(d, mixture="sum")
    assert not s.has_mixture and s.residual_db == float("-inf")
    np.testing.assert_array_equal(s.mixture, drums + bass)
    assert not [w for w in recwarn if issubclass(w.category, MixtureWarning)]


def test_mixture_residual_adds_the_difference_as_a_stem(tmp_path):
    d, drums, bass = _two(tmp_path)
    other = make_tone(880, channels=2)
    sf.write(str(d / "mixture.wav"), (drums + bass + other).T, 8000, subtype="FLOAT")
    s = xmtag.Stems.from_folder(d, mixture="residual")
    assert s.names == ["drums", "bass", "residual"]
    np.testing.assert_allclose(s["residual"], other, atol=1e-6)
    assert s.residual_db < -100  # the full coalition is now the file


def test_mixture_residual_needs_a_file_and_a_bad_mode_is_refused(tmp_path):
    d, _, _ = _two(tmp_path)
    with pytest.raises(AudioError, match=r"no mixture file, so mixture='residual'"):
        xmtag.Stems.from_folder(d, mixture="residual")
    with pytest.raises(XmtagError, match=r"mixture must be one of 'file', 'sum', 'residual'; got 'mix'"):
        xmtag.Stems.from_folder(d, mixture="mix")


def test_cli_mixture_flag_reaches_the_folder_reader(tmp_path, monkeypatch):
    d, drums, _bass = _two(tmp_path)
    sf.write(str(d / "mixture.wav"), (3 * drums).T, 8000, subtype="FLOAT")
    from xmtag.cli import build_parser
    from xmtag.cli import explain as cli_explain

    seen = {}

    def fake_explain(source, **kw):
        seen["source"] = source
        raise XmtagError("stop here")

    import xmtag.pipeline

    monkeypatch.setattr(xmtag.pipeline, "explain", fake_explain)
    args = build_parser().parse_args(["explain", str(d), "--mixture", "sum", "--out", str(tmp_path / "o")])
    with pytest.raises(XmtagError, match="stop here"):
        cli_explain.run(args)
    assert isinstance(seen["source"], xmtag.Stems) and not seen["source"].has_mixture


def test_mixture_residual_with_a_stem_already_named_residual(tmp_path):
    d, drums, bass = _two(tmp_path)
    sf.write(str(d / "residual.wav"), drums.T, 8000, subtype="FLOAT")
    sf.write(str(d / "mixture.wav"), (3 * drums + bass).T, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"already has a stem named 'residual'; rename it"):
        xmtag.Stems.from_folder(d, mixture="residual")
