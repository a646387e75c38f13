"""The uncertainty of a diarization: clustering margin, one speaker on a long recording, outputs.

These run the decision logic on made-up embeddings (no model, no audio), so they are fast and
need no weights.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from xmtag.speech import Diarization, DiarizationQuality, Transcript
from xmtag.speech import _diarize as D
from xmtag.speech.transcript import Segment

pytestmark = pytest.mark.speech


def _voices(distance: float, n: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` embeddings around two directions whose cosine distance is about ``distance``."""
    rng = np.random.default_rng(seed)
    a = np.zeros(16)
    a[0] = 1.0
    b = np.zeros(16)
    b[0] = 1.0 - distance
    b[1] = np.sqrt(1 - b[0] ** 2)
    e = np.array([a if i % 2 == 0 else b for i in range(n)]) + 0.002 * rng.standard_normal((n, 16))
    return e / np.linalg.norm(e, axis=1, keepdims=True), np.full(n, 3.0)


def test_margin_is_the_distance_from_the_threshold_to_the_nearest_merge():
    emb, w = _voices(0.5)
    info: dict = {}
    labels, _ = D._cluster(emb, w, 0.3, 1, None, None, 1.5, info=info)
    assert labels.max() + 1 == 2 and info["clusters"] == 2
    # the merge of the two voices happens at ~0.5; the last within-voice merge at ~0
    assert info["margin"] == pytest.approx(0.2, abs=0.02)
    assert info["top"] == pytest.approx(0.5, abs=0.02)
    # a given number of speakers: no margin to speak of
    info = {}
    D._cluster(emb, w, 0.3, 2, 2, 2, 1.5, info=info)
    assert info["margin"] is None


def _result(speakers: int, seconds: float) -> Diarization:
    step = seconds / 10
    return Diarization([(i * step, (i + 1) * step, f"S{i % speakers}") for i in range(10)], seconds + 1)


def test_near_threshold_is_uncertain():
    info = {"margin": 0.01, "threshold": 0.3, "top": 0.31, "clusters": 2}
    q = D._quality(info, None, None, _result(2, 60))
    assert q.uncertain and "close to its threshold" in q.reasons[0] and q.margin == 0.01
    info["margin"] = 0.2
    assert not D._quality(info, None, None, _result(2, 60)).uncertain


def test_one_speaker_on_a_long_recording_with_differing_turns_is_uncertain():
    info = {"margin": 0.1, "threshold": 0.3, "top": 0.25, "clusters": 1}
    q = D._quality(info, None, None, _result(1, 90))
    assert q.uncertain and "one speaker found in 90 s" in q.reasons[0]
    assert "num_speakers" in q.reasons[0]
    # short, or turns all alike, or one speaker asked for: certain
    assert not D._quality(info, None, None, _result(1, 10)).uncertain
    assert not D._quality(dict(info, top=0.05), None, None, _result(1, 90)).uncertain
    assert not D._quality(dict(info, margin=None), 1, 1, _result(1, 90)).uncertain
    assert not D._quality(dict(info, margin=None), None, 1, _result(1, 90)).uncertain


def test_decide_reports_the_last_clustering(monkeypatch):
    """Uncertainty flows from the clustering through _decide (made-up analysis, no second pass)."""
    emb, _w = _voices(0.31, n=8)
    frames = D.FRAMES
    units = np.array([[i, 0, 3.0, 0, frames] for i in range(8)], dtype=np.float64)
    activity = np.zeros((8, frames, 3), dtype=bool)
    activity[:, :, 0] = True
    a = {
        "activity": activity,
        "embeddings": emb.astype(np.float32),
        "units": units,
        "step_frames": frames,
        "n_frames": 8 * frames,
        "duration": 8 * frames * D._FRAME_S,
    }
    info: dict = {}
    turns = D._decide(a, 0.3, None, 1, None, 1.5, 0.15, 0.2, recluster=False, info=info)
    assert len({t[2] for t in turns}) == 2
    q = D._quality(info, None, None, Diarization([tuple(t) for t in turns]))
    assert q.uncertain and q.margin == pytest.approx(0.01, abs=0.01)


def test_quality_travels_with_the_result_and_the_transcript():
    q = DiarizationQuality(True, ("one speaker found in 95 s of speech",), 0.01, 0.3)
    d = Diarization([(0, 1, "A")], 2.0, "x", q)
    assert d.crop(0, 0.5).quality is q and d.rename({"A": "B"}).quality is q
    assert Diarization.from_rttm(d.to_rttm()).quality is None
    tr = Transcript(segments=[Segment(0.0, 1.0, "hi", speaker="A")], diarization=d)
    assert tr.to_dict()["speaker_quality"] == {
        "uncertain": True,
        "reasons": ["one speaker found in 95 s of speech"],
        "margin": 0.01,
        "threshold": 0.3,
    }
    assert "speaker_quality" not in Transcript(segments=[Segment(0.0, 1.0, "hi")]).to_dict()


