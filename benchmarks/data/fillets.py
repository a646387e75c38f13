"""Real voices for diarization: conversations built from the Fish Fillets NG voice recordings.

Debian ``fillets-ng-data`` (the game's level scripts) with ``fillets-ng-data-cs`` (Czech) and
``fillets-ng-data-nl`` (Dutch) ship thousands of dialogue lines recorded by **real voice
actors**: ``sound/<level>/<lang>/<id>.ogg``. The level scripts
(``script/<level>/code.lua``: ``addm(delay, "id")``, ``addv(...)``, ``planDialog(...)``,
``planDialogSet(...)``) give the order in which the lines are spoken, and
``script/<level>/dialogs_<lang>.lua`` their text and font. **Who speaks** a line: the small fish
(``m``) for ``addm``, the big fish (``v``) for ``addv`` -- the same two actors in every level of
a language --, else the fish of a ``font_small`` / ``font_big`` line, else the character letter
of the id (``<level>-<who>-<word>``, e.g. ``bar-x-vypr``). A named character's font
(``font_parrot``, ``font_viking3``, ...) is one speaker in every level. Set version 2 took the
speaker from the id alone; in the levels ``keys``, ``key`` and ``electromagnet`` the ids are
numbered (``rand-3-2``) and the fish speak them, so one actor became up to five reference
speakers (every Dutch "character" was one of the two fish), and the parrot of two levels two
speakers. The game credits no voice actors per character; other characters are assumed to be
other actors (their embeddings are far from the fish's, see benchmarks/README.md).
Licence: the game data is GPL-2 (``/usr/share/doc/fillets-ng-data*/copyright``:
"Copyright 2004-2016 by Michal Čihař ... and others", GNU General Public License version 2);
the conversations built here are derived from it and are not redistributed (they are rebuilt
on each machine from the Debian packages).

A *conversation* strings lines together in script order: 2 speakers (one language, the two
fish), 3 or 4 speakers (runs of lines from a Czech level and a Dutch level interleaved: four
different actors), with natural pauses between turns, some overlapping turn starts (5-15 % of the
speech time overlapped), and one of three recording conditions: ``clean``, ``room`` (a
synthetic room impulse response and background noise) or ``phone`` (300-3400 Hz band, 8-kHz
sampling, line noise). The reference RTTM is written from where each line is voice
(:func:`voice_segments`: the line's audio from its onset to where its level last comes within
20 dB of its peak, split at pauses of 0.3 s or more). Set versions 2 and 3 marked the whole
trimmed line (to 30 dB below the peak), which counted ~0.3 s of reverberant decay after every
line as speech; the audio is the same.
Levels are split into a **development half** (tune
there) and a **test half** (report there only); the split and every random choice are seeded.

Usage::

    python benchmarks/data/fillets.py              # 24 + 24 conversations, ~1 min
    python benchmarks/data/fillets.py --quick      # 4 + 4 conversations

Output: ``<XMTAG_BENCH_DATA or benchmarks/data/cache>/fillets/seed<seed>/<half>/<uri>.wav`` with
``<uri>.rttm`` (reference) and ``<uri>.json`` (lines: speaker, start, end, text, source file),
and ``meta.json`` written last. From Python::

    import fillets
    for conv in fillets.conversation_set("dev"):
        conv.audio, conv.sr, conv.turns, conv.lines
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _tools

APT_PACKAGES = ("fillets-ng-data", "fillets-ng-data-cs", "fillets-ng-data-nl")
ROOT = Path(os.environ.get("XMTAG_FILLETS_ROOT", "/usr/share/games/fillets-ng"))
LANGS = ("cs", "nl")
SR = 16000
VERSION = 4  # bump when the construction changes: cached sets are rebuilt
CONDITIONS = ("clean", "room", "phone")
HALVES = ("dev", "test")

_CALL = re.compile(r"\b(add[a-z]|planDialog|planDialogSet)\s*\(")
_ID = re.compile(r'"([^"]+)"(\s*\.\.\s*(random|randint)\s*\(([^)]*)\))?')
_DIALOG = re.compile(r'dialogId\(\s*"([^"]+)"\s*,\s*"([^"]*)"\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)')
_STR = re.compile(r'dialogStr\(\s*"((?:[^"\\]|\\.)*)"\s*\)')


@dataclass(frozen=True)
class Line:
    """One recorded dialogue line.

    Attributes
    ----------
    id : str
        The line's id, e.g. ``"bar-m-barel"``.
    level, lang : str
        The level (``"barrel"``) and the language of the recording (``"cs"``).
    who : str
        The speaker letter(s) of the id (``"m"``, ``"v"``, ``"x"``, ...).
    speaker : str
        A speaker label unique to the actor as far as the data says: ``"cs-m"`` and ``"cs-v"``
        for the two fish (the same actor in every level), ``"cs-parrot"`` for a named
        character (its font), ``"cs-barrel-x"`` for other characters.
    path : pathlib.Path
        The ``.ogg`` file.
    text : str
        The subtitle text in ``lang`` ("" when the level has none).
    """

    id: str
    level: str
    lang: str
    who: str
    speaker: str
    path: Path
    text: str


@dataclass(frozen=True)
class Level:
    """A level's spoken lines in script order (each line once, at its first mention)."""

    name: str
    lang: str
    lines: tuple[Line, ...]


