"""After decoding: drop text Whisper invents on non-speech, and attribute words to speakers.

**No-speech gating.** Whisper writes "You", "Thank you." or a lone "." for silence, tones,
noise and music, most often at the start of a decoding window. A decoded segment is
dropped, with a note in the log, when

1. it has no letter or digit (``"."``, ``"♪"``), or
2. its no-speech probability is above :data:`NO_SPEECH_THRESHOLD` (0.6) and its mean token
   log-probability below :data:`LOGPROB_THRESHOLD` (-1.0) (Whisper's own rule, applied to
   every segment rather than only to whole 30-s windows), or
3. less than :data:`MIN_SPEECH_SHARE` (20 %) of its time span lies in detected speech,
   where speech is what the diarization found (``diarize=True``) or, otherwise, what the
   Silero voice activity detector of faster-whisper finds (padded by 0.3 s), or
4. its no-speech probability is above :data:`NO_SPEECH_ALONE` (0.9) and less than half of it
   lies in detected speech.

**Speakers.** Each word gets the speaker who talks most during the word's time span
(:meth:`Diarization.speaker_at`, the nearest turn within a second when none overlaps);
a segment is split wherever the speaker of consecutive words changes, and each piece gets
its words' speaker.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

from .transcript import Segment, Word

__all__ = [
    "NO_SPEECH_THRESHOLD",
    "LOGPROB_THRESHOLD",
    "MIN_SPEECH_SHARE",
    "NO_SPEECH_ALONE",
    "SegmentStats",
    "speech_regions",
    "gate",
    "attribute_speakers",
]

logger = logging.getLogger("xmtag.speech.transcribe")

NO_SPEECH_THRESHOLD = 0.6
LOGPROB_THRESHOLD = -1.0
MIN_SPEECH_SHARE = 0.2
NO_SPEECH_ALONE = 0.9
_PAD = 0.3
_WORDY = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class SegmentStats:
    """What the decoder knows about a segment besides its text."""

    no_speech_prob: float | None = None
    avg_logprob: float | None = None


def speech_regions(y: np.ndarray, sr: int = 16000) -> list[tuple[float, float]] | None:
    """Speech intervals (seconds) by Silero VAD (faster-whisper), padded by 0.3 s; None without it."""
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError:
        return None
    chunks = get_speech_timestamps(np.ascontiguousarray(y, dtype=np.float32), VadOptions())
    return [(max(0.0, c["start"] / sr - _PAD), c["end"] / sr + _PAD) for c in chunks]


def _share(seg: Segment, regions: list[tuple[float, float]]) -> float:
    span = seg.end - seg.start
    if span <= 0:
        return 1.0 if any(a <= seg.start <= b for a, b in regions) else 0.0
    inside = sum(max(0.0, min(b, seg.end) - max(a, seg.start)) for a, b in regions)
    return min(1.0, inside / span)


def gate(
    seg: Segment,
    stats: SegmentStats,
    regions: list[tuple[float, float]] | None,
    no_speech_threshold: float = NO_SPEECH_THRESHOLD,
    logprob_threshold: float = LOGPROB_THRESHOLD,
) -> str | None:
    """Why ``seg`` is dropped (a short reason), or None to keep it.

    Examples
    --------
    >>> gate(Segment(0.0, 2.0, "You"), SegmentStats(0.95, -0.7), regions=[])
    'outside detected speech (0 % of it)'
    >>> gate(Segment(0.0, 2.0, "Hello there."), SegmentStats(0.1, -0.3), regions=[(0.0, 2.0)]) is None
    True
    >>> gate(Segment(0.0, 2.0, " ."), SegmentStats(), regions=None)
    'no words'
    """
    if not _WORDY.search(seg.text):
        return "no words"
    nsp, lp = stats.no_speech_prob, stats.avg_logprob
    if nsp is not None and lp is not None and nsp > no_speech_threshold and lp < logprob_threshold:
        return f"no-speech probability {nsp:.2f} with mean log-probability {lp:.2f}"
    if regions is not None:
        share = _share(seg, regions)
        if share < MIN_SPEECH_SHARE:
            return f"outside detected speech ({100 * share:.0f} % of it)"
        if nsp is not None and nsp > NO_SPEECH_ALONE and share < 0.5:
            return f"no-speech probability {nsp:.2f}, {100 * share:.0f} % in detected speech"
    return None


def attribute_speakers(segments: list[Segment], diarization, keep_words: bool) -> list[Segment]:
    """Give every word and segment a speaker; split segments where the speaker changes."""
    out: list[Segment] = []
    for seg in segments:
        words = list(seg.words or ())
        if not words:
            out.append(
                Segment(seg.start, seg.end, seg.text, seg.words, diarization.speaker_at(seg.start, seg.end))
            )
            continue
        speakers = [diarization.speaker_at(w.start, w.end) for w in words]
        known = [s for s in speakers if s is not None]
        fallback = diarization.speaker_at(seg.start, seg.end) or (known[0] if known else None)
        filled, last = [], None
        for s in speakers:  # a word without a speaker takes its left neighbour's
            last = s or last
            filled.append(last)
        first_known = next((s for s in filled if s is not None), fallback)
        filled = [s or first_known for s in filled]
        words = [Word(w.start, w.end, w.word, w.probability, s) for w, s in zip(words, filled)]
        start = 0
        for i in range(1, len(words) + 1):
            if i == len(words) or filled[i] != filled[start]:
                piece = words[start:i]
                text = "".join(w.word for w in piece).strip()
                if text:
                    out.append(
                        Segment(
                            piece[0].start if start else seg.start,
                            piece[-1].end if i < len(words) else seg.end,
                            text,
                            tuple(piece) if keep_words else None,
                            filled[start],
                        )
                    )
                start = i
    return out
