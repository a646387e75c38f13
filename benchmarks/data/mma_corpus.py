"""Render the genre-labelled multitrack corpus: MMA style presets -> MIDI per part -> fluidsynth stems.

Each song is one MMA groove (Debian ``mma``: drums, bass and chord patterns in a named style)
played over a seeded chord progression typical of its genre, in a seeded key and tempo. The
MIDI parts are grouped by General MIDI family into up to five stems -- ``drums``, ``bass``,
``keys`` (piano, chromatic percussion, organ), ``guitar`` and ``other`` (strings, brass, reeds,
synths, ...) -- and each stem is rendered separately with fluidsynth and the FluidR3 GM
SoundFont (no reverb or chorus). The mixture of a song is **defined as the sum of its stems**
(a separately rendered mix differs by ~1e-3 near onsets). All stems of a song get one common
gain that brings the mixture to -20 dBFS RMS.

Genres are named after tags of the musicnn MSD tagger, so the tagger's top genre tag can be
checked against the corpus label.

Usage::

    python benchmarks/data/mma_corpus.py            # 36 songs x 30 s, ~1 min, 1.4 GB
    python benchmarks/data/mma_corpus.py --quick    # 6 songs

Debian packages ``mma``, ``fluidsynth`` and ``fluid-soundfont-gm`` are installed with apt-get
if missing (the script says so). Output: ``benchmarks/data/cache/mma/<song>/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _tools

APT_PACKAGES = ("mma", "fluidsynth", "fluid-soundfont-gm")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SAMPLE_RATE = 44100
STEM_ORDER = ("drums", "bass", "keys", "guitar", "other")
#: bumped when rendering changes so cached songs are re-rendered (2: seeded MMA, fixed fluidsynth)
RENDER_VERSION = 2
#: fluidsynth settings that render a MIDI file identically every time: one synthesis thread
#: (``synth.cpu-cores=1``), no reverb or chorus, a fixed rate, gain, polyphony and block size,
#: float output (no dither). ``-R 0 -C 0`` are the same switches as the settings, kept for
#: older fluidsynth versions.
FLUIDSYNTH_SETTINGS = (
    "synth.cpu-cores=1",
    "synth.reverb.active=0",
    "synth.chorus.active=0",
    f"synth.sample-rate={SAMPLE_RATE}",
    "synth.gain=0.5",
    "synth.polyphony=256",
    "audio.period-size=64",
)

#: genre (an MSD tag of musicnn) -> MMA grooves (checked against mma 21.09's libraries)
GENRES: dict[str, tuple[str, ...]] = {
    "rock": ("Rock1", "BasicRock", "60sRock", "DigitalRock"),
    "jazz": ("JazzCombo", "Bebop", "ModernJazz", "Swing"),
    "blues": ("Blues", "FastBlues", "SlowBlues", "ShuffleBoggie"),
    "country": ("CountrySwing", "Bluegrass", "HillCountry", "SlowCountry"),
    "folk": ("Folk", "BlueFolk", "FolkRock"),
    "funk": ("Funk1", "Funk2", "BvFunk"),
    "soul": ("Soul", "60sSoul", "DiscoSoul", "MellowRB"),
    "electronic": ("House", "Techno", "Trance", "Rave"),
    "pop": ("Pop", "DancePop1", "8BeatPop1", "PopShuffle1"),
    "Hip-Hop": ("HipHop", "Hip-Hop"),
}
QUICK_GENRES = ("rock", "jazz", "electronic")

#: grooves of mma's standard library that the corpus does not use (one per library file; the
#: metronomes and ``None`` left out): the held-out songs of the confound benchmark
#: (``held_out_plan``), so its test songs are distinct grooves, not re-renders of corpus songs
HELD_OUT_GROOVES = (
    "50sRock", "68March", "68Swing", "8Beat", "Afro-Cuban", "Arpeggio4", "Arpeggio68", "ArpeggioWaltz",
    "Ballad", "Ballad128", "Ballad68", "Beguine", "BigBand", "Blues128", "Blues68", "BoggieWoggie",
    "Bolero", "BoneyM", "BossaNova", "Broadway", "BroadwayWaltz", "BubbleRock", "BWMarch", "Calypso",
    "ChaCha", "Charleston", "CountryBlues", "CountryWaltz", "CubanGuitar", "DescendingJazz", "Desert",
    "Dixie", "DixieMarch", "DSoul", "EasySwing", "Evansish", "FastJazzWaltz", "FastSwing", "FastWaltz",
    "FolkBallad", "FolkyJazzGuitar", "Foxtrot", "FrenchWaltz", "GuitarBallad", "GypsyJazz", "Hymn",
    "Jazz54", "JazzGuitar", "JazzRhumba", "JazzRock", "JazzWaltz", "Jive", "LatinWaltz", "LFusion",
    "LightTango", "Lullaby", "Mambo", "MellowJazz", "Merengue", "ModernJazzWaltz", "NiteJazz",
    "PianoBallad", "Polka", "PopBallad", "PopSpiritual", "QuickStep", "RagTime", "R&B-Ballad", "R&B",
    "Rhumba", "Rock128", "RockBallad", "RockWaltz", "Salsa", "Samba", "ShowTune", "Ska", "SlowBolero",
    "SlowBroadway", "SlowJazz", "SlowSpiritual", "SoftRock", "Softshoe", "Son", "Spiritual",
    "StringBallad", "Strut", "Tango", "Twist", "VieneseWaltz", "Waltz", "WesternSwing", "Zydeco",
)  # fmt: skip
HELD_OUT_TEMPI = (90, 130)

#: tempo ranges (bpm) per genre
TEMPI: dict[str, tuple[int, int]] = {
    "rock": (110, 140),
    "jazz": (120, 180),
    "blues": (80, 120),
    "country": (100, 140),
    "folk": (90, 120),
    "funk": (95, 115),
    "soul": (90, 115),
    "electronic": (120, 135),
    "pop": (100, 125),
    "Hip-Hop": (85, 100),
}

#: chord progressions (in C) per genre; one chord per bar, repeated to the song length
PROGRESSIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    "blues": (
        ("C7", "C7", "C7", "C7", "F7", "F7", "C7", "C7", "G7", "F7", "C7", "G7"),
        ("C7", "F7", "C7", "C7", "F7", "F7", "C7", "C7", "G7", "F7", "C7", "G7"),
    ),
    "jazz": (
        ("Dm7", "G7", "Cmaj7", "Cmaj7"),
        ("Cmaj7", "Am7", "Dm7", "G7"),
        ("Em7", "A7", "Dm7", "G7", "Cmaj7", "C6", "Dm7", "G7"),
    ),
    "funk": (("C7", "C7", "F7", "C7"), ("Cm7", "F7", "Cm7", "F7"), ("C9", "C9", "Bb9", "C9")),
    "electronic": (("Am", "F", "C", "G"), ("Am", "Am", "F", "G"), ("Am", "G", "F", "E")),
    "Hip-Hop": (("Am7", "Dm7", "Am7", "E7"), ("Cm7", "Fm7", "Cm7", "G7")),
    "soul": (("Cmaj7", "Am7", "Dm7", "G7"), ("C", "Am", "F", "G"), ("Fmaj7", "Em7", "Dm7", "Cmaj7")),
}
DEFAULT_PROGRESSIONS: tuple[tuple[str, ...], ...] = (
    ("C", "G", "Am", "F"),
    ("C", "Am", "F", "G"),
    ("Am", "F", "C", "G"),
    ("C", "F", "C", "G"),
    ("C", "F", "G", "F"),
)


def family(program: int, is_drum: bool) -> str:
    """The stem a General MIDI part belongs to.

    >>> family(0, True), family(33, False), family(0, False), family(19, False), family(29, False)
    ('drums', 'bass', 'keys', 'keys', 'guitar')
    >>> family(48, False), family(81, False)
    ('other', 'other')
    """
    if is_drum:
        return "drums"
    if not 0 <= program <= 127:
        raise ValueError(f"MIDI program {program} is outside 0..127.")
    if 32 <= program <= 39:
        return "bass"
    if program <= 23:
        return "keys"
    if 24 <= program <= 31:
        return "guitar"
    return "other"


def progression(genre: str, bars: int, rng: np.random.Generator) -> list[str]:
    """A chord per bar for ``bars`` bars: a genre progression, repeated.

    >>> rng = np.random.default_rng(0)
    >>> len(progression("rock", 10, rng))
    10
    >>> progression("blues", 12, np.random.default_rng(0))[0]
    'C7'
    """
    if bars < 1:
        raise ValueError("bars must be >= 1")
    choices = PROGRESSIONS.get(genre, DEFAULT_PROGRESSIONS)
    prog = choices[int(rng.integers(len(choices)))]
    return [prog[i % len(prog)] for i in range(bars)]


def bars_for(seconds: float, tempo: int, beats_per_bar: int = 4) -> int:
    """Bars needed to fill ``seconds`` at ``tempo`` bpm, plus one bar of margin.

    >>> bars_for(30, 120)
    16
    """
    return int(np.ceil(seconds / (beats_per_bar * 60.0 / tempo))) + 1


def mma_source(groove: str, chords: Sequence[str], tempo: int, transpose: int = 0, seed: int = 0) -> str:
    """The text of an MMA file playing ``chords`` (one per bar) in ``groove``.

    MMA humanises timing, velocities and voicings with Python's ``random`` (the grooves'
    ``RTime``, ``RVolume``, ``RSkip``, ``Voicing Random`` ...) and reseeds it from the clock on
    every run, so two renders differ. ``RndSeed`` (first line) makes the humanisation a fixed
    function of ``seed``: the same song renders bit-identically every time.

    >>> print(mma_source("Rock1", ["C", "G"], 120, transpose=-2, seed=7))
    RndSeed 7
    Tempo 120
    Transpose -2
    Groove Rock1
    1 C
    2 G
    <BLANKLINE>
    """
    lines = [f"RndSeed {int(seed)}", f"Tempo {int(tempo)}", f"Transpose {int(transpose)}", f"Groove {groove}"]
    lines += [f"{i + 1} {c}" for i, c in enumerate(chords)]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SongSpec:
    """Everything that determines one rendered song."""

    song_id: str
    genre: str
    groove: str
    tempo: int
    transpose: int
    chords: tuple[str, ...]
    seconds: float
    mma_seed: int = 0


def plan(quick: bool = False, seconds: float = 30.0, seed: int = 0) -> list[SongSpec]:
    """The corpus: one song per (genre, groove), seeded key, tempo and progression.

    >>> songs = plan()
    >>> len(songs), len({s.genre for s in songs})
    (36, 10)
    >>> [s.song_id for s in plan(quick=True)][:2]
    ['rock_rock1', 'rock_basicrock']
    >>> plan(seed=1)[0] != plan(seed=0)[0]
    True
    """
    specs = []
    for genre, grooves in GENRES.items():
        if quick and genre not in QUICK_GENRES:
            continue
        for groove in grooves[: 2 if quick else None]:
            song_id = f"{_tools.slug(genre)}_{_tools.slug(groove)}"
            # seed per song from its id, so adding a genre does not change the other songs
            digest = hashlib.sha256(f"{seed}:{song_id}".encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            lo, hi = TEMPI[genre]
            tempo = int(rng.integers(lo, hi + 1))
            transpose = int(rng.integers(-5, 7))
            chords = tuple(progression(genre, bars_for(seconds, tempo), rng))
            mma_seed = int(rng.integers(2**31))
            specs.append(SongSpec(song_id, genre, groove, tempo, transpose, chords, float(seconds), mma_seed))
    return specs


def held_out_plan(seconds: float = 18.0, seed: int = 0) -> list[SongSpec]:
    """One seeded song per groove of :data:`HELD_OUT_GROOVES` (genre ``"held-out"``, id ``ho_<groove>``).

    >>> songs = held_out_plan()
    >>> len(songs), songs[0].song_id, len({s.song_id for s in songs}) == len(songs)
    (93, 'ho_50srock', True)
    >>> set(s.song_id for s in songs) & set(s.song_id for s in plan())
    set()
    """
    specs = []
    for groove in HELD_OUT_GROOVES:
        song_id = f"ho_{_tools.slug(groove)}"
        digest = hashlib.sha256(f"{seed}:{song_id}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        tempo = int(rng.integers(HELD_OUT_TEMPI[0], HELD_OUT_TEMPI[1] + 1))
        transpose = int(rng.integers(-5, 7))
        chords = tuple(progression("held-out", bars_for(seconds, tempo), rng))
        mma_seed = int(rng.integers(2**31))
        specs.append(
            SongSpec(song_id, "held-out", groove, tempo, transpose, chords, float(seconds), mma_seed)
        )
    return specs


def spec_params(spec: SongSpec) -> dict:
    """The JSON form of a spec (what a cached song must match to be reused)."""
    return dict(asdict(spec), chords=list(spec.chords), dataset="mma", render=RENDER_VERSION)


def _split_midi(path: Path, out_dir: Path) -> dict[str, Path]:
    """Write one MIDI file per stem family; each ends with sustain-off and all-notes-off."""
    try:
        import pretty_midi
    except ImportError as exc:
        raise _tools.DataError(
            'pretty_midi is missing: pip install pretty_midi (or pip install -e ".[bench]")'
        ) from exc

    midi = pretty_midi.PrettyMIDI(str(path))
    end = midi.get_end_time()
    groups: dict[str, list] = {}
    for inst in midi.instruments:
        if inst.notes:
            groups.setdefault(family(inst.program, inst.is_drum), []).append(inst)
    files = {}
    for name in STEM_ORDER:
        if name not in groups:
            continue
        out = pretty_midi.PrettyMIDI(resolution=midi.resolution, initial_tempo=120.0)
        for inst in groups[name]:
            inst.control_changes.append(pretty_midi.ControlChange(64, 0, end + 0.01))
            inst.control_changes.append(pretty_midi.ControlChange(123, 0, end + 0.02))
            out.instruments.append(inst)
        files[name] = out_dir / f"{name}.mid"
        out.write(str(files[name]))
    return files


def fluidsynth_command(mid: Path, wav: Path, soundfont: Path = SOUNDFONT) -> list[str]:
    """The fluidsynth command line that renders ``mid`` to a float WAV, identically every time.

    >>> cmd = fluidsynth_command(Path("a.mid"), Path("a.wav"))
    >>> cmd[:3], "synth.cpu-cores=1" in cmd
    (['fluidsynth', '-ni', '-q'], True)
    """
    settings = [x for kv in FLUIDSYNTH_SETTINGS for x in ("-o", kv)]
    return [
        "fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(SAMPLE_RATE),
        *settings, "-O", "float", "-T", "wav", "-F", str(wav), str(soundfont), str(mid),
    ]  # fmt: skip


def render_song(spec: SongSpec, folder: Path, soundfont: Path = SOUNDFONT) -> Path:
    """Render one song's stems into ``folder`` (float32 WAVs + meta.json)."""
    import soundfile as sf

    n = round(spec.seconds * SAMPLE_RATE)
    with tempfile.TemporaryDirectory(prefix="xmtag-mma-") as tmp:
        tmp_dir = Path(tmp)
        (tmp_dir / "song.mma").write_text(
            mma_source(spec.groove, spec.chords, spec.tempo, spec.transpose, seed=spec.mma_seed)
        )
        _tools.run_checked(
            ["mma", tmp_dir / "song.mma", "-f", tmp_dir / "song.mid"], timeout=60, what=spec.song_id
        )
        parts = _split_midi(tmp_dir / "song.mid", tmp_dir)
        if len(parts) < 2:
            raise _tools.DataError(f"{spec.song_id}: groove {spec.groove} gave fewer than two stems.")
        stems = {}
        for name, mid in parts.items():
            wav = tmp_dir / f"{name}.wav"
            cmd = fluidsynth_command(mid, wav, soundfont)
            _tools.run_checked(cmd, timeout=120, what=f"{spec.song_id}/{name}")
            y, sr = sf.read(str(wav), dtype="float32", always_2d=True)
            if sr != SAMPLE_RATE:
                raise _tools.DataError(f"fluidsynth wrote {sr} Hz, expected {SAMPLE_RATE}.")
            stems[name] = _tools.fit_length(y.T, n)
    gain = _tools.loudness_gain(stems)
    stems = {k: (v * gain).astype(np.float32) for k, v in stems.items()}
    params = spec_params(spec)
    meta = dict(params, gain=gain, params=params)  # song_ready compares "params"
    return _tools.write_song(folder, stems, SAMPLE_RATE, meta)


