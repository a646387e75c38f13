"""The :class:`Diarization` type: who spoke when, with RTTM files and tables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .._files import atomic_write_text, check_input_file
from ..errors import XmtagError

__all__ = ["Turn", "Diarization", "DiarizationQuality"]


class Turn(NamedTuple):
    """One speaker turn: ``start`` and ``end`` in seconds and the ``speaker`` label."""

    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class DiarizationQuality:
    """How sure the speaker clustering is.

    Attributes
    ----------
    uncertain : bool
        True when the result should be checked by ear (see ``reasons``).
    reasons : tuple of str
        Why, in words (empty when certain).
    margin : float or None
        Distance, in the clustering's cosine distance, between the cut (the threshold) and the
        nearest merge on either side of it: a small margin means a slightly different threshold
        would change the number of speakers. ``None`` when the number of speakers was given or
        there were too few turns to cluster.
    threshold : float or None
        The threshold the margin refers to.

    Examples
    --------
    >>> q = DiarizationQuality(True, ("one speaker in 95 s of speech",), 0.02, 0.5)
    >>> q.uncertain, str(q)
    (True, 'uncertain: one speaker in 95 s of speech (margin 0.02)')
    >>> str(DiarizationQuality(False, (), 0.31, 0.5))
    'certain (margin 0.31)'
    """

    uncertain: bool = False
    reasons: tuple[str, ...] = ()
    margin: float | None = None
    threshold: float | None = None

    def __str__(self) -> str:
        tail = f" (margin {self.margin:.2f})" if self.margin is not None else ""
        if not self.uncertain:
            return "certain" + tail
        return "uncertain: " + "; ".join(self.reasons) + tail

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "uncertain": self.uncertain,
            "reasons": list(self.reasons),
            "margin": None if self.margin is None else round(float(self.margin), 4),
            "threshold": self.threshold,
        }


@dataclass
class Diarization:
    """Speaker turns of one recording, in time order (turns of two speakers may overlap).

    Parameters
    ----------
    turns : list of Turn or (start, end, speaker) tuples
        Sorted by start time on construction.
    duration : float, optional
        Length of the recording in seconds.
    uri : str
        The recording's name in RTTM files.
    quality : DiarizationQuality, optional
        How sure :func:`~xmtag.speech.diarize` is of the speakers it found (``None`` for turns
        read from RTTM or made by hand).

    Examples
    --------
    >>> d = Diarization([(0.0, 2.0, "A"), (1.5, 4.0, "B"), (4.5, 5.0, "A")], duration=6.0, uri="talk")
    >>> d.speakers
    ['A', 'B']
    >>> d.speech()
    {'A': 2.5, 'B': 2.5}
    >>> print(d.to_rttm(), end="")
    SPEAKER talk 1 0.000 2.000 <NA> <NA> A <NA> <NA>
    SPEAKER talk 1 1.500 2.500 <NA> <NA> B <NA> <NA>
    SPEAKER talk 1 4.500 0.500 <NA> <NA> A <NA> <NA>
    >>> Diarization.from_rttm(d.to_rttm()).turns == d.turns
    True
    >>> d.crop(1.0, 3.0).turns
    [Turn(start=1.0, end=2.0, speaker='A'), Turn(start=1.5, end=3.0, speaker='B')]
    """

    turns: list[Turn] = field(default_factory=list)
    duration: float | None = None
    uri: str = "audio"
    quality: DiarizationQuality | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        turns = []
        for t in self.turns:
            start, end, speaker = float(t[0]), float(t[1]), str(t[2])
            if not (end >= start >= 0):
                raise XmtagError(
                    f"A speaker turn needs 0 <= start <= end, got ({start}, {end}, {speaker!r})."
                )
            turns.append(Turn(round(start, 3), round(end, 3), speaker))
        self.turns = sorted(turns, key=lambda t: (t.start, t.end, t.speaker))

    def __len__(self) -> int:
        return len(self.turns)

    def __iter__(self):
        return iter(self.turns)

    @property
    def speakers(self) -> list[str]:
        """Speaker labels in order of first appearance."""
        return list(dict.fromkeys(t.speaker for t in self.turns))

    @property
    def num_speakers(self) -> int:
        """How many distinct speakers."""
        return len(self.speakers)

    def speech(self) -> dict[str, float]:
        """Total speech per speaker in seconds (overlapping turns of one speaker counted once)."""
        out = {}
        for s in self.speakers:
            total, last = 0.0, -1.0
            for t in self.turns:
                if t.speaker != s:
                    continue
                lo = max(t.start, last)
                if t.end > lo:
                    total += t.end - lo
                last = max(last, t.end)
            out[s] = round(total, 3)
        return out

    def speaker_at(self, start: float, end: float, max_distance: float = 1.0) -> str | None:
        """The speaker who speaks most in ``[start, end]``, else the nearest within ``max_distance`` s.

        Examples
        --------
        >>> d = Diarization([(0.0, 2.0, "A"), (2.0, 4.0, "B")])
        >>> d.speaker_at(1.5, 2.8), d.speaker_at(4.3, 4.5), d.speaker_at(9.0, 9.5)
        ('B', 'B', None)
        """
        best, best_overlap = None, 0.0
        overlap: dict[str, float] = {}
        for t in self.turns:
            if t.start >= end:
                break
            o = min(t.end, end) - max(t.start, start)
            if o > 0:
                overlap[t.speaker] = overlap.get(t.speaker, 0.0) + o
        for s, o in overlap.items():
            if o > best_overlap:
                best, best_overlap = s, o
        if best is not None:
            return best
        dist = [(max(t.start - end, start - t.end), t.speaker) for t in self.turns]
        dist = [d for d in dist if d[0] <= max_distance]
        return min(dist)[1] if dist else None

    def crop(self, start: float, end: float) -> Diarization:
        """The turns inside ``[start, end]``, cut at its edges (times stay absolute)."""
        turns = [Turn(max(t.start, start), min(t.end, end), t.speaker) for t in self.turns]
        return Diarization([t for t in turns if t.end > t.start], self.duration, self.uri, self.quality)

    def rename(self, mapping: dict[str, str]) -> Diarization:
        """A copy with speakers renamed by ``mapping`` (others keep their label)."""
        return Diarization(
            [Turn(t.start, t.end, mapping.get(t.speaker, t.speaker)) for t in self.turns],
            self.duration,
            self.uri,
            self.quality,
        )

    def to_frame(self):
        """A :class:`pandas.DataFrame` with columns ``start``, ``end``, ``duration``, ``speaker``."""
        import pandas as pd

        return pd.DataFrame(
            {
                "start": [t.start for t in self.turns],
                "end": [t.end for t in self.turns],
                "duration": [round(t.end - t.start, 3) for t in self.turns],
                "speaker": [t.speaker for t in self.turns],
            }
        )

    def to_annotation(self) -> Any:
        """The turns as a ``pyannote.core.Annotation`` (needs ``pyannote.core`` installed).

        Raises
        ------
        MissingDependencyError
            Without ``pyannote.core``.
        """
        from ..errors import require

        core = require("pyannote.core", "diarize", "pyannote.core annotations")
        ann = core.Annotation(uri=self.uri)
        for i, t in enumerate(self.turns):
            ann[core.Segment(t.start, t.end), i] = t.speaker
        return ann

    def to_rttm(self, uri: str | None = None) -> str:
        """NIST RTTM text, one ``SPEAKER`` line per turn.

        Parameters
        ----------
        uri : str, optional
            The recording name written in each line (default ``self.uri``); spaces become ``_``.
        """
        name = (uri or self.uri or "audio").replace(" ", "_")
        return "".join(
            f"SPEAKER {name} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {t.speaker} <NA> <NA>\n"
            for t in self.turns
        )

    def save(self, path: str | os.PathLike[str], uri: str | None = None) -> Path:
        """Write an RTTM file atomically (``uri`` defaults to the file's stem)."""
        p = Path(path)
        return atomic_write_text(p, self.to_rttm(uri or (self.uri if self.uri != "audio" else p.stem)))

    @classmethod
    def from_rttm(cls, source: str | os.PathLike[str], uri: str | None = None) -> Diarization:
        """Read RTTM from a file path or from RTTM text.

        Parameters
        ----------
        source : str or os.PathLike
            A path to an ``.rttm`` file, or the text itself (anything with a newline or
            starting with ``SPEAKER``).
        uri : str, optional
            Keep only lines of this recording (default: all; an error if several).

        Raises
        ------
        XmtagError
            Malformed lines or several recordings without ``uri``.
        """
        text = os.fspath(source)
        if "\n" not in text and not text.startswith("SPEAKER"):
            p = check_input_file(text, "RTTM file")
            text = p.read_text(encoding="utf-8")
        turns, uris = [], []
        for i, line in enumerate(text.splitlines(), 1):
            parts = line.split()
            if not parts or parts[0] != "SPEAKER":
                continue
            try:
                name, start, dur, speaker = parts[1], float(parts[3]), float(parts[4]), parts[7]
            except (IndexError, ValueError) as exc:
                raise XmtagError(f"RTTM line {i} is malformed ({line.strip()!r}).") from exc
            if uri is not None and name != uri:
                continue
            uris.append(name)
            turns.append(Turn(start, start + dur, speaker))
        names = list(dict.fromkeys(uris))
        if len(names) > 1:
            raise XmtagError(f"The RTTM holds several recordings ({', '.join(names[:5])}); pass uri=...")
        return cls(turns, None, names[0] if names else (uri or "audio"))
