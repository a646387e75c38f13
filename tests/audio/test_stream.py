"""Streaming reads for long recordings: :func:`xmtag.audio.stream_audio` and the streamed ``load_audio``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from xmtag.audio import load_audio, resample, stream_audio, to_mono
from xmtag.errors import AudioError

REPO = Path(__file__).resolve().parents[2]


def _music(seconds: float, sr: int = 44100, seed: int = 0) -> np.ndarray:
    """Stereo test audio: two detuned tones with a seeded noise floor, ``(samples, 2)``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    left = 0.4 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.size)
    right = 0.3 * np.sin(2 * np.pi * 331 * t) + 0.01 * rng.standard_normal(t.size)
    return np.stack([left, right], axis=1).astype(np.float32)


@pytest.mark.parametrize(("sr", "mono"), [(16000, True), (22050, False), (None, True), (None, False)])
def test_stream_blocks_concatenate_to_load_audio(tmp_path, sr, mono):
    path = tmp_path / "song.flac"
    sf.write(path, _music(7.3), 44100, subtype="PCM_24")
    whole, rate = load_audio(path, sr=sr, mono=mono)
    stream = stream_audio(path, sr=sr, mono=mono, block=12_345)
    blocks = list(stream)
    assert len(blocks) > 5 and all(b.dtype == np.float32 for b in blocks)
    assert stream.sr == rate and stream.channels == whole.shape[0]
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), whole)
    assert abs(stream.frames - whole.shape[1]) <= 1
    assert next(iter(stream)).shape == blocks[0].shape  # a stream can be read again


def test_streamed_load_audio_matches_the_whole_file_resample(tmp_path):
    """load_audio(sr=, mono=) now reads block by block; the samples are those of the one-shot path."""
    y = _music(5.0)
    path = tmp_path / "song.wav"
    sf.write(path, y, 44100, subtype="FLOAT")
    expected = resample(to_mono(np.ascontiguousarray(y.T)), 44100, 16000)
    got, _ = load_audio(path, sr=16000, mono=True)
    np.testing.assert_array_equal(got, expected)
    assert got.flags.c_contiguous


def test_stream_errors_name_the_file(tmp_path):
    y = _music(3.0)
    y[100_000, 1] = np.nan
    bad = tmp_path / "nan.wav"
    sf.write(bad, y, 44100, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav.*NaN"):
        list(stream_audio(bad, sr=16000, mono=True))
    with pytest.raises(AudioError, match="nan.wav"):
        load_audio(bad, sr=16000, mono=True)
    cut = tmp_path / "cut.wav"
    sf.write(cut, _music(3.0), 44100, subtype="PCM_16")
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match=r"cut\.wav.*truncated"):
        stream_audio(cut, sr=16000, mono=True)
    with pytest.raises(AudioError, match="sr"):
        stream_audio(cut, sr=0)


def test_stream_of_a_container(tmp_path):
    av = pytest.importorskip("av", reason="PyAV comes with the [speech] extra")
    path = tmp_path / "talk.m4a"
    y = _music(4.0, sr=48000).T
    with av.open(str(path), "w") as c:
        a = c.add_stream("aac", rate=48000)
        a.layout = "stereo"
        for i in range(0, y.shape[1], 1024):
            fr = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(y[:, i : i + 1024]), format="fltp", layout="stereo"
            )
            fr.sample_rate, fr.pts = 48000, i
            for p in a.encode(fr):
                c.mux(p)
        for p in a.encode():
            c.mux(p)
    whole, _ = load_audio(path, sr=16000, mono=True)
    stream = stream_audio(path, sr=16000, mono=True, block=4000)
    blocks = list(stream)
    assert len(blocks) > 3 and stream.channels == 1 and stream.sr == 16000
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), whole)
    assert stream.frames is not None and abs(stream.frames - whole.shape[1]) < 2048


_PEAK = """
import resource, sys
import numpy as np, soundfile, soxr
from xmtag.audio import load_audio
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
y, sr = load_audio(sys.argv[1], sr=16000, mono=True)
assert y.shape == (1, 600 * 16000), y.shape
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def test_ten_minutes_load_in_bounded_memory(tmp_path):
    """A 10-minute stereo 44.1-kHz file read for a tagger or Whisper (16 kHz mono) adds at most
    110 MB of peak memory: the 38 MB of output and a few blocks. The whole-file read of xmtag
    0bde8d5 (the file at its own rate, then its mono mix, then the resampled copy) added 305 MB."""
    path = tmp_path / "ten_minutes.wav"
    sr = 44100
    with sf.SoundFile(path, "w", sr, 2, subtype="PCM_16") as fh:
        block = _music(30.0)
        for _ in range(20):
            fh.write(block)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_PEAK), str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    added_mb = float(out.stdout.strip().splitlines()[-1])
    assert added_mb < 110, f"reading 10 minutes added {added_mb:.0f} MB of peak memory"
