"""Scores for speech output: diarization error rate, Jaccard error rate and word error rate.

**DER** follows NIST's definition (as in ``md-eval`` and ``pyannote.metrics``), computed
exactly on the elementary intervals between all turn boundaries (no time grid): with
``R(t)`` and ``H(t)`` the numbers of reference and hypothesis speakers at time ``t`` and
``C(t)`` the number of them that the optimal one-to-one speaker mapping pairs correctly,

    miss = ∫ max(0, R - H),  false alarm = ∫ max(0, H - R),  confusion = ∫ min(R, H) - C,
    DER = (miss + false alarm + confusion) / ∫ R.

Overlapped speech is scored (each speaker counts). A ``collar`` removes ``collar`` seconds
on both sides of every reference boundary from scoring (md-eval's ``-c``; pyannote.metrics'
``collar`` is the total width, twice this). The results equal ``pyannote.metrics``'
``DiarizationErrorRate(skip_overlap=False)`` (a test checks it). The mapping maximises the total
time both members of a pair speak (Hungarian algorithm), which minimises DER.

**JER** (DIHARD II): for each reference speaker, ``1 - |R ∩ H| / |R ∪ H|`` with its mapped
hypothesis speaker (1 when unmapped), averaged over reference speakers; the one-to-one
mapping minimises the total (as DIHARD's ``dscore``; pyannote.metrics maps by overlap time
instead, which can give a slightly larger JER).

**WER** uses ``jiwer`` on text normalised by Whisper's English text normalizer (the one
behind OpenAI's published Whisper WERs: lower case, punctuation removed, numbers and
spellings standardised) so that xmtag's numbers compare with published ones.

>>> ref = [(0.0, 10.0, "A"), (10.0, 20.0, "B")]
>>> hyp = [(0.0, 12.0, "x"), (12.0, 20.0, "y")]
>>> der(ref, hyp)        # 2 s of confusion out of 20 s
0.1
>>> der(ref, hyp, collar=2.0)   # [8, 12] is not scored
0.0
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import XmtagError

__all__ = [
    "der",
    "der_components",
    "jer",
    "wer",
    "normalize_text",
    "speaker_mapping",
    "word_speaker_accuracy",
]

TurnLike = Sequence  # (start, end, speaker)


def _turns(d) -> list[tuple[float, float, str]]:
    turns = d.turns if hasattr(d, "turns") else d
    return [(float(t[0]), float(t[1]), str(t[2])) for t in turns if float(t[1]) > float(t[0])]


def _scored(ref, collar):
    """Intervals kept for scoring: everything minus ``collar`` around reference boundaries."""
    if collar <= 0:
        return None
    holes = sorted((b - collar, b + collar) for t in ref for b in t[:2])
    return holes


def _elementary(ref, hyp, holes):
    points = sorted({p for t in ref + hyp for p in t[:2]} | {p for h in holes or [] for p in h})
    mids = (np.array(points[:-1]) + np.array(points[1:])) / 2
    lengths = np.diff(points)
    keep = lengths > 0
    if holes:
        for lo, hi in holes:
            keep &= ~((mids > lo) & (mids < hi))
    return mids[keep], lengths[keep]


def _activity(turns, labels, mids):
    a = np.zeros((len(labels), mids.size), dtype=bool)
    index = {s: i for i, s in enumerate(labels)}
    for start, end, s in turns:
        a[index[s]] |= (mids > start) & (mids < end)
    return a


def der_components(reference, hypothesis, collar: float = 0.0) -> dict[str, float]:
    """``total`` (reference speech), ``miss``, ``false_alarm``, ``confusion`` (seconds) and ``der``.

    Parameters
    ----------
    reference, hypothesis : Diarization or iterable of (start, end, speaker)
    collar : float
        Seconds not scored on each side of every reference turn boundary.
    """
    from scipy.optimize import linear_sum_assignment

    ref, hyp = _turns(reference), _turns(hypothesis)
    if collar < 0:
        raise XmtagError(f"collar must be >= 0, got {collar}.")
    mids, lengths = _elementary(ref, hyp, _scored(ref, collar)) if ref or hyp else (np.zeros(0), np.zeros(0))
    rl, hl = sorted({t[2] for t in ref}), sorted({t[2] for t in hyp})
    ra, ha = _activity(ref, rl, mids), _activity(hyp, hl, mids)
    nr, nh = ra.sum(0), ha.sum(0)
    total = float((nr * lengths).sum())
    miss = float((np.maximum(0, nr - nh) * lengths).sum())
    fa = float((np.maximum(0, nh - nr) * lengths).sum())
    correct = 0.0
    if rl and hl:
        co = (ra[:, None, :] & ha[None, :, :]) @ lengths  # (R, H) co-speaking time
        rows, cols = linear_sum_assignment(-co)
        correct = float(co[rows, cols].sum())
    confusion = max(0.0, float((np.minimum(nr, nh) * lengths).sum()) - correct)  # no -0.0 from rounding
    der_value = (miss + fa + confusion) / total if total > 0 else (0.0 if miss + fa == 0 else float("inf"))
    return {"total": total, "miss": miss, "false_alarm": fa, "confusion": confusion, "der": der_value}


def der(reference, hypothesis, collar: float = 0.0) -> float:
    """Diarization error rate (overlap scored), see the module notes.

    Examples
    --------
    >>> der([(0, 4, "A"), (4, 8, "B")], [(0, 4, "B"), (4, 8, "A")])   # labels are arbitrary
    0.0
    >>> der([(0, 4, "A")], [(1, 5, "x")])   # 1 s missed + 1 s false alarm over 4 s
    0.5
    """
    return round(der_components(reference, hypothesis, collar)["der"], 12)


def jer(reference, hypothesis) -> float:
    """Jaccard error rate (DIHARD II), see the module notes.

    Examples
    --------
    >>> jer([(0, 4, "A"), (4, 8, "B")], [(0, 4, "x"), (4, 6, "y")])   # B: 1 - 2/4
    0.25
    """
    from scipy.optimize import linear_sum_assignment

    ref, hyp = _turns(reference), _turns(hypothesis)
    rl, hl = sorted({t[2] for t in ref}), sorted({t[2] for t in hyp})
    if not rl:
        return 0.0 if not hl else 1.0
    mids, lengths = _elementary(ref, hyp, None)
    ra, ha = _activity(ref, rl, mids), _activity(hyp, hl, mids)
    err = np.ones((len(rl), max(1, len(hl))))
    if hl:
        inter = (ra[:, None, :] & ha[None, :, :]) @ lengths
        union = (ra[:, None, :] | ha[None, :, :]) @ lengths
        err = 1 - inter / np.maximum(union, 1e-12)
        rows, cols = linear_sum_assignment(err)
        per = np.ones(len(rl))
        per[rows] = err[rows, cols]
        return round(float(per.mean()), 12)
    return 1.0


@functools.lru_cache(maxsize=1)
def _whisper_normalizer():
    try:  # openai-whisper's normalizer; its package __init__ imports torch and numba (slow, once)
        from whisper.normalizers import EnglishTextNormalizer
    except ImportError:
        return None
    return EnglishTextNormalizer()


def normalize_text(text: str) -> str:
    """Whisper's English text normalisation (``whisper.normalizers.EnglishTextNormalizer``).

    Falls back to lower case without punctuation when openai-whisper is not installed
    (then numbers and British spellings are not standardised; a note is logged).

    Examples
    --------
    >>> normalize_text("Hello, Mr. Smith! It's 5 o'clock.")  # doctest: +SKIP
    'hello mister smith it is 5 o clock'
    """
    norm = _whisper_normalizer()
    if norm is not None:
        return norm(text)
    import logging
    import re

    logging.getLogger(__name__).info("openai-whisper is missing: WER uses a simpler text normalisation.")
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).replace("'", " ").split())


def wer(reference: str | Iterable[str], hypothesis: str | Iterable[str], normalize: bool = True) -> float:
    """Word error rate with ``jiwer``: (substitutions + deletions + insertions) / reference words.

    Parameters
    ----------
    reference, hypothesis : str or list of str
        One text each, or parallel lists (scored as one corpus).
    normalize : bool
        Apply :func:`normalize_text` to both first (Whisper's protocol).

    Examples
    --------
    >>> wer("the cat sat on the mat", "the cat sat on a mat")
    0.16666666666666666
    >>> wer("The cat, sat!", "the cat sat"), wer("", ""), wer("a b c d", "")
    (0.0, 0.0, 1.0)
    """
    from ..errors import require

    jiwer = require("jiwer", "speech", "word error rates")
    refs = [reference] if isinstance(reference, str) else list(reference)
    hyps = [hypothesis] if isinstance(hypothesis, str) else list(hypothesis)
    if len(refs) != len(hyps):
        raise XmtagError(f"wer(): {len(refs)} references but {len(hyps)} hypotheses.")
    if normalize:
        refs, hyps = [normalize_text(r) for r in refs], [normalize_text(h) for h in hyps]
    pairs = [(r, h) for r, h in zip(refs, hyps) if r.strip()]
    extra = sum(len(h.split()) for r, h in zip(refs, hyps) if not r.strip())  # insertions only
    if not pairs:  # no reference words: 0 if nothing was said either, else unbounded
        return 0.0 if extra == 0 else float("inf")
    out = jiwer.process_words([p[0] for p in pairs], [p[1] for p in pairs])
    n_ref = out.hits + out.substitutions + out.deletions
    return float((out.substitutions + out.deletions + out.insertions + extra) / n_ref)


def speaker_mapping(reference, hypothesis) -> dict[str, str]:
    """The optimal one-to-one map hypothesis speaker -> reference speaker (as DER uses it).

    Examples
    --------
    >>> speaker_mapping([(0, 4, "A"), (4, 8, "B")], [(0, 5, "x"), (5, 8, "y")])
    {'x': 'A', 'y': 'B'}
    """
    from scipy.optimize import linear_sum_assignment

    ref, hyp = _turns(reference), _turns(hypothesis)
    rl, hl = sorted({t[2] for t in ref}), sorted({t[2] for t in hyp})
    if not rl or not hl:
        return {}
    mids, lengths = _elementary(ref, hyp, None)
    co = (_activity(ref, rl, mids)[:, None, :] & _activity(hyp, hl, mids)[None, :, :]) @ lengths
    rows, cols = linear_sum_assignment(-co)
    return {hl[c]: rl[r] for r, c in zip(rows, cols)}


def word_speaker_accuracy(reference, transcript) -> float:
    """Share of a diarized transcript's words whose speaker is right.

    The reference speaker of a word is the one speaking most during it; hypothesis labels
    are mapped to reference labels with :func:`speaker_mapping` (on the transcript's
    diarization when it has one, else on its segments). Words outside reference speech are
    not counted.
    """
    from .diarization import Diarization

    ref = reference if isinstance(reference, Diarization) else Diarization(list(reference))
    hyp = getattr(transcript, "diarization", None)
    if hyp is None:
        hyp = [(s.start, s.end, s.speaker) for s in transcript.segments if s.speaker is not None]
    mapping = speaker_mapping(ref, hyp)
    right = total = 0
    for seg in transcript.segments:
        for w in seg.words or [type("W", (), {"start": seg.start, "end": seg.end, "speaker": seg.speaker})]:
            truth = ref.speaker_at(w.start, w.end, max_distance=0.0)
            if truth is None:
                continue
            total += 1
            right += int(mapping.get(w.speaker) == truth)
    if total == 0:
        raise XmtagError("word_speaker_accuracy(): no transcript word lies in reference speech.")
    return right / total
