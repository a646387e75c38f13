"""Regenerate xmtag's musicnn fidelity fixture: a 15-s rock-band clip and the original model's outputs.

Step 1 (this environment, needs ``pretty_midi`` and the Debian packages ``fluidsynth``
``fluid-soundfont-gm``) composes a short drums + bass + distorted-guitar + organ piece
with pretty_midi and renders it with FluidSynth straight at 16 kHz::

    python benchmarks/tools/make_musicnn_fixture.py tests/data/musicnn/clip.flac

Step 2 (the throwaway TensorFlow environment, see ``musicnn_reference.py``) runs the
original musicnn code on it::

    /tmp/tfref/bin/python benchmarks/tools/musicnn_reference.py tests/data/musicnn/clip.flac \
        --out tests/data/musicnn/reference.npz

The committed FLAC is the ground truth the test reads (rendering is deterministic for a
given FluidSynth and SoundFont, but different versions may differ by rounding).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

SECONDS = 15.0
SR = 16000
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


def compose(seconds: float = SECONDS):
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=128)
    beat = 60.0 / 128
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
    bass = pretty_midi.Instrument(program=34, name="bass")  # electric bass (pick)
    guitar = pretty_midi.Instrument(program=30, name="guitar")  # distortion guitar
    organ = pretty_midi.Instrument(program=17, name="organ")  # percussive organ
    roots = [40, 40, 43, 45, 38, 38, 43, 45]  # E E G A D D G A (one bar each)
    n_beats = int(seconds / beat)
    for b in range(n_beats):
        t = b * beat
        bar = b // 4
        root = roots[bar % len(roots)]
        # drums: kick on 1 and 3, snare on 2 and 4, eighth-note hi-hats, crash each 4 bars
        drums.notes.append(pretty_midi.Note(100, 36 if b % 2 == 0 else 38, t, t + 0.1))
        for e in range(2):
            drums.notes.append(
                pretty_midi.Note(70 + 20 * (e == 0), 42, t + e * beat / 2, t + e * beat / 2 + 0.05)
            )
        if b % 16 == 0:
            drums.notes.append(pretty_midi.Note(110, 49, t, t + 0.5))
        # bass: eighth notes on the root
        for e in range(2):
            s = t + e * beat / 2
            bass.notes.append(pretty_midi.Note(95, root, s, s + beat / 2 * 0.9))
        # guitar: power chords (root, fifth, octave) on every beat, palm-muted length
        for interval in (0, 7, 12):
            guitar.notes.append(pretty_midi.Note(90, root + 12 + interval, t, t + beat * 0.8))
        # organ: sustained triads per bar, second half of the clip
        if b % 4 == 0 and t > seconds / 2:
            for interval in (0, 4 if bar % 2 else 3, 7):
                organ.notes.append(pretty_midi.Note(60, root + 24 + interval, t, t + 4 * beat * 0.95))
    pm.instruments.extend([drums, bass, guitar, organ])
    for inst in pm.instruments:  # sustain off + all notes off at the end: no stuck notes
        inst.control_changes.append(pretty_midi.ControlChange(64, 0, seconds))
        inst.control_changes.append(pretty_midi.ControlChange(123, 0, seconds))
    return pm


def render(out: str, seconds: float = SECONDS) -> None:
    import numpy as np
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = os.path.join(tmp, "clip.mid"), os.path.join(tmp, "clip.wav")
        compose(seconds).write(mid)
        cmd = ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(SR), "-O", "float", "-T", "wav", "-F", wav]
        subprocess.run([*cmd, SOUNDFONT, mid], check=True, timeout=120)
        y, sr = sf.read(wav, dtype="float32", always_2d=True)
    assert sr == SR, sr
    y = y.mean(axis=1)
    n = int(seconds * SR)
    y = np.pad(y, (0, max(0, n - y.size)))[:n]
    y *= 0.8 / max(1e-9, float(np.abs(y).max()))
    sf.write(out, y, SR, subtype="PCM_16")
    print(f"wrote {out}: {n} samples at {SR} Hz", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="output audio file (.flac or .wav)")
    ap.add_argument("--seconds", type=float, default=SECONDS)
    args = ap.parse_args()
    render(args.out, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