@dataclass
class Conversation:
    """A built conversation: 16-kHz mono audio, the reference turns and the lines spoken."""

    uri: str
    half: str
    condition: str
    audio: np.ndarray
    sr: int
    turns: list[tuple[float, float, str]]
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.audio) / self.sr

    @property
    def speakers(self) -> list[str]:
        """The reference speakers, sorted."""
        return sorted({t[2] for t in self.turns})

    def rttm(self) -> str:
        """The reference turns as RTTM text."""
        return "".join(
            f"SPEAKER {self.uri} 1 {s:.3f} {e - s:.3f} <NA> <NA> {spk} <NA> <NA>\n"
            for s, e, spk in self.turns
        )


def available(root: Path = ROOT) -> bool:
    """Whether the game scripts and at least one voice language are installed."""
    return (root / "script").is_dir() and any(any((root / "sound").glob(f"*/{lang}/*.ogg")) for lang in LANGS)


def _unescape(s: str) -> str:
    return s.replace('\\"', '"').replace("\\n", " ").replace("\\\\", "\\")


def dialog_texts(level: str, lang: str, root: Path = ROOT) -> dict[str, tuple[str, str]]:
    """``{id: (font, text)}`` of ``script/<level>/dialogs_<lang>.lua`` (empty when absent)."""
    path = root / "script" / level / f"dialogs_{lang}.lua"
    if not path.is_file():
        return {}
    out: dict[str, tuple[str, str]] = {}
    src = path.read_text(encoding="utf-8", errors="replace")
    matches = list(_DIALOG.finditer(src))
    for k, m in enumerate(matches):
        end = matches[k + 1].start() if k + 1 < len(matches) else len(src)
        s = _STR.search(src, m.end(), end)
        out[m.group(1)] = (m.group(2), _unescape(s.group(1) if s else m.group(3)))
    return out


def script_ids(level: str, root: Path = ROOT) -> list[tuple[str, int, str | None]]:
    """The line ids a level's ``code.lua`` plays, in file order, as ``(id, variants, fish)``.

    ``variants`` is 0 for a plain id and *n* for ``"id" ..random(n)`` (ids ``id0``..``id<n-1>``).
    ``fish`` is ``"m"`` / ``"v"`` when the line is played by ``addm`` / ``addv`` (the small /
    big fish speaks it, whatever the id looks like), ``None`` for ``planDialog`` calls (another
    character).
    """
    path = root / "script" / level / "code.lua"
    if not path.is_file():
        return []
    out = []
    for text in path.read_text(encoding="utf-8", errors="replace").splitlines():
        code = text.split("--", 1)[0]
        for call in _CALL.finditer(code):
            if call.group(1) == "adddel":
                continue
            m = _ID.search(code, call.end())
            if not m:
                continue
            variants = 0
            if m.group(3) == "random":
                variants = int(m.group(4).strip() or 0) if m.group(4).strip().isdigit() else 0
            elif m.group(3) == "randint":
                parts = [p.strip() for p in m.group(4).split(",")]
                if len(parts) == 2 and all(p.isdigit() for p in parts):
                    variants = int(parts[1]) + 1
            fish = call.group(1)[3:] if call.group(1) in ("addm", "addv") else None
            out.append((m.group(1), variants, fish))
    return out


