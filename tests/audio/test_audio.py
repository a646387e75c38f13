from __future__ import annotations

import os
import stat
import sys

import numpy as np
import pytest
import soundfile as sf

import xmtag
from conftest import tone
from xmtag.audio import check_waveform, resample, to_mono
from xmtag.errors import AudioError, AudioFileNotFoundError, OutputError, XmtagError


# ---------------------------------------------------------------- good input
@pytest.mark.parametrize("channels", [1, 2, 6, 8])
def test_roundtrip_channels(tmp_path, channels):
    y = tone(sr=8000, seconds=0.25, channels=channels) * np.linspace(0.2, 1, channels)[:, None]
    path = xmtag.save_audio(tmp_path / "x.wav", y, 8000)
    z, sr = xmtag.load_audio(path)
    assert sr == 8000 and z.dtype == np.float32 and z.shape == (channels, 2000)
    np.testing.assert_array_equal(z, y.astype(np.float32))  # float wav is lossless


@pytest.mark.parametrize("sr", [8000, 22050, 44100, 96000])
@pytest.mark.parametrize("subtype,tol", [("PCM_16", 2**-15), ("PCM_24", 2**-23), ("FLOAT", 0)])
def test_rates_and_subtypes(tmp_path, sr, subtype, tol):
    y = tone(sr=sr, seconds=0.1)
    path = xmtag.save_audio(tmp_path / "x.flac" if subtype != "FLOAT" else tmp_path / "x.wav", y, sr, subtype)
    z, got = xmtag.load_audio(path)
    assert got == sr
    assert np.max(np.abs(z - y)) <= tol


@pytest.mark.parametrize("ext", [".ogg", ".mp3"])
def test_lossy_formats_read_back(tmp_path, ext):
    y = tone(sr=44100, seconds=1.0, channels=2)
    path = xmtag.save_audio(tmp_path / f"x{ext}", y, 44100)
    z, sr = xmtag.load_audio(path)
    assert sr == 44100 and z.shape[0] == 2
    n = min(z.shape[1], y.shape[1])
    assert abs(z.shape[1] - y.shape[1]) < 3000  # mp3 adds encoder delay/padding
    # energy is preserved to within a dB by a lossy codec
    e_in, e_out = np.mean(y[:, :n] ** 2), np.mean(z[:, :n] ** 2)
    assert abs(10 * np.log10(e_out / e_in)) < 1.0


def test_one_sample(tmp_path):
    path = xmtag.save_audio(tmp_path / "one.wav", np.array([[0.25]], np.float32), 16000)
    z, _ = xmtag.load_audio(path)
    assert z.shape == (1, 1) and z[0, 0] == np.float32(0.25)


def test_mono_is_channel_mean(tmp_path):
    y = np.stack([tone(440, 8000, 0.1)[0], tone(660, 8000, 0.1)[0] * 0.3])
    path = xmtag.save_audio(tmp_path / "s.wav", y, 8000)
    z, _ = xmtag.load_audio(path, mono=True)
    assert z.shape == (1, 800)
    np.testing.assert_allclose(z[0], y.mean(0), atol=1e-7)


def test_resample_band_limited(tmp_path):
    # a 1 kHz tone survives 44.1k -> 16k -> its frequency and level stay, length scales exactly
    sr = 44100
    y = tone(1000, sr, 1.0, channels=2)
    path = xmtag.save_audio(tmp_path / "t.wav", y, sr)
    z, got = xmtag.load_audio(path, sr=16000)
    assert got == 16000 and z.shape == (2, 16000)
    spec = np.abs(np.fft.rfft(z[0]))
    assert np.argmax(spec) == 1000  # 1-Hz bins over 1 s
    assert abs(np.sqrt(np.mean(z[0, 1000:-1000] ** 2)) - 0.5 / np.sqrt(2)) < 1e-3
    # a tone above the new Nyquist is removed, not aliased
    hi = resample(tone(12000, sr, 1.0), sr, 16000)
    assert np.sqrt(np.mean(hi[0, 1000:-1000] ** 2)) < 1e-3


def _distinct_tones(sr: int, seconds: float, freqs=(440.0, 1000.0, 2500.0)) -> np.ndarray:
    """One known tone per channel, each at its own level: channels are never alike."""
    t = np.arange(int(sr * seconds)) / sr
    return np.stack([(0.6 / (c + 1)) * np.sin(2 * np.pi * f * t) for c, f in enumerate(freqs)]).astype(
        np.float32
    )


