"""Video and compressed containers through PyAV (xmtag/_av.py), as load_audio, transcribe and tag see them."""

from __future__ import annotations

import numpy as np
import pytest

from xmtag.audio import load_audio
from xmtag.errors import AudioError

av = pytest.importorskip("av", reason="PyAV comes with the [speech] extra")


def _write(path, *, audio=True, video=True, sr=44100, seconds=1.0, codec="aac", signal=None):
    """A container with a stereo tone (or ``signal``, mono) and/or a few video frames, encoded here."""
    with av.open(str(path), "w") as c:
        if video:
            v = c.add_stream("mpeg4", rate=10)
            v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        if audio:
            a = c.add_stream(codec, rate=sr)
            a.layout = "stereo"
            if signal is None:
                t = np.arange(int(sr * seconds)) / sr
                y = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 660 * t)])
            else:
                y = np.stack([signal, signal])
            y = y.astype(np.float32)
        if video:
            for i in range(int(seconds * 10)):
                frame = av.VideoFrame.from_ndarray(
                    np.full((48, 64, 3), 20 * i % 255, np.uint8), format="rgb24"
                )
                for p in v.encode(frame):
                    c.mux(p)
            for p in v.encode():
                c.mux(p)
        if audio:
            for i in range(0, y.shape[1], 1024):
                fr = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(y[:, i : i + 1024]), format="fltp", layout="stereo"
                )
                fr.sample_rate, fr.pts = sr, i
                for p in a.encode(fr):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path


@pytest.mark.parametrize(
    ("name", "video", "codec", "sr"),
    [
        ("clip.mp4", True, "aac", 44100),
        ("clip.m4a", False, "aac", 44100),
        ("clip.mkv", True, "aac", 48000),
        ("clip.webm", False, "libopus", 48000),
    ],
)
def test_containers_load(tmp_path, name, video, codec, sr):
    path = _write(tmp_path / name, video=video, codec=codec, sr=sr)
    y, file_sr = load_audio(path)
    assert file_sr == sr and y.shape[0] == 2 and y.dtype == np.float32
    assert abs(y.shape[1] - sr) < 0.05 * sr  # 1 s (+ codec priming)
    # the tone is there: the left channel's spectrum peaks at 440 Hz
    spec = np.abs(np.fft.rfft(y[0, : sr // 2]))
    assert abs(np.argmax(spec) * 2 - 440) <= 4
    m, msr = load_audio(path, sr=16000, mono=True)
    assert msr == 16000 and m.shape[0] == 1 and abs(m.shape[1] - 16000) < 800
    assert np.abs(m).max() == pytest.approx(np.abs(y.mean(0)).max(), rel=0.05)


def test_video_without_audio_is_a_clear_error(tmp_path):
    path = _write(tmp_path / "silent-film.mp4", audio=False)
    with pytest.raises(AudioError, match=r"silent-film\.mp4.*no audio stream"):
        load_audio(path)


def test_not_a_container(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a movie")
    with pytest.raises(AudioError, match="broken.mp4"):
        load_audio(bad)


def test_transcribe_a_video(tmp_path):
    import shutil
    import subprocess

    pytest.importorskip("faster_whisper", reason="needs the [speech] extra")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from xmtag.speech import transcribe, wer

    text = "The quick brown fox jumps over the lazy dog."
    wav = tmp_path / "say.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text], check=True, timeout=60)
    y, sr = load_audio(wav, mono=True)
    video = _write(tmp_path / "lecture.mp4", sr=sr, signal=y[0], seconds=y.shape[1] / sr)
    tr = transcribe(video, progress=False)
    assert wer(text, tr.text) <= 0.2, tr.text


def test_unknown_extension_gets_a_second_chance_but_a_broken_wav_stays_an_error(tmp_path):
    path = _write(tmp_path / "clip.mp4", video=False)
    renamed = path.rename(tmp_path / "clip.audio")  # no extension libsndfile or the list knows
    y, sr = load_audio(renamed)
    assert sr == 44100 and y.shape[0] == 2
    fake = tmp_path / "not-really.wav"
    fake.write_bytes(renamed.read_bytes())
    with pytest.raises(AudioError, match="not-really.wav"):
        load_audio(fake)  # a .wav that libsndfile rejects is reported, never decoded leniently


def test_info_reads_the_containers_transcribe_reads(tmp_path, capsys):
    """`xmtag info talk.mp4` said mp4 was unsupported while transcribe and diarize took it (#25)."""
    import json

    from xmtag.cli import main

    video = _write(tmp_path / "talk.mp4", sr=16000, seconds=1.0)
    assert main(["info", str(video), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["format"] == "MP4" and out["channels"] == 2 and out["sample_rate"] == 16000
    assert abs(out["duration_s"] - 1.0) < 0.1
