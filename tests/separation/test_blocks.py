"""Separating a long recording block by block (`separate_blocks`) and stems on disk (`DiskStems`).

The separators here are small deterministic code-path models (no weights); the Spleeter test
uses the real packaged weights on a real song.
"""

from __future__ import annotations

import gc
import glob
import os
import pickle
import shutil

import numpy as np
import pytest

import xmtag
from xmtag.errors import AudioError, OutputError
from xmtag.explanation import stems_digest, waveform_envelope
from xmtag.separation import DiskStems, Separator, separate_blocks

SR = 8000


class ChunkSeparator:
    """Stems from independent chunks of ``chunk`` samples, like Spleeter's network chunks:
    ``loud = x * rms(chunk)`` and ``rest = x - loud - leak * x`` (``leak`` leaves a residual)."""

    samplerate = None  # keeps the input's rate
    sources = ("loud", "rest")

    def __init__(self, chunk: int | None = 4000, leak: float = 0.0, residual="auto"):
        self.block_frames, self.leak, self.residual = chunk, leak, residual
        self.progress, self.calls = False, []  # shared with the quiet copy that separates the blocks

    def separate(self, y, sr=None):
        self.calls.append(y.shape[1])
        y = np.asarray(y, np.float32)
        step = self.block_frames or y.shape[1]
        loud = np.empty_like(y)
        for a in range(0, y.shape[1], step):
            part = y[:, a : a + step]
            loud[:, a : a + step] = part * np.sqrt((part**2).mean())
        rest = y - loud - self.leak * y
        return xmtag.Stems({"loud": loud, "rest": rest}, sr=sr, mixture=y)


class SmoothSeparator(ChunkSeparator):
    """``low`` = a 201-tap moving average, ``high`` = the rest: each output sample hears 100
    samples on each side (a separator with local context and no chunks)."""

    sources = ("low", "high")

    def __init__(self):
        super().__init__(chunk=None)

    def separate(self, y, sr=None):
        y = np.asarray(y, np.float32)
        k = np.ones(201, np.float32) / 201
        low = np.stack([np.convolve(c, k, mode="same") for c in y]).astype(np.float32)
        return xmtag.Stems({"low": low, "high": y - low}, sr=sr, mixture=y)


@pytest.fixture
def song(tmp_path):
    """10.3 s of stereo audio whose loudness changes over time (so chunk alignment matters)."""
    rng = np.random.default_rng(0)
    n = int(10.3 * SR)
    env = 0.2 + 0.8 * np.abs(np.sin(np.linspace(0, 7, n)))
    y = (rng.normal(0, 0.2, (2, n)) * env).astype(np.float32)
    path = tmp_path / "song.wav"
    xmtag.save_audio(path, y, SR)
    return path, y


def _whole(sep, y):
    return sep.separate(y, sr=SR)


def test_chunked_separator_gives_the_whole_file_stems(song, tmp_path):
    path, y = song
    sep = ChunkSeparator(chunk=4000)
    disk = separate_blocks(
        sep, path, tmp_path / "stems", block_seconds=1.2, margin_seconds=0.3, progress=False
    )
    whole = _whole(sep, y)
    assert isinstance(disk, DiskStems) and disk.names == ["loud", "rest"]
    assert disk.n_samples == y.shape[1] and disk.sr == SR and disk.n_channels == 2
    for name in whole.names:
        np.testing.assert_allclose(disk[name], whole[name], atol=1e-6)
    assert len(sep.calls) > 5  # it was really cut into blocks
    assert disk.residual_db < -100  # loud + rest is the input


def test_margins_give_a_local_separator_its_context(song):
    path, y = song
    sep = SmoothSeparator()
    whole = _whole(sep, y)
    good = separate_blocks(sep, path, block_seconds=1.0, margin_seconds=0.05, progress=False)
    np.testing.assert_allclose(good["low"], whole["low"], atol=1e-5)
    bare = separate_blocks(sep, path, block_seconds=1.0, margin_seconds=0.0, progress=False)
    assert np.abs(bare["low"] - whole["low"]).max() > 1e-3  # without margins the edges differ


def test_short_recording_is_one_block(song):
    path, y = song
    sep = ChunkSeparator(chunk=None)
    disk = separate_blocks(sep, path, block_seconds=60, progress=False)
    assert len(sep.calls) == 1
    np.testing.assert_allclose(disk["loud"], _whole(sep, y)["loud"], atol=1e-6)


@pytest.mark.parametrize(
    ("leak", "policy", "kept"), [(0.1, "auto", True), (0.1, False, False), (0.0, "auto", False)]
)
def test_residual_policy_on_the_whole_recording(song, leak, policy, kept):
    path, y = song
    sep = ChunkSeparator(leak=leak, residual=policy)
    disk = separate_blocks(sep, path, block_seconds=2.0, margin_seconds=0.5, progress=False)
    assert ("residual" in disk.names) is kept
    assert sep.residual == policy  # the caller's separator is left as it was
    if leak:
        assert disk.residual_db == pytest.approx(_whole(sep, y).residual_db, abs=0.01)
    if kept:
        np.testing.assert_allclose(disk["residual"], 0.1 * y, atol=1e-6)


