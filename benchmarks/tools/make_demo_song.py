"""Regenerate xmtag's bundled demo song (``xmtag/data/demo/``).

The song, "Stem Cell Blues", is a 26-second upbeat rock tune composed here with
``pretty_midi`` (120 BPM, A minor, Am-F-C-G) for five parts -- drums, bass, guitar,
piano and saxophone. Each part is written to its own MIDI file and rendered
separately with FluidSynth and the FluidR3 General MIDI SoundFont from Debian
(``apt-get install fluidsynth fluid-soundfont-gm``), so the stems are exactly
separated by construction. The mix is *defined* as the sum of the stems; no mixture
file is written.

Arrangement (bars of 2 s)::

    bar   0-1   intro     drums, guitar
    bar   2-5   verse     + bass, piano (half notes), saxophone melody
    bar   6-9   chorus    crash, piano off-beat stabs, higher saxophone melody
    bar  10-11  outro     drums, bass, saxophone riff (guitar and piano rest)
    bar  12     final hit everyone, held

Usage::

    python benchmarks/tools/make_demo_song.py            # writes xmtag/data/demo/
    python benchmarks/tools/make_demo_song.py --out DIR  # somewhere else
    python benchmarks/tools/make_demo_song.py --midi DIR # also keep the MIDI files

The output is deterministic (no random humanisation beyond a seeded generator).
Stems are written as Ogg Vorbis, stereo, 44.1 kHz, all scaled by one common gain so
that the sum of the stems peaks at -1 dBFS.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "xmtag" / "data" / "demo"
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)

BPM = 120.0
BEAT = 60.0 / BPM  # seconds per beat
BAR = 4 * BEAT  # 4/4
N_BARS = 13  # 12 bars + the final hit
DURATION = N_BARS * BAR  # 26 s
SR = 44100
VORBIS_COMPRESSION = 0.55  # soundfile compression_level for Vorbis (quality = 1 - level)

# chord roots per bar of the Am-F-C-G loop
LOOP = ("Am", "F", "C", "G")
GUITAR_ROOT = {"Am": 45, "F": 41, "C": 48, "G": 43}  # A2 F2 C3 G2 (power chords)
BASS_ROOT = {"Am": 33, "F": 29, "C": 36, "G": 31}  # A1 F1 C2 G1
PIANO_CHORD = {
    "Am": (57, 60, 64),  # A3 C4 E4
    "F": (57, 60, 65),  # A3 C4 F4
    "C": (55, 60, 64),  # G3 C4 E4
    "G": (55, 59, 62),  # G3 B3 D4
}
# (beat within bar, length in beats, MIDI pitch) per bar of the loop
VERSE_MELODY = (
    ((0, 1, 76), (1, 0.5, 72), (1.5, 0.5, 74), (2, 1.5, 76)),
    ((0, 1, 77), (1, 0.5, 76), (1.5, 0.5, 74), (2, 2, 72)),
    ((0, 1, 76), (1, 1, 79), (2, 0.5, 76), (2.5, 0.5, 74), (3, 1, 72)),
    ((0, 1.5, 74), (1.5, 0.5, 71), (2, 2, 67)),
)
CHORUS_MELODY = (
    ((0, 1.5, 81), (1.5, 0.5, 79), (2, 1, 76), (3, 1, 72)),
    ((0, 1, 77), (1, 1, 81), (2, 1, 79), (3, 1, 77)),
    ((0, 1.5, 76), (1.5, 0.5, 79), (2, 1, 79), (3, 1, 76)),
    ((0, 1, 74), (1, 0.5, 76), (1.5, 0.5, 74), (2, 2, 71)),
)
OUTRO_RIFF = (
    ((0, 0.5, 69), (0.5, 0.5, 72), (1, 0.5, 74), (1.5, 0.5, 76), (2, 0.5, 79), (2.5, 0.5, 76), (3, 1, 74)),
    ((0, 0.5, 72), (0.5, 0.5, 74), (1, 0.5, 72), (1.5, 0.5, 69), (2, 2, 67)),
)

# drum kit (General MIDI channel 10)
KICK, SNARE, HAT, OPEN_HAT, CRASH, RIDE = 36, 38, 42, 46, 49, 51
TOMS = (50, 48, 47, 45)


def _section(bar: int) -> str:
    if bar < 2:
        return "intro"
    if bar < 6:
        return "verse"
    if bar < 10:
        return "chorus"
    if bar < 12:
        return "outro"
    return "end"


def _chord(bar: int) -> str:
    if bar >= 12:
        return "Am"
    if bar >= 10:  # outro: Am | G
        return ("Am", "G")[bar - 10]
    return LOOP[bar % 4]


class _Part:
    """Collects notes of one instrument; times in beats."""

    def __init__(self, pm_module, name: str, program: int, is_drum: bool = False) -> None:
        self.pm = pm_module
        self.inst = pm_module.Instrument(program=program, is_drum=is_drum, name=name)
        self.rng = np.random.default_rng(zlib.crc32(name.encode()))  # seeded velocity humanisation

    def note(self, start_beat: float, length_beats: float, pitch: int, velocity: int) -> None:
        vel = int(np.clip(velocity + self.rng.integers(-6, 7), 1, 127))
        start = start_beat * BEAT
        end = (start_beat + length_beats) * BEAT
        self.inst.notes.append(self.pm.Note(velocity=vel, pitch=int(pitch), start=start, end=end))

    def finish(self) -> None:
        # sustain off and all notes off at the very end: a stuck note would render forever
        for number in (64, 123):
            self.inst.control_changes.append(self.pm.ControlChange(number=number, value=0, time=DURATION))


def compose():
    """Return ``{stem name: pretty_midi.PrettyMIDI}`` for the five parts."""
    import pretty_midi

    parts = {
        "drums": _Part(pretty_midi, "drums", 0, is_drum=True),
        "bass": _Part(pretty_midi, "bass", 33),  # Electric Bass (finger)
        "guitar": _Part(pretty_midi, "guitar", 29),  # Overdriven Guitar
        "piano": _Part(pretty_midi, "piano", 0),  # Acoustic Grand Piano
        "saxophone": _Part(pretty_midi, "saxophone", 65),  # Alto Sax
    }
    d, b, g, p, s = (parts[k] for k in ("drums", "bass", "guitar", "piano", "saxophone"))

    for bar in range(N_BARS):
        t0 = bar * 4
        sec = _section(bar)
        chord = _chord(bar)
        if sec == "end":
            d.note(t0, 3, KICK, 120)
            d.note(t0, 3, CRASH, 118)
            b.note(t0, 3, BASS_ROOT[chord], 110)
            for k in (0, 7, 12):
                g.note(t0, 3, GUITAR_ROOT[chord] + k, 110)
            for n in PIANO_CHORD[chord]:
                p.note(t0, 3, n, 110)
            s.note(t0, 3, 69, 100)
            continue

        # drums: kick 1, 3, 3+; snare 2, 4; eighth hats (ride in the chorus)
        for beat in (0, 2, 2.5):
            d.note(t0 + beat, 0.25, KICK, 112 if beat == 0 else 100)
        fill = bar in (5, 9, 11)
        for beat in (1, 3):
            if not (fill and beat == 3):
                d.note(t0 + beat, 0.25, SNARE, 108)
        cymbal = RIDE if sec == "chorus" else HAT
        for i in range(8):
            if fill and i >= 6:
                break
            d.note(t0 + 0.5 * i, 0.25, cymbal, 92 if i % 2 == 0 else 70)
        if bar in (2, 6, 10):
            d.note(t0, 1, CRASH, 115)
        if bar == 11:
            d.note(t0 + 1.5, 0.5, OPEN_HAT, 90)
        if fill:  # last beat: sixteenth fill on snare (verse) or toms (chorus, outro)
            for j in range(4):
                pitch = SNARE if bar == 5 else TOMS[j]
                d.note(t0 + 3 + 0.25 * j, 0.25, pitch, 96 + 6 * j)

        # bass: eighth-note roots with an octave jump (enters with the verse)
        if sec in ("verse", "chorus", "outro"):
            root = BASS_ROOT[chord]
            for i in range(8):
                pitch = root + 12 if i == 7 else root
                b.note(t0 + 0.5 * i, 0.45, pitch, 100 if i % 2 == 0 else 88)

        # guitar: power-chord eighths; the chorus opens up into held chords with pushes
        if sec in ("intro", "verse"):
            for i in range(8):
                for k in (0, 7, 12):
                    g.note(t0 + 0.5 * i, 0.4, GUITAR_ROOT[chord] + k, 100 if i % 2 == 0 else 84)
        elif sec == "chorus":
            for start, length in ((0, 1.5), (1.5, 1), (2.5, 1.5)):
                for k in (0, 7, 12):
                    g.note(t0 + start, length - 0.05, GUITAR_ROOT[chord] + k, 108)

        # piano: half notes in the verse, off-beat stabs in the chorus
        if sec == "verse":
            for start in (0, 2):
                for n in PIANO_CHORD[chord]:
                    p.note(t0 + start, 1.9, n, 100)
        elif sec == "chorus":
            for beat in range(4):
                for n in PIANO_CHORD[chord]:
                    p.note(t0 + beat + 0.5, 0.35, n + 12, 110)

        # saxophone: melody in the verse and chorus, a riff in the outro
        if sec == "verse":
            melody = VERSE_MELODY[(bar - 2) % 4]
        elif sec == "chorus":
            melody = CHORUS_MELODY[(bar - 6) % 4]
        elif sec == "outro":
            melody = OUTRO_RIFF[bar - 10]
        else:
            melody = ()
        for start, length, pitch in melody:
            s.note(t0 + start, length - 0.05, pitch, 100 if sec != "verse" else 90)

    songs = {}
    for name, part in parts.items():
        part.finish()
        pm = pretty_midi.PrettyMIDI(initial_tempo=BPM)
        pm.instruments.append(part.inst)
        songs[name] = pm
    return songs


def _find_soundfont(path: str | None) -> Path:
    for cand in (path,) if path else SOUNDFONT_CANDIDATES:
        if cand and Path(cand).is_file():
            return Path(cand)
    sys.exit(
        "No General MIDI SoundFont found. Install one with "
        "`apt-get install fluidsynth fluid-soundfont-gm` or pass --soundfont PATH."
    )


def render(midi_path: Path, wav_path: Path, soundfont: Path) -> np.ndarray:
    """Render one MIDI file with FluidSynth to float32 ``(2, samples)`` at 44.1 kHz."""
    import soundfile as sf

    if shutil.which("fluidsynth") is None:
        sys.exit("fluidsynth is not installed: apt-get install fluidsynth fluid-soundfont-gm")
    cmd = [
        "fluidsynth",
        "-ni",  # no shell, no MIDI input
        "-q",
        "-g",
        "0.5",
        "-r",
        str(SR),
        "-O",
        "float",
        "-T",
        "wav",
        "-F",
        str(wav_path),
        str(soundfont),
        str(midi_path),
    ]
    subprocess.run(cmd, check=True, timeout=120, stdout=subprocess.DEVNULL)
    y, sr = sf.read(str(wav_path), dtype="float32", always_2d=True)
    assert sr == SR, sr
    return y.T


def make(out: Path, soundfont: Path, midi_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Compose, render and write the stems to ``out``; return the decoded stems."""
    import soundfile as sf

    songs = compose()
    n = int(round(DURATION * SR))
    stems: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, pm in songs.items():
            mid = Path(tmp) / f"{name}.mid"
            pm.write(str(mid))
            if midi_dir is not None:
                midi_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy(mid, midi_dir / mid.name)
            y = render(mid, Path(tmp) / f"{name}.wav", soundfont)
            z = np.zeros((2, n), dtype=np.float32)
            m = min(n, y.shape[1])
            z[:, :m] = y[:, :m]
            stems[name] = z

    # one common gain: the sum of the stems peaks at -1 dBFS; 0.25 s fade-out at the end
    mix = sum(stems.values())
    gain = 10 ** (-1 / 20) / float(np.abs(mix).max())
    fade = np.ones(n, dtype=np.float32)
    k = int(0.25 * SR)
    fade[-k:] = np.linspace(1.0, 0.0, k, dtype=np.float32)
    out.mkdir(parents=True, exist_ok=True)
    decoded = {}
    for name, y in stems.items():
        y = (y * gain * fade).astype(np.float32)
        path = out / f"{name}.ogg"
        sf.write(str(path), y.T, SR, format="OGG", subtype="VORBIS", compression_level=VORBIS_COMPRESSION)
        decoded[name] = sf.read(str(path), dtype="float32", always_2d=True)[0].T
        print(f"{path.relative_to(out.parent)}: {path.stat().st_size / 1e3:.0f} kB")
    total = sum((out / f"{k}.ogg").stat().st_size for k in stems)
    dmix = sum(decoded.values())
    print(
        f"total {total / 1e6:.2f} MB; decoded mix peak {np.abs(dmix).max():.3f}, {dmix.shape[1] / SR:.2f} s"
    )
    return decoded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--soundfont", help="General MIDI .sf2 (default: Debian's FluidR3_GM)")
    parser.add_argument("--midi", type=Path, help="also write each part's MIDI file here")
    args = parser.parse_args(argv)
    make(args.out, _find_soundfont(args.soundfont), args.midi)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
