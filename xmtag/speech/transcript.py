"""The :class:`Transcript` type: timed text from any speech backend, and its file formats."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import limits
from .._files import atomic_write_text, check_input_file
from ..errors import OutputError, XmtagError

__all__ = ["Word", "Segment", "Transcript", "format_timestamp"]

_FORMATS = (".srt", ".vtt", ".json", ".txt")


@dataclass(frozen=True)
class Word:
    """One recognised word with its time span (seconds) and probability.

    Attributes
    ----------
    start, end : float
        Seconds from the start of the audio.
    word : str
        The word as the backend wrote it.
    probability : float or None
        The model's probability for the word, when the backend gives one.
    speaker : str or None
        Who said it, after diarization (``transcribe(..., diarize=True)``).
    """

    start: float
    end: float
    word: str
    probability: float | None = None
    speaker: str | None = None


@dataclass(frozen=True)
class Segment:
    """A stretch of speech: start and end in seconds from the start of the audio, and its text.

    Attributes
    ----------
    start, end : float
        Seconds from the start of the audio.
    text : str
        The recognised text.
    words : tuple of Word or None
        Word timestamps, when they were asked for.
    speaker : str or None
        Who spoke, after diarization; a diarized segment has one speaker (segments are
        split where the speaker changes).

    Examples
    --------
    >>> Segment(0.0, 1.5, "Hello.").to_dict()
    {'start': 0.0, 'end': 1.5, 'text': 'Hello.'}
    >>> Segment(0.0, 1.5, "Hello.", speaker="SPEAKER_00").label_text()
    '[SPEAKER_00] Hello.'
    """

    start: float
    end: float
    text: str
    words: tuple[Word, ...] | None = None
    speaker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: ``start``, ``end``, ``text`` and, when present, ``speaker`` and ``words``."""
        d: dict[str, Any] = {"start": self.start, "end": self.end, "text": self.text}
        if self.speaker is not None:
            d["speaker"] = self.speaker
        if self.words is not None:
            d["words"] = [
                {k: v for k, v in asdict(w).items() if k != "speaker" or v is not None} for w in self.words
            ]
        return d

    def label_text(self) -> str:
        """The text, prefixed with ``[SPEAKER]`` when the segment has a speaker (subtitle cues)."""
        text = self.text.strip()
        return f"[{self.speaker}] {text}" if self.speaker else text


def format_timestamp(seconds: float, sep: str = ",") -> str:
    """``HH:MM:SS,mmm`` (SRT) or, with ``sep="."``, ``HH:MM:SS.mmm`` (WebVTT).

    Parameters
    ----------
    seconds : float
        Non-negative time; rounded to the millisecond.
    sep : str
        Separator before the milliseconds: ``","`` (SRT) or ``"."`` (WebVTT).

    Returns
    -------
    str

    Examples
    --------
    >>> format_timestamp(3661.5)
    '01:01:01,500'
    >>> format_timestamp(0.0005, sep=".")
    '00:00:00.001'
    """
    ms = max(0, int(round(seconds * 1000)))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


_LABEL_RE = re.compile(r"^\[([^\]\n]{1,60})\]\s+(\S.*)$", re.S)
_TIME_RE = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{3})")
_CUE_RE = re.compile(rf"^\s*({_TIME_RE.pattern})\s*-->\s*({_TIME_RE.pattern})")


def _parse_time(text: str) -> float:
    m = _TIME_RE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"bad timestamp {text!r}")
    h, mi, s, ms = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mi * 60 + s + ms / 1000