#: dialogue fonts of the two fish (``dialogs_<lang>.lua``): the font says who speaks a line
_FISH_FONTS = {"font_small": "m", "font_big": "v"}
#: fonts of named characters who speak in several levels (the same character, the same actor)
_CHARACTER_FONTS = frozenset(
    {"font_parrot", "font_pizla", "font_snail", "font_robodog", "font_crab", "font_elk"}
    | {f"font_viking{k}" for k in range(1, 9)}
    | {"font_linuxer1", "font_linuxer2"}
)


def _who(ident: str, font: str, fish: str | None) -> str:
    """The speaker letter of a line: the fish of an ``addm``/``addv`` call, else the fish of a
    ``font_small``/``font_big`` line, else the id's letter (``bar-x-vypr``: ``x``).

    Ids do not always name the speaker: in ``keys``, ``key`` and ``electromagnet`` they are
    numbered (``rand-2-0``, ``init-3-1``) and the fish speak them (``addm(0, "rand-2-0")``).
    """
    if fish is not None:
        return fish
    if font in _FISH_FONTS:
        return _FISH_FONTS[font]
    return ident.split("-")[1]


def _speaker(level: str, lang: str, who: str, font: str = "") -> str:
    """The reference speaker of a line: one label per voice actor as far as the data tells.

    The two fish are the same actor in every level of a language (``cs-m``, ``cs-v``); a named
    character's font (``font_parrot``) is the same character in every level (``cs-parrot``);
    other characters are told apart by level and letter (``cs-barrel-x``).
    """
    if who in ("m", "v"):
        return f"{lang}-{who}"
    if font in _CHARACTER_FONTS:
        return f"{lang}-{font.removeprefix('font_')}"
    return f"{lang}-{level}-{who}"


def levels(lang: str, root: Path = ROOT) -> list[Level]:
    """Every level with recorded speech in ``lang``, its lines in script order.

    A line is kept when its ``.ogg`` exists in ``sound/<level>/<lang>/`` and ``dialogs_<lang>.lua``
    gives it a font (sound effects have none). An id played with ``..random(n)`` contributes
    each of its recorded variants, in order. Lines the script plays twice appear once.

    Parameters
    ----------
    lang : str
        ``"cs"`` or ``"nl"`` (any language with a ``sound/<level>/<lang>/`` folder works).
    root : pathlib.Path
        The game data folder (default ``/usr/share/games/fillets-ng``).

    Raises
    ------
    FileNotFoundError
        When the game data (or the language's voices) are not installed; the message names the
        Debian packages.
    """
    if not (root / "script").is_dir() or not any((root / "sound").glob(f"*/{lang}")):
        raise FileNotFoundError(
            f"{root}: no Fish Fillets scripts or '{lang}' voices; install the Debian packages "
            f"fillets-ng-data and fillets-ng-data-{lang} (apt-get install fillets-ng-data-{lang})"
        )
    out = []
    for folder in sorted(p for p in (root / "script").iterdir() if p.is_dir()):
        level = folder.name
        sounds = root / "sound" / level / lang
        if not sounds.is_dir():
            continue
        texts = dialog_texts(level, lang, root)
        seen: set[str] = set()
        lines = []
        for ident, variants, fish in script_ids(level, root):
            cands = [f"{ident}{k}" for k in range(variants)] if variants else [ident]
            for cid in cands:
                path = sounds / f"{cid}.ogg"
                if cid in seen or not path.is_file():
                    continue
                font, text = texts.get(cid, ("", ""))
                # lines without a font are sound effects; ids without a speaker field
                # (``m-bude``) are left out too (as in set version 2: the level split is unchanged)
                if not font or len(cid.split("-")) < 3:
                    continue
                who = _who(cid, font, fish)
                seen.add(cid)
                lines.append(Line(cid, level, lang, who, _speaker(level, lang, who, font), path, text))
        if lines:
            out.append(Level(level, lang, tuple(lines)))
    return out


def split_levels(names: Sequence[str], seed: int = 0) -> dict[str, list[str]]:
    """Split level names into ``{"dev": [...], "test": [...]}`` halves (seeded, disjoint)."""
    names = sorted(set(names))
    order = np.random.default_rng(seed).permutation(len(names))
    half = len(names) // 2
    return {
        "dev": sorted(names[i] for i in order[:half]),
        "test": sorted(names[i] for i in order[half:]),
    }


