"""Diarization of a file read block by block (#27): the same windows, units and turns as the whole
waveform in memory, and the second pass reads its turns again from the file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from xmtag.speech import _diarize as D
from xmtag.speech._audio import SpeechSource, speech_source

STEPS = (59 * D.FRAME_HOP, 296 * D.FRAME_HOP)  # 1 s and 5 s (the default)


def _whole_windows(y: np.ndarray, step: int) -> np.ndarray:
    """Every 10-s window of ``y`` (zero-padded at the end), as the whole-array pipeline cut them."""
    n = y.shape[0]
    n_windows = 1 + max(0, int(np.ceil((n - D.WINDOW_SAMPLES) / step)))
    out = np.zeros((n_windows, D.WINDOW_SAMPLES), np.float32)
    for w in range(n_windows):
        piece = y[w * step : w * step + D.WINDOW_SAMPLES]
        out[w, : piece.size] = piece
    return out


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("n", [3000, D.WINDOW_SAMPLES, D.WINDOW_SAMPLES + 1, 1_234_567])
@pytest.mark.parametrize("block", [1000, 7777, 2**18])
def test_window_batches_are_the_whole_waveforms_windows(n, step, block):
    y = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    blocks = (y[a : a + block] for a in range(0, n, block))
    batches = list(D._window_batches(blocks, step))
    ref = _whole_windows(y, step)
    assert [b0 for b0, _, _ in batches] == list(range(0, ref.shape[0], D._BATCH))
    assert np.array_equal(np.concatenate([c for _, c, _ in batches]), ref)
    for b0, chunk, n_end in batches:
        if n_end is None:  # given before the end: no frame of its windows lies past the audio
            last = (b0 + chunk.shape[0] - 1) * step
            assert np.ceil((n - last - D._FRAME_OFFSET) / D.FRAME_HOP) >= D.FRAMES
        else:
            assert n_end == n
    assert batches[-1][2] == n or n > D.WINDOW_SAMPLES  # a short recording is one batch, at the end


def test_ranges_of_a_streamed_file_are_the_slices(tmp_path):
    from xmtag.audio import load_audio, save_audio

    y = (0.3 * np.random.default_rng(1).standard_normal(50_000)).astype(np.float32)
    path = save_audio(tmp_path / "x.flac", y, 16000)
    whole = load_audio(path, sr=16000, mono=True)[0][0]
    bounds = [(40_000, 60_000), (0, 10), (5_000, 26_000), (20_000, 21_000), (-5, 3), (49_999, 50_000), (7, 7)]
    streamed = SpeechSource(path=str(path), block=4096).ranges(bounds)
    in_memory = SpeechSource(whole).ranges(bounds)
    for (a, b), s, m in zip(bounds, streamed, in_memory):
        assert np.array_equal(s, whole[max(0, a) : max(0, b)]) and np.array_equal(m, s), (a, b)


def _whole_array_analysis(y: np.ndarray, step: float) -> dict:
    """The analysis of the whole waveform, as computed before streaming (the reference)."""
    segmenter, encoder, turn_encoder = D._models(None)
    step_frames = max(1, int(round(step * 16000 / D.FRAME_HOP)))
    hop = step_frames * D.FRAME_HOP
    windows = _whole_windows(y, hop)
    activity, embeddings, units = [], [], []
    for b0 in range(0, windows.shape[0], D._BATCH):
        chunk = windows[b0 : b0 + D._BATCH]
        act = segmenter(chunk)
        for j in range(chunk.shape[0]):
            w = b0 + j
            valid = int(np.clip(np.ceil((y.size - w * hop - D._FRAME_OFFSET) / D.FRAME_HOP), 0, D.FRAMES))
            act[j, valid:] = False
        activity.append(act)
        wavs = []
        for j in range(chunk.shape[0]):
            alone = act[j].sum(1) == 1
            for k in range(3):
                for f0, f1 in D._runs(act[j, :, k], D._RUN_GAP):
                    run = np.zeros(D.FRAMES, dtype=bool)
                    run[f0:f1] = act[j, f0:f1, k]
                    clean = run & alone
                    mask = clean if clean.sum() * D._FRAME_S >= 0.5 else run
                    if mask.sum() * D._FRAME_S < 0.2:
                        continue
                    wavs.append(D._unit_audio(chunk[j], mask))
                    units.append((b0 + j, k, float(mask.sum() * D._FRAME_S), f0, f1))
        if wavs:
            embeddings.append(encoder.embed_many(wavs))
    return {
        "activity": np.concatenate(activity),
        "embeddings": np.concatenate(embeddings),
        "units": np.array(units, dtype=np.float64),
        "step_frames": step_frames,
        "n_frames": int(np.ceil(y.size / D.FRAME_HOP)),
        "duration": y.size / 16000,
        "audio": y,
        "turn_encoder": turn_encoder,
    }


@pytest.fixture(scope="module")
def talk():
    pytest.importorskip("onnxruntime", reason="needs the [diarize] extra")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    from xmtag.speech import conversation as conv

    try:
        D._models(None)
    except Exception as exc:  # weights not installed
        pytest.skip(str(exc))
    return conv.make_conversation(2, 5, seed=3)


def test_streamed_file_gives_the_whole_arrays_turns(talk, tmp_path, monkeypatch):
    """A file read in small blocks: the same analysis as the whole waveform, the same turns
    (second pass included: its turns are read again from the file), the same result."""
    from xmtag.audio import load_audio, save_audio

    path = save_audio(tmp_path / "talk.flac", talk.audio, 16000)
    y = load_audio(path, sr=16000, mono=True)[0][0]
    ref = _whole_array_analysis(y, 0.5)
    streamed = D._analyse(speech_source(str(path), None, block=3001), 0.5, None, False)
    assert ref["activity"].shape[0] > D._BATCH  # several batches, each over many blocks
    for key in ("activity", "embeddings", "units", "n_frames", "duration", "step_frames"):
        assert np.array_equal(np.asarray(streamed[key]), np.asarray(ref[key])), key
    args = (0.3, None, 1, None, 1.5, 0.15, 0.2)
    turns = D._decide(ref, *args)
    assert turns and turns == D._decide(streamed, *args)
    # the second pass (short or sparse recordings) reads its turns again from the file
    assert all(
        np.array_equal(x, D._turn_audio(y, turns, i))
        for i, x in enumerate(D._turns_audio(streamed["audio"], turns))
    )
    second = D._recluster(ref, turns, 0.3, None, 1, None, 1.5)
    assert second == D._recluster(streamed, turns, 0.3, None, 1, None, 1.5)
    # and through diarize(): a file in small blocks, the array, the default blocks
    monkeypatch.setattr(D, "speech_source", lambda a, sr, who: speech_source(a, sr, who, block=3001))
    by_file = D.diarize(path, step=0.5, progress=False)
    by_array = D.diarize(y, sr=16000, step=0.5, progress=False)
    assert by_file.turns == by_array.turns and by_file.duration == by_array.duration