def prepare(
    quick: bool = False,
    seconds: float = 30.0,
    seed: int = 0,
    root: Path | None = None,
    only: Sequence[str] | None = None,
    specs: Sequence[SongSpec] | None = None,
) -> list[Path]:
    """Render every song of the plan that is not already in the cache; return the song folders.

    ``only`` restricts the plan to these song ids (e.g. longer renders of a benchmark's test
    songs into another ``root``); ``specs`` replaces the plan (e.g. :func:`held_out_plan`).
    """
    _tools.ensure_apt(APT_PACKAGES)
    if not SOUNDFONT.is_file():
        raise _tools.DataError(f"SoundFont {SOUNDFONT} is missing: apt-get install fluid-soundfont-gm")
    base = (root or _tools.CACHE_ROOT) / "mma"
    folders = []
    specs = list(specs) if specs is not None else plan(quick=quick, seconds=seconds, seed=seed)
    if only is not None:
        specs = [s for s in specs if s.song_id in set(only)]
    for i, spec in enumerate(specs):
        folder = base / spec.song_id
        if _tools.song_ready(folder, spec_params(spec)):
            folders.append(folder)
            continue
        if folder.exists():
            shutil.rmtree(folder)
        _tools.say(
            f"[{i + 1}/{len(specs)}] rendering {spec.song_id} ({spec.genre}, {spec.groove}, {spec.tempo} bpm)"
        )
        folders.append(render_song(spec, folder))
    _tools.say(f"{len(folders)} songs ready in {base}")
    return folders


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only 6 songs (3 genres x 2 grooves)")
    parser.add_argument("--seconds", type=float, default=30.0, help="song length in seconds (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed of keys, tempi and progressions")
    args = parser.parse_args(argv)
    try:
        prepare(quick=args.quick, seconds=args.seconds, seed=args.seed)
    except _tools.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
