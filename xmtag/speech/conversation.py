"""Synthesized conversations with known speaker turns, for testing and benchmarking diarization.

Each turn is spoken by a text-to-speech voice (espeak-ng variants and, when installed,
festival's ``cmu_us_slt_arctic_hts``), trimmed of its leading and trailing silence and
placed on a timeline after a pause, or *overlapping* the previous turn. The reference
turns are exactly where each voice's trimmed audio lies, so a diarization of the mix can
be scored against them (:func:`xmtag.speech.scoring.der`).

>>> from xmtag.speech.conversation import VOICES
>>> "espeak:en-us" in VOICES
True
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError, XmtagError
from ._audio import SAMPLE_RATE
from .diarization import Diarization, Turn

__all__ = ["VOICES", "available_voices", "say", "Conversation", "make_conversation", "SENTENCES"]

#: voices with clearly different speaker embeddings: espeak-ng variant + pitch, festival HTS
VOICES = {
    "espeak:en-us": ["espeak-ng", "-v", "en-us", "-p", "40", "-s", "160"],
    "espeak:en-us+f3": ["espeak-ng", "-v", "en-us+f3", "-p", "60", "-s", "150"],
    "festival:slt": ["text2wave", "-eval", "(voice_cmu_us_slt_arctic_hts)"],
    "espeak:en-us+kaukovalta": ["espeak-ng", "-v", "en-us+kaukovalta", "-p", "50", "-s", "150"],
    "espeak:en-us+f5": ["espeak-ng", "-v", "en-us+f5", "-p", "90", "-s", "170"],
}

SENTENCES = [
    "Good morning, thanks for joining the call today.",
    "I had a look at the report you sent last week.",
    "The numbers for the second quarter look better than we expected.",
    "Do you think we can finish the new version before the summer?",
    "We still have a few problems with the tests on the build machine.",
    "Could you send me the slides after the meeting?",
    "The weather was terrible, so we stayed inside all weekend.",
    "My sister is moving to a small town near the coast.",
    "I would rather wait until we know the final price.",
    "Let us meet again on Thursday and decide then.",
    "The library opens at nine and closes early on Fridays.",
    "Nobody expected the train to be so crowded this morning.",
    "We planted tomatoes and beans in the garden behind the house.",
    "The new kitchen took three months longer than planned.",
    "I think the second option is cheaper in the long run.",
    "Please remember to switch off the lights when you leave.",
]
SHORT = ["Yes.", "Right.", "Okay, sure.", "No, not really.", "Exactly.", "I see."]


def available_voices() -> list[str]:
    """The voices of :data:`VOICES` whose synthesizer is installed."""
    return [v for v, cmd in VOICES.items() if shutil.which(cmd[0])]


def say(text: str, voice: str) -> np.ndarray:
    """Synthesize ``text`` with ``voice`` -> float32 mono at 16 kHz, edge silence trimmed.

    Raises
    ------
    MissingDependencyError
        When the voice's synthesizer (``espeak-ng`` / ``text2wave``) is not installed.
    """
    from ..audio import load_audio

    if voice not in VOICES:
        raise XmtagError(f"Unknown voice {voice!r}; choose one of {', '.join(VOICES)}.")
    cmd = VOICES[voice]
    if shutil.which(cmd[0]) is None:
        raise MissingDependencyError(f"{cmd[0]} is not installed (apt-get install espeak-ng festival).")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "say.wav"
        if cmd[0] == "text2wave":
            src = Path(tmp) / "say.txt"
            src.write_text(text)
            subprocess.run([*cmd, str(src), "-o", str(out)], check=True, timeout=120, capture_output=True)
        else:
            subprocess.run([*cmd, "-w", str(out), text], check=True, timeout=120, capture_output=True)
        y, _ = load_audio(out, sr=SAMPLE_RATE, mono=True)
    y = y[0]
    loud = np.flatnonzero(np.abs(y) > 0.02 * max(float(np.abs(y).max()), 1e-6))
    return y[loud[0] : loud[-1] + 1].copy() if loud.size else y[:0]


@dataclass
class Conversation:
    """A mixed waveform (16 kHz mono), its reference :class:`Diarization` and the spoken words."""

    audio: np.ndarray
    reference: Diarization
    words: list[tuple[str, str]]  # (speaker, text) per turn, in order
    sr: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        return self.audio.size / self.sr


def make_conversation(
    n_speakers: int = 2,
    n_turns: int = 8,
    *,
    seed: int = 0,
    overlap: bool = True,
    short_turns: bool = True,
    voices: list[str] | None = None,
    lead: float = 0.5,
    uri: str = "conversation",
    cache: dict | None = None,
) -> Conversation:
    """A conversation of ``n_turns`` turns among ``n_speakers`` voices, with known turns.

    Turns rotate through the speakers (random order of the others), with pauses of
    0.3-0.9 s; with ``short_turns`` a quick back-and-forth of one-word answers follows
    the third turn; with ``overlap`` one turn starts 0.6 s before the previous one ends.

    Parameters
    ----------
    n_speakers : int
        2 to the number of available voices.
    n_turns : int
        Number of long turns.
    seed : int
        Picks sentences, voices' order, pauses.
    cache : dict, optional
        A dict that remembers synthesized (voice, text) clips between calls.

    Returns
    -------
    Conversation
    """
    pool = voices or available_voices()
    if n_speakers > len(pool):
        raise MissingDependencyError(
            f"{n_speakers} speakers need {n_speakers} voices; only {len(pool)} are installed "
            "(apt-get install espeak-ng festival festvox-us-slt-hts)."
        )
    rng = np.random.default_rng(seed)
    chosen = [pool[i] for i in rng.permutation(len(pool))[:n_speakers]]
    labels = [chr(ord("A") + i) for i in range(n_speakers)]
    cache = {} if cache is None else cache

    def clip(voice: str, text: str) -> np.ndarray:
        if (voice, text) not in cache:
            cache[(voice, text)] = say(text, voice)
        return cache[(voice, text)]

    plan: list[tuple[int, str, str]] = []  # (speaker, text, kind)
    sentences = [SENTENCES[i] for i in rng.permutation(len(SENTENCES))]
    spk = 0
    for t in range(n_turns):
        plan.append((spk, sentences[t % len(sentences)], "long"))
        if short_turns and t == 2:
            other = (spk + 1) % n_speakers
            for j in range(3):
                plan.append((other if j % 2 == 0 else spk, SHORT[int(rng.integers(len(SHORT)))], "short"))
            spk = other
        spk = (spk + 1 + int(rng.integers(max(1, n_speakers - 1)))) % n_speakers
        if n_speakers == 2:
            spk = 1 - plan[-1][0]
    overlap_at = int(rng.integers(4, len(plan))) if overlap and len(plan) > 4 else -1
    pieces, turns, words = [], [], []
    cursor = int(lead * SAMPLE_RATE)
    for i, (s, text, _kind) in enumerate(plan):
        y = clip(chosen[s], text)
        if i == overlap_at and turns and turns[-1][2] != labels[s]:
            start = max(int(turns[-1][0] * SAMPLE_RATE) + 1, int((turns[-1][1] - 0.6) * SAMPLE_RATE))
        else:
            start = cursor + int(rng.uniform(0.3, 0.9) * SAMPLE_RATE) if i else cursor
        pieces.append((start, y))
        turns.append(Turn(start / SAMPLE_RATE, (start + y.size) / SAMPLE_RATE, labels[s]))
        words.append((labels[s], text))
        cursor = max(cursor, start + y.size)
    total = cursor + int(lead * SAMPLE_RATE)
    audio = np.zeros(total, np.float32)
    for start, y in pieces:
        audio[start : start + y.size] += 0.5 * y
    return Conversation(audio, Diarization(turns, total / SAMPLE_RATE, uri), words)