@pytest.mark.parametrize(("orig", "target"), [(44100, 16000), (16000, 44100), (48000, 22050)])
def test_resample_every_channel_on_its_own_against_soxr(orig, target):
    """Independent oracle: soxr called on each channel directly (not xmtag.audio.resample)."""
    import soxr

    y = _distinct_tones(orig, 0.5)
    got = resample(y, orig, target)
    assert got.shape == (3, int(round(y.shape[1] * target / orig)))
    for c in range(3):
        want = soxr.resample(y[c].astype(np.float64), orig, target, quality="HQ")
        n = min(len(want), got.shape[1])
        np.testing.assert_allclose(got[c, :n], want[:n], atol=2e-6)
    # known tones: each channel keeps its own frequency and level
    for c, f in enumerate((440.0, 1000.0, 2500.0)):
        spec = np.abs(np.fft.rfft(got[c] * np.hanning(got.shape[1])))
        assert abs(np.argmax(spec) * target / got.shape[1] - f) <= 2 * target / got.shape[1]
        rms = np.sqrt(np.mean(got[c, 500:-500] ** 2))
        assert rms == pytest.approx(0.6 / (c + 1) / np.sqrt(2), rel=2e-3)


def test_load_mono_resampled_is_the_channel_mean_then_soxr(tmp_path):
    import soxr

    y = _distinct_tones(44100, 0.5)
    path = xmtag.save_audio(tmp_path / "three.wav", y, 44100)
    z, sr = xmtag.load_audio(path, sr=16000, mono=True)
    want = soxr.resample(y.astype(np.float64).mean(0), 44100, 16000, quality="HQ")
    assert sr == 16000 and z.shape == (1, 8000)
    np.testing.assert_allclose(z[0], want[:8000], atol=2e-6)
    assert not np.allclose(z[0], soxr.resample(y[0].astype(np.float64), 44100, 16000)[:8000], atol=1e-2)


def test_resample_keeps_1d():
    assert resample(np.zeros(441, np.float32), 44100, 8000).shape == (80,)


def test_to_mono_shapes():
    assert to_mono(np.zeros(5)).shape == (1, 5)
    assert to_mono(np.ones((3, 5))).shape == (1, 5)


