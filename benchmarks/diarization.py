"""Speaker diarization on synthesized conversations: DER, JER, speaker count, speed and memory.

Conversations are built from text by :func:`xmtag.speech.conversation.make_conversation`
(espeak-ng voices and festival's slt voice: 2-4 speakers, pauses, a back-and-forth of one-word
answers, one overlap); the reference turns are where each voice's audio lies. The test set
uses seeds 0..N-1; the clustering threshold was tuned on a *held-out* set (seeds 1000+,
``--tune``), never on these.

Reported: DER without collar and with a 0.25-s collar (overlap scored), JER, speaker-count
accuracy with the number of speakers unknown, DER with it given, the real-time factor of
``diarize`` and of ``transcribe(..., diarize=True)``, and the peak memory and real-time
factor of a one-hour recording (a subprocess; 5 minutes with ``--quick``).

    python benchmarks/diarization.py            # 24 conversations + one hour, ~15 min here
    python benchmarks/diarization.py --quick    # 3 conversations + 5 minutes
    python benchmarks/diarization.py --tune     # the threshold grid on the held-out set
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

GOAL_DER, GOAL_RTF = 0.10, 0.1


def conversations(n: int, seed0: int, cache: dict):
    from xmtag.speech.conversation import make_conversation

    rng = np.random.default_rng(seed0)
    out = []
    for i in range(n):
        speakers = 2 + i % 3
        turns = int(rng.integers(6, 11))
        out.append(
            (speakers, make_conversation(speakers, turns, seed=seed0 + i, cache=cache, uri=f"conv{i}"))
        )
    return out


def score_set(convs, args) -> tuple[list[dict], dict]:
    from xmtag.speech import der, diarize, jer

    diarize(convs[0][1].audio, sr=16000, progress=False)  # warm-up: load the models
    rows = []
    for n, c in convs:
        t0, c0 = time.perf_counter(), time.process_time()
        d = diarize(c.audio, sr=16000, progress=False)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        known = diarize(c.audio, sr=16000, progress=False, num_speakers=n)
        rows.append(
            {
                "uri": c.reference.uri,
                "speakers": n,
                "found": d.num_speakers,
                "audio_s": round(c.duration, 1),
                "der": der(c.reference, d),
                "der_collar": der(c.reference, d, collar=0.25),
                "jer": jer(c.reference, d),
                "der_known": der(c.reference, known),
                "rtf": elapsed / c.duration,
                "cpu_rtf": cpu / c.duration,
            }
        )
        if not args.no_progress:
            print(f"# {rows[-1]}", file=sys.stderr, flush=True)
    total = sum(r["audio_s"] for r in rows)

    def weighted(key):  # DER pooled over the set: weight by reference speech
        w = [c.reference.speech() for _, c in convs]
        speech = np.array([sum(x.values()) for x in w])
        return float(np.dot([r[key] for r in rows], speech) / speech.sum())

    summary = {
        "conversations": len(rows),
        "audio_s": round(total, 1),
        "der": weighted("der"),
        "der_collar_0.25": weighted("der_collar"),
        "jer": float(np.mean([r["jer"] for r in rows])),
        "der_known_speakers": weighted("der_known"),
        "speaker_count_accuracy": float(np.mean([r["found"] == r["speakers"] for r in rows])),
        "rtf_diarize": float(sum(r["rtf"] * r["audio_s"] for r in rows) / total),
        # CPU seconds (all threads) per audio second: what an idle machine's wall RTF would be
        "cpu_rtf_diarize": float(sum(r["cpu_rtf"] * r["audio_s"] for r in rows) / total),
    }
    for k in (2, 3, 4):
        sub = [r for r in rows if r["speakers"] == k]
        if sub:
            summary[f"der_{k}_speakers"] = float(np.mean([r["der"] for r in sub]))
    return rows, summary


def transcribe_rtf(convs) -> dict:
    from xmtag.speech import transcribe
    from xmtag.speech.scoring import wer, word_speaker_accuracy

    transcribe(convs[0][1].audio[: 16000 * 5], sr=16000, progress=False)  # warm-up
    compute = cpu = audio = 0.0
    acc, wers = [], []
    for _n, c in convs:
        t0, c0 = time.perf_counter(), time.process_time()
        tr = transcribe(c.audio, sr=16000, diarize=True, word_timestamps=True, progress=False)
        compute += time.perf_counter() - t0
        cpu += time.process_time() - c0
        audio += c.duration
        acc.append(word_speaker_accuracy(c.reference, tr))
        wers.append(wer(" ".join(t for _, t in c.words), tr.text))
    return {
        "clips": len(convs),
        "rtf_transcribe_diarize": compute / audio,
        "cpu_rtf_transcribe_diarize": cpu / audio,
        "word_speaker_accuracy": float(np.mean(acc)),
        "wer_tiny_en": float(np.mean(wers)),
    }


_LONG = """
import json, os, resource, sys, time
import numpy as np
from xmtag.speech import diarize
from xmtag.speech.conversation import make_conversation
minutes = float(sys.argv[1])
cache = {}
parts = [make_conversation(2 + i % 3, 8, seed=500 + i, cache=cache).audio for i in range(6)]
unit = np.concatenate(parts)
y = np.resize(unit, int(minutes * 60 * 16000)).astype(np.float32)
del parts, unit
diarize(y[: 16000 * 20], sr=16000, progress=False)  # load the models
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0, c0 = time.perf_counter(), time.process_time()
d = diarize(y, sr=16000, progress=False)
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"minutes": minutes, "rtf": elapsed / (y.size / 16000), "cpu_rtf": cpu / (y.size / 16000),
                  "load_average_1min": os.getloadavg()[0], "peak_rss_mb": peak,
                  "rss_before_mb": base, "waveform_mb": y.nbytes / 2**20, "speakers": d.num_speakers,
                  "turns": len(d)}))