def test_uncertain_result_is_logged_and_printed(monkeypatch, tmp_path, caplog, capsys):
    """diarize() warns in the log; `xmtag diarize` and `transcribe --diarize` print it."""
    from xmtag.cli import main

    emb, _w = _voices(0.31, n=8)
    frames = D.FRAMES
    units = np.array([[i, 0, 3.0, 0, frames] for i in range(8)], dtype=np.float64)
    activity = np.zeros((8, frames, 3), dtype=bool)
    activity[:, :, 0] = True

    def fake_analyse(y, step, threads, progress):
        return {
            "activity": activity,
            "embeddings": emb.astype(np.float32),
            "units": units,
            "step_frames": frames,
            "n_frames": 8 * frames,
            "duration": y.frames / 16000,
        }

    monkeypatch.setattr(D, "_analyse", fake_analyse)
    real_decide = D._decide
    monkeypatch.setattr(D, "_decide", lambda *a, **k: real_decide(*a, **{**k, "recluster": False}))
    y = np.zeros(16000 * 8 * frames // 59, np.float32)
    with caplog.at_level(logging.WARNING, logger="xmtag.speech._diarize"):
        d = D.diarize(y, sr=16000, progress=False)
    assert d.quality.uncertain
    assert any("uncertain" in r.getMessage() for r in caplog.records)

    from xmtag.audio import save_audio

    wav = save_audio(tmp_path / "talk.wav", y, 16000)
    assert main(["-q", "diarize", str(wav)]) == 0
    assert "warning: the speakers are uncertain: the speaker clustering is close" in capsys.readouterr().err


def _groups(k: int, size: int, spread: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.standard_normal((32, k)))[0].T  # orthogonal voices
    e = np.concatenate([c + spread * rng.standard_normal((size, 32)) / np.sqrt(32) for c in centres])
    return e / np.linalg.norm(e, axis=1, keepdims=True), np.repeat(np.arange(k), size)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_spectral_clustering_finds_the_number_of_voices(k):
    e, truth = _groups(k, 12)
    labels, lead = D._spectral(e, 2, 8)
    assert labels.max() + 1 == k and lead > 0
    # every found cluster is one voice
    assert all(len(set(truth[labels == c])) == 1 for c in range(k))
    # a given count is obeyed
    assert D._spectral(e, 2, 8, k=k + 1)[0].max() + 1 == k + 1


def test_cluster_uses_spectral_on_many_units_and_one_speaker_stays_one():
    e, _truth = _groups(3, 10)
    info: dict = {}
    labels, _ = D._cluster(e, np.full(30, 2.0), 0.3, 1, None, None, 1.5, info=info)
    assert labels.max() + 1 == 3 and info["clusters"] == 3 and info["margin"] > 0
    one = _groups(1, 30, spread=0.05)[0]
    labels, _ = D._cluster(one, np.full(30, 2.0), 0.3, 1, None, None, 1.5, info=info)
    assert labels.max() == 0 and info["clusters"] == 1
    # centring removes what every embedding of the recording shares
    shared = np.concatenate([e + 3.0 * np.eye(32)[0]])
    c = D._centered(shared, np.ones(30))
    assert abs(float(c.mean(0) @ np.eye(32)[0])) < 0.05


class _NoSecondPass:
    """A turn encoder that records whether the second pass asked it for embeddings."""

    def __init__(self):
        self.calls = 0

    def embed_many(self, wavs):
        self.calls += 1
        rng = np.random.default_rng(len(wavs))
        e = rng.standard_normal((len(wavs), 16))
        return e / np.linalg.norm(e, axis=1, keepdims=True)


def _analysis(n_units: int, distance: float = 0.8) -> dict:
    emb, _w = _voices(distance, n=n_units)
    frames = D.FRAMES
    units = np.array([[i, 0, 3.0, 0, frames] for i in range(n_units)], dtype=np.float64)
    activity = np.zeros((n_units, frames, 3), dtype=bool)
    activity[:, :, 0] = True
    return {
        "activity": activity,
        "embeddings": emb.astype(np.float32),
        "units": units,
        "step_frames": frames,
        "n_frames": n_units * frames,
        "duration": n_units * frames * D._FRAME_S,
        "audio": np.zeros(n_units * frames * D.FRAME_HOP, np.float32),
        "turn_encoder": _NoSecondPass(),
    }


def test_second_pass_only_for_agglomerative_recordings():
    """Spectrally clustered recordings keep the first pass's speakers (no d-vector re-count);
    short ones (agglomerative) still get the whole-turn second pass."""
    long = _analysis(D._SPECTRAL_MIN + 4)
    turns = D._decide(long, 0.3, None, 1, None, 1.5, 0.15, 0.2)
    assert long["turn_encoder"].calls == 0 and len({t[2] for t in turns}) == 2
    short = _analysis(8)
    D._decide(short, 0.3, None, 1, None, 1.5, 0.15, 0.2)
    assert short["turn_encoder"].calls == 1


def test_turn_starts_move_by_the_onset_shift():
    frames = np.zeros((400, 1), dtype=bool)
    frames[100:300, 0] = True
    frames[350, 0] = True  # a one-frame turn (17 ms) is shorter than the shift: no turn, never inverted
    ((s, e, c),) = D._turns(frames, 0.0, 0.0, 10.0)
    assert s == pytest.approx(float(D._frame_time(100)) - D._FRAME_S / 2 + D._ONSET_SHIFT)
    assert e == pytest.approx(float(D._frame_time(299)) + D._FRAME_S / 2) and c == 0