def test_temporary_stems_are_deleted_with_the_object(song):
    path, _ = song
    disk = separate_blocks(ChunkSeparator(), path, block_seconds=2.0, progress=False)
    folder = disk.folder
    assert folder.is_dir()
    kept = separate_blocks(ChunkSeparator(), path, block_seconds=2.0, progress=False)
    kept_folder = kept.keep()
    del disk, kept
    gc.collect()
    assert not folder.exists()
    assert kept_folder.is_dir()
    shutil.rmtree(kept_folder)


def test_failures_leave_no_temporary_folder(song, monkeypatch, tmp_path):
    path, _ = song
    before = set(glob.glob(os.path.join(str(tmp_path), "xmtag-stems-*")))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)

    class Broken(ChunkSeparator):
        def separate(self, y, sr=None):
            if self.calls:
                raise AudioError("the model failed")
            return super().separate(y, sr)

    with pytest.raises(AudioError, match=r"song\.wav \(block at 2\.0 s\): the model failed"):
        separate_blocks(Broken(chunk=None), path, block_seconds=2.0, margin_seconds=0.0, progress=False)
    assert set(glob.glob(os.path.join(str(tmp_path), "xmtag-stems-*"))) == before
    with pytest.raises(OutputError, match="TMPDIR"):
        monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10, 10, 10))
        separate_blocks(ChunkSeparator(), path, progress=False)
    assert set(glob.glob(os.path.join(str(tmp_path), "xmtag-stems-*"))) == before


def test_a_missing_recording_is_named(tmp_path):
    with pytest.raises(xmtag.errors.AudioFileNotFoundError, match="nothing.wav"):
        separate_blocks(ChunkSeparator(), tmp_path / "nothing.wav", progress=False)


def test_disk_stems_read_like_stems_in_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(xmtag.separation._disk, "BLOCK_FRAMES", 1000)  # many blocks per stem
    rng = np.random.default_rng(1)
    mem = xmtag.Stems({"a": rng.normal(0, 0.3, (2, 9001)), "b": rng.normal(0, 0.1, (2, 9001))}, sr=SR)
    disk = DiskStems(mem.save(tmp_path))
    assert disk.names == mem.names and disk.n_samples == 9001 and disk.duration == mem.duration
    np.testing.assert_array_equal(disk.read("a", 100, 4000), mem.read("a", 100, 4000))
    blocks = list(disk.mix_blocks(["a", "b"], 10, 9001, block=1000))
    assert [b.shape[1] for b in blocks] == [1000] * 8 + [991]
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), mem.mixture[:, 10:])
    assert disk.stem_digest("b") == mem.stem_digest("b")
    assert stems_digest(disk) == stems_digest(mem)  # the same cache keys and attach checks
    np.testing.assert_array_equal(waveform_envelope(disk), waveform_envelope(mem))
    np.testing.assert_array_equal(disk.subset(["b"])["b"], mem["b"])
    copy = DiskStems(disk.save(tmp_path / "copy"))
    np.testing.assert_array_equal(copy["a"], mem["a"])
    again = pickle.loads(pickle.dumps(disk))
    assert again.names == disk.names and again.files == disk.files


def test_disk_stems_refuse_files_that_do_not_match(tmp_path):
    xmtag.save_audio(tmp_path / "a.wav", np.zeros((2, 800)), SR)
    xmtag.save_audio(tmp_path / "b.wav", np.zeros((2, 700)), SR)
    with pytest.raises(AudioError, match=r"a\.wav: 8000 Hz, 2 ch, 800 frames, b\.wav: 8000 Hz, 2 ch, 700"):
        DiskStems({"a": tmp_path / "a.wav", "b": tmp_path / "b.wav"})
    with pytest.raises(xmtag.errors.AudioFileNotFoundError, match="c.wav"):
        DiskStems({"a": tmp_path / "a.wav", "c": tmp_path / "c.wav"})


def test_disk_stems_say_when_a_file_shrank(tmp_path):
    paths = xmtag.Stems({"a": np.zeros((1, 8000))}, sr=SR).save(tmp_path)
    disk = DiskStems(paths)
    xmtag.save_audio(paths["a"], np.zeros((1, 4000)), SR)
    with pytest.raises(AudioError, match="shorter than announced"):
        disk.read("a", 0, 8000)


@pytest.mark.slow
def test_spleeter_by_whole_chunks_equals_one_pass(tmp_path):
    """Real Spleeter weights on a real song: blocks cut at whole network chunks give the stems of
    one pass over the file (to float rounding)."""
    song = sorted(glob.glob("/usr/share/games/fretsonfire/data/songs/*/*/song.ogg"))
    if not song:
        pytest.skip("the Frets on Fire songs are not installed")
    y, sr = xmtag.load_audio(song[0])
    y = y[:, : 40 * sr]
    clip = tmp_path / "clip.wav"
    xmtag.save_audio(clip, y, sr)
    sep = Separator("spleeter:2stems", progress=False, cache=False)
    whole = sep.separate(clip)
    disk = separate_blocks(sep, clip, block_seconds=12, margin_seconds=1, progress=False)
    energy = float((whole.mixture.astype(np.float64) ** 2).sum())
    for name in whole.names:
        err = float(((disk[name] - whole[name]).astype(np.float64) ** 2).sum())
        assert 10 * np.log10(err / energy + 1e-30) < -80, name
