"""Hostile corpus: broken, odd and unreadable audio files, each with its exact outcome.

Every broken file is made here from a good one (``make_tone``): an ``AudioError`` or
``AudioFileNotFoundError`` whose message names the file and says what to do, or a correct
result (checked against the samples that were written).
"""

from __future__ import annotations

import os
import socket
import struct

import numpy as np
import pytest
import soundfile as sf
from hostile_support import make_tone, run_python

import xmtag
from xmtag.errors import AudioError, AudioFileNotFoundError

FIX = r"(Re-export|re-download|Check the path|Fix|Give the path|Save the stream|copy it)"


def _write(path, y, sr=8000, **kw):
    sf.write(str(path), y.T, sr, **kw)
    return path


def _truncate(path, keep):
    data = path.read_bytes()
    n = keep(len(data)) if callable(keep) else keep
    path.write_bytes(data[:n])
    return path


# ------------------------------------------------------------------------ not audio at all
@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.wav", b"", r"is empty \(0 bytes\)"),
        ("text.wav", b"this is a text file, not audio\n" * 20, "Cannot read .* as audio"),
        ("noise.flac", bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)), "as audio"),
        ("riff-only.wav", b"RIFF\x04\x00\x00\x00WAVE", "as audio"),
        ("html.mp3", b"<html><body>404 Not Found</body></html>", "as audio"),
    ],
)
def test_not_audio(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(AudioError, match=match) as ei:
        xmtag.load_audio(p)
    assert str(p) in str(ei.value)


# ------------------------------------------------------------------------ truncated files
@pytest.mark.parametrize(
    ("ext", "subtype", "keep"),
    [
        ("wav", "PCM_16", lambda n: n // 2),
        ("wav", "PCM_16", lambda n: n - 1),  # one byte short: still truncated
        ("wav", "PCM_16", lambda n: 44),  # the header alone
        ("wav", "FLOAT", lambda n: n // 3),
        ("wav", "PCM_24", lambda n: n - 100),
        ("aiff", "PCM_16", lambda n: n // 2),
        ("aiff", "PCM_24", lambda n: n - 7),
    ],
)
def test_truncated_wav_aiff_data_chunk_is_an_error(tmp_path, ext, subtype, keep):
    p = _truncate(_write(tmp_path / f"cut.{ext}", make_tone(channels=2), subtype=subtype), keep)
    with pytest.raises(AudioError, match=r"is truncated: its header announces \d+ bytes .* Re-export") as ei:
        xmtag.load_audio(p)
    assert str(p) in str(ei.value)


def test_truncated_rf64_is_an_error(tmp_path):
    p = _write(tmp_path / "cut.rf64", make_tone(), format="RF64", subtype="PCM_16")
    p = _truncate(p, lambda n: n // 2)
    with pytest.raises(AudioError, match=r"cut\.rf64.*is truncated"):
        xmtag.load_audio(p)


@pytest.mark.parametrize(("ext", "match"), [("flac", "corrupt or truncated|truncated"), ("mp3", "truncated")])
def test_truncated_compressed_files(tmp_path, ext, match):
    p = _truncate(_write(tmp_path / f"cut.{ext}", make_tone(sr=16000, seconds=1.0)), lambda n: n // 2)
    with pytest.raises(AudioError, match=match) as ei:
        xmtag.load_audio(p)
    assert "cut." in str(ei.value) and "re-export" in str(ei.value).lower()


def test_truncated_ogg_is_never_silently_short(tmp_path):
    p = _truncate(_write(tmp_path / "cut.ogg", make_tone(sr=16000, seconds=1.0)), lambda n: int(n * 0.9))
    with pytest.raises(AudioError, match=r"cut\.ogg.*(malformed|zero samples)"):
        xmtag.load_audio(p)


def test_flac_header_announcing_a_huge_length(tmp_path):
    """A damaged STREAMINFO claims 2**36 frames (512 GiB as float32): an error, not a MemoryError."""
    p = _write(tmp_path / "huge.flac", make_tone(channels=2), subtype="PCM_16")
    raw = bytearray(p.read_bytes())
    assert raw[:4] == b"fLaC"
    field = int.from_bytes(raw[18:26], "big") | ((1 << 36) - 1)  # STREAMINFO's total-samples field
    raw[18:26] = field.to_bytes(8, "big")
    p.write_bytes(bytes(raw))
    assert sf.info(str(p)).frames == (1 << 36) - 1
    with pytest.raises(AudioError, match=r"huge\.flac.*announces 68719476735 frames"):
        xmtag.load_audio(p)


# ------------------------------------------------------------------------ bad samples
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(tmp_path, bad):
    y = make_tone()
    y[0, 123] = bad
    p = _write(tmp_path / "bad.wav", y, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"NaN or infinite samples \(first at sample 123\)") as ei:
        xmtag.load_audio(p)
    assert str(p) in str(ei.value)


def test_zero_frames(tmp_path):
    p = _write(tmp_path / "none.wav", np.zeros((2, 0), np.float32), subtype="PCM_16")
    with pytest.raises(AudioError, match=r"none\.wav.*zero samples"):
        xmtag.load_audio(p)


# ------------------------------------------------------------------------ odd but valid: correct result
def test_flac_named_wav_loads_exactly(tmp_path):
    y = np.round(make_tone(channels=2) * 32767) / 32768
    p = _write(tmp_path / "really-flac.wav", y, format="FLAC", subtype="PCM_16")
    z, sr = xmtag.load_audio(p)
    assert sr == 8000
    np.testing.assert_allclose(z, y, atol=1 / 32768)


def test_wav_with_trailing_chunk_loads_exactly(tmp_path):
    y = make_tone(channels=2)
    p = _write(tmp_path / "tagged.wav", y, subtype="FLOAT")
    with open(p, "ab") as fh:  # a LIST chunk after the data (what taggers and DAWs append)
        fh.write(b"LIST" + struct.pack("<I", 12) + b"INFOISFT\x00\x00\x00\x00")
    z, _ = xmtag.load_audio(p)
    np.testing.assert_array_equal(z, y)


def test_streaming_wav_with_unknown_data_size_loads(tmp_path):
    y = make_tone()
    p = _write(tmp_path / "stream.wav", y, subtype="FLOAT")
    raw = bytearray(p.read_bytes())
    i = raw.index(b"data")
    raw[i + 4 : i + 8] = struct.pack("<I", 0xFFFFFFFF)  # what a pipe-writing encoder leaves
    p.write_bytes(bytes(raw))
    z, _ = xmtag.load_audio(p)
    np.testing.assert_array_equal(z, y)


def test_odd_sized_data_chunk_without_pad_byte_loads(tmp_path):
    y = np.round(make_tone(seconds=0.02)[:, :101] * 127) / 128  # 101 bytes of 8-bit mono
    p = _write(tmp_path / "odd.wav", y, subtype="PCM_U8")
    raw = p.read_bytes()
    i = raw.index(b"data")
    assert struct.unpack("<I", raw[i + 4 : i + 8])[0] == 101
    p.write_bytes(raw[: i + 8 + 101])  # drop the pad byte (and anything after): many writers omit it
    z, _ = xmtag.load_audio(p)
    assert z.shape == (1, 101)
    np.testing.assert_allclose(z, y, atol=1 / 128)


def test_eight_channels_keep_their_own_signals(tmp_path):
    y = make_tone(channels=8)
    z, _ = xmtag.load_audio(_write(tmp_path / "octo.wav", y, subtype="FLOAT"))
    np.testing.assert_array_equal(z, y)


def test_uppercase_extension_spaces_and_unicode_in_the_name(tmp_path):
    y = make_tone()
    p = _write(tmp_path / "My Song – tåke.WAV", y, subtype="FLOAT")
    np.testing.assert_array_equal(xmtag.load_audio(p)[0], y)


def test_symlink_to_audio_loads_the_target(tmp_path):
    y = make_tone()
    target = _write(tmp_path / "real.wav", y, subtype="FLOAT")
    link = tmp_path / "link.wav"
    link.symlink_to(target)
    np.testing.assert_array_equal(xmtag.load_audio(link)[0], y)


# ------------------------------------------------------------------------ arguments
@pytest.mark.parametrize("sr", [0, -16000, float("nan"), 16000.0, "16000", True])
def test_bad_target_rate(tmp_path, sr):
    p = _write(tmp_path / "ok.wav", make_tone())
    with pytest.raises(AudioError, match=r"sr \(target rate in Hz\) must be a positive integer"):
        xmtag.load_audio(p, sr=sr)


# ------------------------------------------------------------------------ paths that are not files
def _missing(tmp_path):
    return tmp_path / "nope.wav", AudioFileNotFoundError, r"does not exist\. Check the path"


def _directory(tmp_path):
    (tmp_path / "dir.wav").mkdir()
    return tmp_path / "dir.wav", AudioFileNotFoundError, r"is a directory, not a file\. Give the path"


def _dangling(tmp_path):
    (tmp_path / "dangling.wav").symlink_to(tmp_path / "gone.wav")
    match = r"symbolic link to .*gone\.wav.*which does not exist"
    return tmp_path / "dangling.wav", AudioFileNotFoundError, match


def _loop(tmp_path):
    (tmp_path / "a.wav").symlink_to(tmp_path / "b.wav")
    (tmp_path / "b.wav").symlink_to(tmp_path / "a.wav")
    return tmp_path / "a.wav", AudioFileNotFoundError, r"symbolic link loop.*Fix the link"


def _fifo(tmp_path):
    os.mkfifo(tmp_path / "pipe.wav")
    return tmp_path / "pipe.wav", AudioFileNotFoundError, r"named pipe \(FIFO\), not a file.*Save the stream"


def _device(tmp_path):
    return "/dev/null", AudioFileNotFoundError, r"'/dev/null' is a device, not a file"


def _socket(tmp_path):
    s = socket.socket(socket.AF_UNIX)
    path = f"/tmp/xmtag-hostile-{os.getpid()}.wav"
    if os.path.exists(path):
        os.unlink(path)
    s.bind(path)
    _socket.keep = (s, path)
    return path, AudioFileNotFoundError, r"is a socket, not a file"


@pytest.mark.parametrize("case", [_missing, _directory, _dangling, _loop, _fifo, _device, _socket])
def test_paths_that_are_not_audio_files(tmp_path, case):
    path, error, match = case(tmp_path)
    try:
        with pytest.raises(error, match=match) as ei:
            xmtag.load_audio(path)
        assert str(path) in str(ei.value)
    finally:
        if case is _socket:
            _socket.keep[0].close()
            os.unlink(_socket.keep[1])


def test_unreadable_file_as_an_unprivileged_user(nobody_dir):
    p = _write(nobody_dir / "secret.wav", make_tone())
    os.chmod(p, 0o000)
    done = run_python(
        "import xmtag\n"
        "from xmtag.errors import AudioFileNotFoundError\n"
        f"try:\n    xmtag.load_audio({str(p)!r})\n"
        "except AudioFileNotFoundError as e:\n    print('ERR', e)\n",
        as_nobody=True,
    )
    assert done.returncode == 0, done.stderr
    assert "ERR" in done.stdout and "secret.wav" in done.stdout
    assert "permission denied" in done.stdout and "chmod +r" in done.stdout


def test_unreachable_folder_as_an_unprivileged_user(nobody_dir):
    inner = nobody_dir / "locked"
    inner.mkdir()
    _write(inner / "song.wav", make_tone())
    os.chmod(inner, 0o000)
    done = run_python(
        "import xmtag\n"
        f"try:\n    xmtag.load_audio({str(inner / 'song.wav')!r})\n"
        "except xmtag.errors.AudioFileNotFoundError as e:\n    print('ERR', e)\n",
        as_nobody=True,
    )
    os.chmod(inner, 0o755)
    assert "ERR" in done.stdout and "permission denied on one of its folders" in done.stdout, done.stderr


def test_fix_hint_in_every_message(tmp_path):
    """One sweep: every error above names what to do (a regression guard on the wording)."""
    msgs = []
    for case in (_missing, _directory, _dangling, _loop, _fifo):
        sub = tmp_path / case.__name__
        sub.mkdir()
        path, error, _ = case(sub)
        with pytest.raises(error) as ei:
            xmtag.load_audio(path)
        msgs.append(str(ei.value))
    assert all(__import__("re").search(FIX, m) for m in msgs), msgs