# ---------------------------------------------------------------------------------------------
# audio


def _resample(y: np.ndarray, sr: int, target: int) -> np.ndarray:
    if sr == target:
        return y.astype(np.float32)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(sr, target)
    return resample_poly(y, target // g, sr // g).astype(np.float32)


def load_line(path: Path, sr: int = SR, top_db: float = 30.0) -> np.ndarray:
    """A line's audio, mono at ``sr``, trimmed of leading/trailing silence.

    The recordings end in a long reverberant tail (an effect of the game's mix, 20-40 dB below
    the voice); everything before the first and after the last 10-ms frame within ``top_db`` of
    the line's peak is cut (with 10 ms kept and faded each side), so that the reference turn is
    the voice, not its echo.
    """
    import soundfile as sf

    try:
        y, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise RuntimeError(f"{path}: cannot decode ({exc})") from exc
    y = _resample(y.mean(axis=1), file_sr, sr)
    if not len(y):
        return y
    hop = max(1, sr // 100)
    frames = len(y) // hop
    if frames < 2:
        return y
    rms = np.sqrt(np.mean(y[: frames * hop].reshape(frames, hop) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > -top_db)
    start = max(0, loud[0] * hop - hop)
    end = min(len(y), (loud[-1] + 2) * hop)
    y = y[start:end].copy()
    fade = min(hop, len(y) // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        y[:fade] *= ramp
        y[-fade:] *= ramp[::-1]
    return y


#: a line's voice ends where its level last exceeds the peak minus this (dB); below it, to the
#: -30-dB trim, is the smooth reverberant decay of the game's mix (median 0.29 s per line)
VOICE_DB = 20.0
#: a stretch this long (s) below the trim level inside a line is a pause, not speech (the
#: 0.3-s minimum pause of the NIST Rich Transcription evaluations)
MIN_PAUSE = 0.3


def voice_segments(
    y: np.ndarray,
    sr: int = SR,
    voice_db: float = VOICE_DB,
    top_db: float = 30.0,
    min_pause: float = MIN_PAUSE,
) -> list[tuple[float, float]]:
    """Where a trimmed line (:func:`load_line`) is voice: ``[(start_s, end_s), ...]`` in the clip.

    The clip is split at pauses (at least ``min_pause`` seconds of 10-ms frames more than
    ``top_db`` below the line's peak); each piece starts at its first frame within ``top_db``
    of the peak and ends 20 ms after its last frame within ``voice_db`` of it. Onsets rise
    through those 10 dB within one frame; ends decay through them over ~0.3 s of room
    reverberation, which a listener would not mark as speech.
    """
    hop = max(1, sr // 100)
    frames = len(y) // hop
    if frames < 2:
        return [(0.0, len(y) / sr)] if len(y) else []
    rms = np.sqrt(np.mean(y[: frames * hop].reshape(frames, hop) ** 2, axis=1) + 1e-12)
    db = 20 * np.log10(rms / rms.max())
    loud = np.flatnonzero(db > -top_db)
    if loud.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(loud) > int(round(min_pause * 100)))
    out = []
    for a, b in zip(np.concatenate([[0], cuts + 1]), np.concatenate([cuts, [loud.size - 1]]), strict=True):
        first, last = loud[a], loud[b]
        voiced = np.flatnonzero(db[first : last + 1] > -voice_db)
        if voiced.size == 0:
            continue
        end = first + voiced[-1] + 1
        out.append((first * hop / sr, min(len(y), (end + 2) * hop) / sr))
    return out or [(0.0, len(y) / sr)]


def _room_ir(rng: np.random.Generator, sr: int) -> np.ndarray:
    rt60 = rng.uniform(0.25, 0.5)
    n = int(rt60 * sr)
    t = np.arange(n) / sr
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60) * 0.3
    ir[0] = 1.0
    return (ir / np.sqrt(np.sum(ir**2))).astype(np.float32)


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec))
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    y = np.fft.irfft(spec, n)
    return (y / (np.std(y) + 1e-12)).astype(np.float32)


def apply_condition(y: np.ndarray, condition: str, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """Apply a recording condition to a 16-kHz mixture: ``clean``, ``room`` or ``phone``."""
    from scipy.signal import butter, fftconvolve, sosfilt

    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; choose one of {CONDITIONS}")
    speech_rms = float(np.sqrt(np.mean(y**2)) + 1e-12)
    if condition == "room":
        y = fftconvolve(y, _room_ir(rng, sr))[: len(y)].astype(np.float32)
        snr = rng.uniform(15, 25)
        y = y + _pink(rng, len(y)) * speech_rms * 10 ** (-snr / 20)
    elif condition == "phone":
        y8 = _resample(y, sr, 8000)
        y8 = sosfilt(butter(6, [300, 3400], btype="bandpass", fs=8000, output="sos"), y8).astype(np.float32)
        y8 = y8 + rng.standard_normal(len(y8)).astype(np.float32) * speech_rms * 10 ** (
            -rng.uniform(25, 35) / 20
        )
        y = _resample(y8, 8000, sr)[: len(y)]
    return y.astype(np.float32)


def _layout(
    lines: Sequence[Line], durs: Sequence[float], rng: np.random.Generator, prob: float
) -> list[float]:
    starts: list[float] = []
    prev: Line | None = None
    prev_end = prev_dur = 0.0
    for ln, dur in zip(lines, durs, strict=True):
        if prev is None:
            start = 0.3
        elif ln.speaker == prev.speaker:
            start = prev_end + rng.uniform(0.15, 0.6)
        elif rng.random() < prob:
            start = prev_end - min(rng.uniform(0.3, 1.5), 0.4 * dur, 0.4 * prev_dur)
        else:
            start = prev_end + min(2.0, 0.2 + rng.gamma(2.0, 0.25))
        start = max(start, starts[-1] + 0.05 if starts else 0.0)
        starts.append(start)
        if prev is None or start + dur > prev_end:
            prev_end, prev_dur = start + dur, dur
        prev = ln
    return starts


def build_conversation(
    lines: Sequence[Line],
    *,
    seed: int = 0,
    uri: str = "conv",
    half: str = "dev",
    condition: str = "clean",
    overlap_prob: float = 0.3,
    sr: int = SR,
) -> Conversation:
    """Lay lines out in order with natural pauses and some overlapping turn starts.

    Between lines of the same speaker a short pause (0.15-0.6 s); at a change of speaker either a
    pause (0.2-2 s, gamma-distributed) or, with probability ``overlap_prob``, the next speaker
    starting before the previous line ends (by 0.3-1.5 s, at most 40 % of either line); the
    probability is raised or lowered until 5-15 % of the speech time (the lines' voice,
    :func:`voice_segments`) overlaps (when the lines allow). Each
    speaker gets a gain within +-3 dB; the mixture is normalised to -20 dBFS RMS, then the
    recording ``condition`` is applied. Reference turns are the lines' voice
    (:func:`voice_segments`); ``lines`` keeps each line's whole span and its ``voice`` segments.
    """
    if not lines:
        raise ValueError("build_conversation: no lines")
    rng = np.random.default_rng(seed)
    gains = {s: 10 ** (rng.uniform(-3, 3) / 20) for s in sorted({ln.speaker for ln in lines})}
    clips = [load_line(ln.path, sr) for ln in lines]
    durs = [len(c) / sr for c in clips]
    voices = [voice_segments(c, sr) for c in clips]
    state = rng.bit_generator.state
    prob = overlap_prob
    for _ in range(8):  # raise / lower the overlap probability until 5-15 % of speech overlaps
        rng.bit_generator.state = state
        starts = _layout(lines, durs, rng, prob)
        frac = overlap_fraction(
            [(s + a, s + b, ln.speaker) for s, v, ln in zip(starts, voices, lines, strict=True) for a, b in v]
        )
        if frac < 0.05:
            prob = min(1.0, prob + 0.15)
        elif frac > 0.15:
            prob = max(0.0, prob - 0.1)
        else:
            break
    total = max(s + len(c) / sr for s, c in zip(starts, clips, strict=True)) + 0.5
    y = np.zeros(int(np.ceil(total * sr)), np.float32)
    turns, info = [], []
    for ln, clip, s in zip(lines, clips, starts, strict=True):
        i = int(round(s * sr))
        y[i : i + len(clip)] += clip * gains[ln.speaker]
        e = (i + len(clip)) / sr
        voice = [(round(i / sr + a, 3), round(i / sr + b, 3)) for a, b in voices[len(info)]]
        turns.extend((a, b, ln.speaker) for a, b in voice)
        info.append(
            {
                "id": ln.id,
                "speaker": ln.speaker,
                "start": round(i / sr, 3),
                "end": round(e, 3),
                "voice": voice,
                "text": ln.text,
                "lang": ln.lang,
                "file": str(ln.path),
            }
        )
    turns.sort()
    y *= 10 ** (-20 / 20) / (np.sqrt(np.mean(y**2)) + 1e-12)
    y = apply_condition(y, condition, rng, sr)
    peak = float(np.max(np.abs(y)))
    if peak > 0.99:
        y *= 0.99 / peak
    return Conversation(uri, half, condition, y.astype(np.float32), sr, turns, info)


def overlap_fraction(turns: Sequence[tuple[float, float, str]], step: float = 0.01) -> float:
    """Fraction of the speech time (any speaker active) where two or more speakers talk."""
    if not turns:
        return 0.0
    n = int(np.ceil(max(e for _, e, _ in turns) / step)) + 1
    count = np.zeros(n, np.int32)
    for s, e, _ in turns:
        count[int(round(s / step)) : int(round(e / step))] += 1
    speech = int(np.sum(count > 0))
    return float(np.sum(count > 1) / speech) if speech else 0.0


# ---------------------------------------------------------------------------------------------
# the set


def _durations(lines: Sequence[Line]) -> dict[str, float]:
    import soundfile as sf

    return {str(ln.path): sf.info(str(ln.path)).duration for ln in lines}


class _Stream:
    """Lines of a half's levels in one language, level after level (seeded order), cycling."""

    def __init__(self, lvls: Sequence[Level], rng: np.random.Generator):
        self.levels = list(lvls)
        self.rng = rng
        self.queue: list[Line] = []

    def take(self) -> Line:
        if not self.queue:
            for k in self.rng.permutation(len(self.levels)):
                self.queue.extend(self.levels[k].lines)
        return self.queue.pop(0)


def plan(half: str, n: int, seed: int = 0, root: Path = ROOT) -> list[dict[str, Any]]:
    """The lines and settings of ``n`` conversations of one half (no audio decoded).

    Conversation ``i`` has 2 speakers (one language's two fish and whoever else the script
    makes speak) when ``i % 4`` is 0 or 1, else lines of a Czech and a Dutch level interleaved in
    runs of 2-5 lines (3 speakers: only one fish of the second language; 4: both). At most 4
    speakers: lines of the least-heard extra characters are dropped. Target length 80-240 s of lines
    (never above 300 s); condition cycles clean / room / phone.
    """
    if half not in HALVES:
        raise ValueError(f"half must be one of {HALVES}, not {half!r}")
    rng = np.random.default_rng([seed, HALVES.index(half)])
    by_lang = {lang: levels(lang, root) for lang in LANGS}
    names = sorted({lv.name for lvls in by_lang.values() for lv in lvls})
    keep = set(split_levels(names, seed)[half])
    streams = {lang: _Stream([lv for lv in by_lang[lang] if lv.name in keep], rng) for lang in LANGS}
    durations: dict[str, float] = {}
    for lang in LANGS:
        for lv in by_lang[lang]:
            if lv.name in keep:
                durations.update(_durations(lv.lines))
    plans = []
    for i in range(n):
        mode = i % 4
        target = float(rng.uniform(80, 240))
        first = LANGS[(i // 4) % 2] if mode < 2 else LANGS[i % 2]
        second = LANGS[1 - LANGS.index(first)]
        fish2 = ("m", "v") if mode == 3 else (str(rng.choice(["m", "v"])),)
        chosen: list[Line] = []
        total = 0.0
        use_first = True
        while total < target or len({ln.speaker for ln in chosen}) < (2 if mode < 2 else mode):
            run = int(rng.integers(2, 6)) if mode >= 2 else 1
            for _ in range(run):
                if use_first:
                    ln = streams[first].take()
                else:
                    ln = streams[second].take()
                    while ln.who not in fish2:
                        ln = streams[second].take()
                chosen.append(ln)
                total += durations[str(ln.path)] + 0.5
            if mode >= 2:
                use_first = not use_first
            if total > 300:
                break
        counts: dict[str, float] = {}
        for ln in chosen:
            counts[ln.speaker] = counts.get(ln.speaker, 0.0) + durations[str(ln.path)]
        allowed = sorted(counts, key=lambda s: (-counts[s], s))[:4]
        chosen = [ln for ln in chosen if ln.speaker in allowed]
        plans.append(
            {
                "uri": f"fillets-{half}-{i:02d}",
                "half": half,
                "lines": chosen,
                "seed": int(rng.integers(0, 2**31 - 1)),
                "condition": CONDITIONS[i % 3],
            }
        )
    return plans


def _folder(seed: int) -> Path:
    return _tools.CACHE_ROOT / "fillets" / f"v{VERSION}-seed{seed}"


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save(conv: Conversation, folder: Path) -> None:
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, conv.audio, conv.sr, format="WAV", subtype="PCM_16")
    _atomic_write(folder / f"{conv.uri}.wav", buf.getvalue())
    _atomic_write(folder / f"{conv.uri}.rttm", conv.rttm().encode())
    meta = {"uri": conv.uri, "half": conv.half, "condition": conv.condition, "lines": conv.lines}
    _atomic_write(folder / f"{conv.uri}.json", json.dumps(meta, ensure_ascii=False, indent=1).encode())


def _load(folder: Path, uri: str) -> Conversation:
    import soundfile as sf

    meta = json.loads((folder / f"{uri}.json").read_text())
    y, sr = sf.read(str(folder / f"{uri}.wav"), dtype="float32")
    turns = sorted((a, b, ln["speaker"]) for ln in meta["lines"] for a, b in ln["voice"])
    return Conversation(uri, meta["half"], meta["condition"], y, sr, turns, meta["lines"])


def conversation_set(half: str, n: int = 24, seed: int = 0, *, progress: bool = False) -> list[Conversation]:
    """The ``n`` conversations of a half (``"dev"`` or ``"test"``), built once and cached.

    Cached under ``<XMTAG_BENCH_DATA>/fillets/v<VERSION>-seed<seed>/<half>/``; the first ``k``
    conversations of a set of ``n`` are the same as those of a set of ``k`` (same seed).
    """
    folder = _folder(seed) / half
    meta_path = folder / "meta.json"
    done = json.loads(meta_path.read_text())["uris"] if meta_path.is_file() else []
    uris = [f"fillets-{half}-{i:02d}" for i in range(n)]
    if all(u in done for u in uris):
        return [_load(folder, u) for u in uris]
    plans = plan(half, max(n, len(done)), seed)
    out = []
    for k, p in enumerate(plans[:n]):
        if p["uri"] in done:
            out.append(_load(folder, p["uri"]))
            continue
        if progress:
            _tools.say(f"fillets: building {p['uri']} ({k + 1}/{n})")
        conv = build_conversation(
            p["lines"], seed=p["seed"], uri=p["uri"], half=half, condition=p["condition"]
        )
        _save(conv, folder)
        out.append(conv)
    all_done = sorted(set(done) | {c.uri for c in out})
    _atomic_write(meta_path, json.dumps({"version": VERSION, "seed": seed, "uris": all_done}).encode())
    return out


def describe(convs: Sequence[Conversation]) -> dict[str, Any]:
    """Summary numbers of a set: count, minutes, speakers per conversation, overlap, languages."""
    return {
        "conversations": len(convs),
        "minutes": round(sum(c.duration for c in convs) / 60, 1),
        "duration_s": [round(min(c.duration for c in convs), 1), round(max(c.duration for c in convs), 1)],
        "speakers": {k: sum(len(c.speakers) == k for c in convs) for k in range(1, 7)},
        "overlap_fraction": [
            round(min(overlap_fraction(c.turns) for c in convs), 3),
            round(max(overlap_fraction(c.turns) for c in convs), 3),
        ],
        "conditions": {cond: sum(c.condition == cond for c in convs) for cond in CONDITIONS},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 conversations per half")
    parser.add_argument("-n", type=int, default=24, help="conversations per half (default 24)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not available():
        _tools.ensure_apt(APT_PACKAGES)
    n = 4 if args.quick else args.n
    for half in HALVES:
        convs = conversation_set(half, n, args.seed, progress=True)
        print(half, json.dumps(describe(convs)))
    print(f"cached under {_folder(args.seed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