"""


def long_file(minutes: float, threads: int) -> dict:
    import os

    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run(
        [sys.executable, "-c", _LONG, str(minutes)], capture_output=True, text=True, timeout=7200, env=env
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def tune(args) -> dict:
    import xmtag.speech  # noqa: F401

    D = sys.modules["xmtag.speech._diarize"]
    from xmtag.speech.scoring import der

    cache: dict = {}
    held = conversations(6 if args.quick else 30, 1000, cache)
    analyses = [(n, c.reference, D._analyse(c.audio, 5.0, None, False)) for n, c in held]
    rows = []
    for threshold in (0.2, 0.25, 0.3, 0.35, 0.4):
        for mcs in (1.0, 1.5, 2.0, 3.0):
            ders, right = [], 0
            for n, ref, a in analyses:
                raw = D._decide(a, threshold, None, 1, None, mcs, 0.15, 0.2)
                ders.append(der(ref, [tuple(t) for t in raw]))
                right += len({t[2] for t in raw}) == n
            rows.append(
                {
                    "threshold": threshold,
                    "min_cluster_s": mcs,
                    "der": float(np.mean(ders)),
                    "count_acc": right / len(analyses),
                }
            )
            print(f"# {rows[-1]}", file=sys.stderr, flush=True)
    _common.print_table(rows)
    best = min(rows, key=lambda r: (r["der"], -r["count_acc"]))
    print(f"best: {best}")
    return {"grid": rows, "best": best, "held_out_conversations": len(analyses)}


def main(argv=None) -> int:
    p = _common.parser(__doc__.split("\n\n")[0], runtime="~15 min", quick_runtime="~2 min")
    p.add_argument("--tune", action="store_true", help="grid over the clustering threshold (held-out set)")
    p.add_argument("--conversations", type=int, default=24)
    p.add_argument("--hours", type=float, default=1.0, help="length of the long-file run")
    args = p.parse_args(argv)
    _common.setup(args)
    from xmtag.speech.conversation import available_voices

    if len(available_voices()) < 4:
        print("Needs espeak-ng and festival (apt-get install espeak-ng festival festvox-us-slt-hts).")
        return 1
    t0 = time.perf_counter()
    env = _common.environment(args)
    if args.tune:
        _common.write_result("diarization_tune", args, env, tune(args), time.perf_counter() - t0)
        return 0
    cache: dict = {}
    convs = conversations(3 if args.quick else args.conversations, 0, cache)
    rows, summary = score_set(convs, args)
    _common.print_table(rows, floatfmt=".3f")
    summary.update(transcribe_rtf(convs[:1] if args.quick else convs[:4]))
    summary["long_file"] = long_file(5.0 if args.quick else 60.0 * args.hours, args.threads)
    summary["goals"] = {
        "der<=0.10": summary["der"] <= GOAL_DER,
        "rtf<=0.1": summary["rtf_diarize"] <= GOAL_RTF,
        "cpu_rtf<=0.1": summary["cpu_rtf_diarize"] <= GOAL_RTF,
    }
    print(json.dumps(summary, indent=2))
    _common.write_result(
        "diarization", args, env, {"summary": summary, "conversations": rows}, time.perf_counter() - t0
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