@pytest.mark.slow
def test_one_hour_file_reads_without_double_memory(tmp_path):
    """A 1-h mono 8 kHz file loads; peak extra memory stays near one copy of the result."""
    import tracemalloc

    sr, n = 8000, 8000 * 3600
    path = tmp_path / "hour.wav"
    with sf.SoundFile(path, "w", sr, 1, subtype="PCM_16") as fh:
        block = (0.1 * np.sin(np.arange(sr * 60) * 0.01)).astype(np.float32)
        for _ in range(60):
            fh.write(block)
    tracemalloc.start()
    y, _ = xmtag.load_audio(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert y.shape == (1, n)
    assert peak < 1.2 * y.nbytes


# ---------------------------------------------------------------- bad input
def _assert_clear(exc: BaseException, path) -> None:
    assert isinstance(exc, XmtagError)
    assert str(path) in str(exc)


def test_missing_path(tmp_path):
    with pytest.raises(AudioFileNotFoundError, match=r"does not exist\. Check the path") as ei:
        xmtag.load_audio(tmp_path / "nope.wav")
    _assert_clear(ei.value, tmp_path / "nope.wav")
    assert isinstance(ei.value, FileNotFoundError)


def test_directory(tmp_path):
    with pytest.raises(AudioFileNotFoundError, match="directory") as ei:
        xmtag.load_audio(tmp_path)
    _assert_clear(ei.value, tmp_path)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(AudioError, match="empty") as ei:
        xmtag.load_audio(p)
    _assert_clear(ei.value, p)


def test_text_named_wav(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("this is not audio\n" * 20)
    with pytest.raises(AudioError, match="Cannot read") as ei:
        xmtag.load_audio(p)
    _assert_clear(ei.value, p)


def test_random_bytes_flac(tmp_path, rng):
    p = tmp_path / "noise.flac"
    p.write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(AudioError, match=r"Cannot read .* as audio.*Supported: wav, flac") as ei:
        xmtag.load_audio(p)
    _assert_clear(ei.value, p)


def test_truncated_flac(tmp_path, rng):
    full = tmp_path / "full.flac"
    xmtag.save_audio(full, (0.1 * rng.standard_normal((2, 44100 * 2))).astype(np.float32), 44100)
    p = tmp_path / "cut.flac"
    data = full.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="corrupt or truncated|truncated") as ei:
        xmtag.load_audio(p)
    _assert_clear(ei.value, p)


def test_zero_samples(tmp_path):
    p = tmp_path / "zero.wav"
    sf.write(p, np.zeros((0, 2), np.float32), 44100)
    with pytest.raises(AudioError, match="zero samples") as ei:
        xmtag.load_audio(p)
    _assert_clear(ei.value, p)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_samples_in_file(tmp_path, bad):
    y = tone(sr=8000, seconds=0.1)
    y[0, 123] = bad
    p = tmp_path / "nan.wav"
    sf.write(p, y.T, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or infinite.*sample 123") as ei:
        xmtag.load_audio(p)
    _assert_clear(ei.value, p)


def test_nonfinite_samples_on_save(tmp_path):
    y = tone(sr=8000, seconds=0.1)
    y[0, 5] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        xmtag.save_audio(tmp_path / "x.wav", y, 8000)
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_unwritable_output_dir_nonroot(tmp_path):
    """Root can write anywhere, so when run as root the check runs in a child as user nobody."""
    import shutil
    import subprocess

    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    if os.geteuid() != 0:
        with pytest.raises(OutputError, match=r"Permission denied.*writable location") as ei:
            xmtag.save_audio(d / "x.wav", tone(), 16000)
        _assert_clear(ei.value, d / "x.wav")
        return
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv to drop privileges")
    for p in d.parents:
        if str(p) in ("/", "/tmp"):
            break
        p.chmod(p.stat().st_mode | stat.S_IXOTH)
    code = (
        "import numpy as np, xmtag\n"
        f"try:\n    xmtag.save_audio({str(d / 'x.wav')!r}, np.zeros(100, np.float32), 16000)\n"
        "except xmtag.errors.OutputError as e:\n    print('OutputError:', e)\n"
    )
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": repo},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "OutputError:" in done.stdout and str(d / "x.wav") in done.stdout
    assert "Permission denied" in done.stdout and "writable location" in done.stdout


def test_unwritable_output_path(tmp_path):
    # a missing folder and a path through a regular file are unwritable even for root
    with pytest.raises(OutputError, match="does not exist") as ei:
        xmtag.save_audio(tmp_path / "missing" / "x.wav", tone(), 16000)
    _assert_clear(ei.value, tmp_path / "missing" / "x.wav")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"'.*file' is not a folder"):
        xmtag.save_audio(tmp_path / "file" / "x.wav", tone(), 16000)
    with pytest.raises(OutputError, match="directory"):
        xmtag.save_audio(tmp_path, tone(), 16000)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_unwritable_output_even_for_root():
    with pytest.raises(OutputError, match="/proc/x.wav"):
        xmtag.save_audio("/proc/x.wav", tone(), 16000)


def test_unknown_extension(tmp_path):
    with pytest.raises(OutputError, match="unknown audio extension"):
        xmtag.save_audio(tmp_path / "x.xyz", tone(), 16000)


def test_failed_save_keeps_existing_file(tmp_path):
    p = tmp_path / "keep.wav"
    xmtag.save_audio(p, tone(), 16000)
    before = p.read_bytes()
    bad = tone()
    bad[0, 0] = np.inf
    with pytest.raises(AudioError, match=r"keep\.wav.*NaN or infinite samples"):
        xmtag.save_audio(p, bad, 16000)
    assert p.read_bytes() == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["keep.wav"]


@pytest.mark.parametrize(
    "arr,match",
    [
        (np.zeros((2, 3, 4), np.float32), "dimensions"),
        (np.zeros((2, 0), np.float32), "zero samples"),
        (np.zeros((44100, 2), np.float32), r"\(samples, channels\)"),
        (np.zeros((1, 10), np.int16), "integer"),
        (np.zeros((1, 10), np.complex64), "real-valued"),
    ],
)
def test_check_waveform_rejects(arr, match):
    with pytest.raises(AudioError, match=match):
        check_waveform(arr, "clip")