@dataclass
class Transcript:
    """What was said, when: the result of :func:`xmtag.speech.transcribe`.

    Parameters
    ----------
    segments : list of Segment
        In time order.
    language : str or None
        Language code (``"en"``).
    duration : float or None
        Length of the audio in seconds.
    model, backend : str or None
        Which model and backend produced it (for the record).
    language_probability : float or None
        The backend's probability for the detected language (None when the language was
        given or the backend does not report it).
    task : str
        ``"transcribe"`` or ``"translate"`` (to English).
    diarization : Diarization or None
        The speaker turns, when ``transcribe(..., diarize=True)`` made them.

    Examples
    --------
    >>> tr = Transcript([Segment(0.0, 1.5, "Hello there."), Segment(2.0, 3.25, "General Kenobi.")], "en")
    >>> tr.text
    'Hello there. General Kenobi.'
    >>> print(tr.to_srt())
    1
    00:00:00,000 --> 00:00:01,500
    Hello there.
    <BLANKLINE>
    2
    00:00:02,000 --> 00:00:03,250
    General Kenobi.
    <BLANKLINE>
    >>> Transcript.from_srt(tr.to_srt()).segments == tr.segments
    True
    """

    segments: list[Segment] = field(default_factory=list)
    language: str | None = None
    duration: float | None = None
    model: str | None = None
    backend: str | None = None
    language_probability: float | None = None
    task: str = "transcribe"
    diarization: Any = field(default=None, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The segments' text joined by single spaces."""
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    @property
    def speakers(self) -> list[str]:
        """Speaker labels in order of first appearance (empty when not diarized).

        Examples
        --------
        >>> tr = Transcript([Segment(0, 1, "Hi.", speaker="B"), Segment(1, 2, "Yo.", speaker="A")])
        >>> tr.speakers
        ['B', 'A']
        """
        return list(dict.fromkeys(s.speaker for s in self.segments if s.speaker is not None))

    def rename_speakers(self, mapping: dict[str, str]) -> Transcript:
        """A copy with speakers renamed (segments, words and the diarization); others keep their label.

        Examples
        --------
        >>> tr = Transcript([Segment(0.0, 1.0, "Hi.", speaker="SPEAKER_00")])
        >>> print(tr.rename_speakers({"SPEAKER_00": "Alice"}).to_txt(), end="")
        [Alice] Hi.
        """
        import dataclasses

        def r(x: str | None) -> str | None:
            return None if x is None else mapping.get(x, x)

        segments = [
            dataclasses.replace(
                s,
                speaker=r(s.speaker),
                words=None
                if s.words is None
                else tuple(dataclasses.replace(w, speaker=r(w.speaker)) for w in s.words),
            )
            for s in self.segments
        ]
        diar = self.diarization.rename(mapping) if self.diarization is not None else None
        return dataclasses.replace(self, segments=segments, diarization=diar)

    def __len__(self) -> int:
        return len(self.segments)

    def __iter__(self):
        return iter(self.segments)

    # -- formats --------------------------------------------------------------------------
    def to_srt(self) -> str:
        """SubRip subtitles (one cue per segment).

        Returns
        -------
        str

        Examples
        --------
        >>> tr = Transcript([Segment(0.0, 1.5, "Hello."), Segment(1.5, 3.0, "Goodbye.")])
        >>> print(tr.to_srt())
        1
        00:00:00,000 --> 00:00:01,500
        Hello.
        <BLANKLINE>
        2
        00:00:01,500 --> 00:00:03,000
        Goodbye.
        <BLANKLINE>
        """
        cues = [
            f"{i}\n{format_timestamp(s.start)} --> {format_timestamp(s.end)}\n{s.label_text()}\n"
            for i, s in enumerate(self._cues(), 1)
        ]
        return "\n".join(cues)

    def to_vtt(self) -> str:
        """WebVTT subtitles (one cue per segment).

        Returns
        -------
        str

        Examples
        --------
        >>> print(Transcript([Segment(0.0, 1.5, "Hello.")]).to_vtt())
        WEBVTT
        <BLANKLINE>
        00:00:00.000 --> 00:00:01.500
        Hello.
        <BLANKLINE>
        """
        cues = [
            f"{format_timestamp(s.start, '.')} --> {format_timestamp(s.end, '.')}\n{s.label_text()}\n"
            for s in self._cues()
        ]
        return "\n".join(["WEBVTT\n", *cues])

    def to_txt(self) -> str:
        """Plain text, one segment per line (``[SPEAKER] `` in front when diarized)."""
        return "".join(f"{s.label_text()}\n" for s in self._cues())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the :meth:`to_json` schema)."""
        return {
            "text": self.text,
            "language": self.language,
            "duration": self.duration,
            "model": self.model,
            "backend": self.backend,
            "language_probability": self.language_probability,
            "task": self.task,
            "speakers": self.speakers,
            **self._speaker_quality(),
            "segments": [s.to_dict() for s in self.segments],
        }

    def _speaker_quality(self) -> dict[str, Any]:
        quality = getattr(self.diarization, "quality", None)
        return {"speaker_quality": quality.to_dict()} if quality is not None else {}

    def to_json(self, indent: int | None = 2) -> str:
        """JSON with ``text``, ``language``, ``duration``, ``model``, ``backend`` and ``segments``.

        Parameters
        ----------
        indent : int, optional
            JSON indentation; ``None`` for one line.

        Returns
        -------
        str

        Examples
        --------
        >>> tr = Transcript([Segment(0.0, 1.5, "Hello.")], language="en")
        >>> Transcript.from_json(tr.to_json()).segments == tr.segments
        True
        """
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def _cues(self) -> list[Segment]:
        return [s for s in self.segments if s.text.strip()]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the transcript atomically in the format of the extension (.srt, .vtt, .json, .txt).

        Parameters
        ----------
        path : str or os.PathLike
            ``*.srt``, ``*.vtt``, ``*.json`` or ``*.txt``; its folder must exist.

        Returns
        -------
        pathlib.Path
            The written path.

        Raises
        ------
        OutputError
            For another extension or an unwritable location.

        Examples
        --------
        >>> import os, tempfile
        >>> tr = Transcript([Segment(0.0, 1.5, "Hello.")], language="en")
        >>> p = tr.save(os.path.join(tempfile.mkdtemp(), "talk.vtt"))
        >>> Transcript.load(p).text
        'Hello.'
        """
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix not in _FORMATS:
            raise OutputError(
                f"Cannot save a transcript as {str(p)!r}: unknown extension {p.suffix!r}. "
                f"Use one of {', '.join(_FORMATS)}."
            )
        text = {".srt": self.to_srt, ".vtt": self.to_vtt, ".json": self.to_json, ".txt": self.to_txt}[
            suffix
        ]()
        return atomic_write_text(p, text)

    # -- readers --------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transcript:
        """Inverse of :meth:`to_dict`."""
        segments = []
        for s in d.get("segments", []):
            words = s.get("words")
            segments.append(
                Segment(
                    float(s["start"]),
                    float(s["end"]),
                    str(s["text"]),
                    None if words is None else tuple(Word(**w) for w in words),
                    s.get("speaker"),
                )
            )
        return cls(
            segments,
            d.get("language"),
            d.get("duration"),
            d.get("model"),
            d.get("backend"),
            d.get("language_probability"),
            d.get("task", "transcribe"),
        )

    @classmethod
    def from_json(cls, text: str) -> Transcript:
        """Parse the output of :meth:`to_json`.

        Parameters
        ----------
        text : str
            JSON written by ``to_json``.

        Returns
        -------
        Transcript

        Raises
        ------
        XmtagError
            If ``text`` is not a transcript in JSON.
        """
        depth = _json_depth(text)
        if depth > limits.MAX_JSON_DEPTH:
            raise XmtagError(
                f"Not a transcript in xmtag's JSON format: it nests {depth:,} levels deep (a transcript "
                f"nests 3). {limits.how_to_raise('MAX_JSON_DEPTH')}"
            )
        try:
            return cls.from_dict(json.loads(text))
        except RecursionError:  # pragma: no cover - the depth check comes first
            raise XmtagError("Not a transcript in xmtag's JSON format (nested too deeply).") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise XmtagError(f"Not a transcript in xmtag's JSON format ({exc}).") from exc

    @classmethod
    def _from_cues(cls, text: str, kind: str) -> Transcript:
        segments = []
        lines = text.replace("\r\n", "\n").split("\n")
        i = 0
        while i < len(lines):
            m = _CUE_RE.match(lines[i])
            if not m:
                i += 1
                continue
            start = _parse_time(m.group(1))
            end = _parse_time(m.group(6))
            i += 1
            body = []
            while i < len(lines) and lines[i].strip():
                body.append(lines[i].strip())
                i += 1
            text, speaker = " ".join(body), None
            m = _LABEL_RE.match(text)
            if m:
                speaker, text = m.group(1), m.group(2)
            segments.append(Segment(start, end, text, speaker=speaker))
        if not segments and text.strip() and text.strip() != "WEBVTT":
            raise XmtagError(f"No {kind} cues found (expected lines like '00:00:01,000 --> 00:00:02,500').")
        return cls(segments)

    @classmethod
    def from_srt(cls, text: str) -> Transcript:
        """Parse SubRip subtitles.

        Parameters
        ----------
        text : str
            The contents of an ``.srt`` file.

        Returns
        -------
        Transcript

        Examples
        --------
        >>> srt = Transcript([Segment(0.0, 1.5, "Hello.")]).to_srt()
        >>> Transcript.from_srt(srt).segments[0].end
        1.5
        """
        return cls._from_cues(text, "SRT")

    @classmethod
    def from_vtt(cls, text: str) -> Transcript:
        """Parse WebVTT subtitles.

        Parameters
        ----------
        text : str
            The contents of a ``.vtt`` file.

        Returns
        -------
        Transcript
        """
        return cls._from_cues(text, "WebVTT")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Transcript:
        """Read a transcript saved as .json, .srt or .vtt.

        Parameters
        ----------
        path : str or os.PathLike
            A file written by ``save`` (or any SRT / WebVTT file).

        Returns
        -------
        Transcript

        Raises
        ------
        XmtagError
            If the file is missing, of another type, or not parseable.
        """
        p = check_input_file(path, "transcript")
        suffix = p.suffix.lower()
        readers = {".json": cls.from_json, ".srt": cls.from_srt, ".vtt": cls.from_vtt}
        if suffix not in readers:
            raise XmtagError(f"Cannot read a transcript from {str(p)!r}: use a .json, .srt or .vtt file.")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise XmtagError(f"{str(p)!r} is not UTF-8 text.") from exc
        try:
            return readers[suffix](text)
        except XmtagError as exc:
            raise XmtagError(f"{str(p)!r}: {exc}") from exc


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def _json_depth(text: str) -> int:
    """Deepest nesting of ``[`` and ``{`` in JSON text (strings skipped), without recursing."""
    depth = deepest = 0
    for m in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):
        depth += 1 if m.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest
