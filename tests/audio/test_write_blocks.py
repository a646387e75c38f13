"""Writing audio given as blocks (`save_blocks`, `encode_blocks`): the same files as whole arrays."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from xmtag.audio import encode_audio, encode_blocks, save_audio, save_blocks
from xmtag.errors import AudioError


def _blocks(y, step):
    return (y[:, a : a + step] for a in range(0, y.shape[1], step))


@pytest.mark.parametrize("fmt", ["mp3", "flac", "wav"])
def test_encode_blocks_equals_encode_audio_with_normalisation(fmt):
    y = np.random.default_rng(0).uniform(-2.0, 2.0, (2, 20000)).astype(np.float32)  # peak ~2: scaled
    whole = encode_audio(y, 22050, fmt, normalize=True)
    assert encode_blocks(lambda: _blocks(y, 3001), 22050, 2, fmt, normalize=True) == whole
    if fmt != "mp3":  # lossless: the peak is scaled to 1 (MP3's noise overshoots it)
        assert 0.99 < np.abs(sf.read(io.BytesIO(whole))[0]).max() <= 1.0


def test_encode_blocks_resamples_for_mp3_and_downmixes():
    y = np.random.default_rng(1).uniform(-0.5, 0.5, (6, 19000)).astype(np.float32)  # 5.1 at 19 kHz
    data = encode_blocks(lambda: _blocks(y, 4000), 19000, 6, "mp3")
    info = sf.info(io.BytesIO(data))
    assert info.channels == 2 and info.samplerate == 44100
    assert abs(info.frames - 19000 * 44100 / 19000) < 3000  # MP3 pads a frame or so


def test_save_blocks_writes_what_save_audio_writes(tmp_path):
    y = np.random.default_rng(2).uniform(-0.5, 0.5, (2, 10000)).astype(np.float32)
    a = save_audio(tmp_path / "a.flac", y, 8000)
    b = save_blocks(tmp_path / "b.flac", _blocks(y, 999), 8000, 2)
    np.testing.assert_array_equal(sf.read(a)[0], sf.read(b)[0])


def test_bad_blocks_are_named_and_leave_nothing(tmp_path):
    bad = np.ones((2, 100), np.float32)
    bad[1, 50] = np.nan
    with pytest.raises(AudioError, match=r"x\.wav.*NaN or infinite samples in the block at sample 100"):
        save_blocks(tmp_path / "x.wav", iter([np.zeros((2, 100)), bad]), 8000, 2)
    with pytest.raises(AudioError, match=r"a block of shape \(1, 100\) where \(2, n\)"):
        encode_blocks(lambda: iter([np.zeros((1, 100))]), 8000, 2, "wav")
    assert list(tmp_path.iterdir()) == []
