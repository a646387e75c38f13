"""Hour-long recordings: peak memory and time of the CLI commands against the length of the input.

Each command runs as ``python -m xmtag ...`` in a child process; its peak resident memory is the
child's ``ru_maxrss`` (``os.wait4``) and its time the wall clock around it. Inputs, built here
(under ``--work``, default ``/tmp/xmtag-long``) and reused between runs:

* ``music<M>.wav``: M minutes of real recorded music, stereo 44.1 kHz 16-bit: the Frets on Fire
  songs (Debian ``fretsonfire-songs-muldjord`` / ``-sectoid``, CC BY-SA 3.0: their ``song.ogg``
  files one after the other, looped);
* ``speech<M>.wav``: M minutes of real speech, stereo 44.1 kHz 16-bit: the dialogue lines of Fish
  Fillets (Debian ``fillets-ng-data-cs`` / ``-nl``, GPL-2, real voice actors, Czech and Dutch), in
  file order, with seeded pauses of 0.3-1.5 s, upsampled and duplicated to two channels;
* ``talk20.mp4``: a 20-minute video (a 64x64 black H.264 picture at 1 frame/s and an AAC audio track
  of ``speech20``), written with PyAV: the "long talk in, summary out" case.

Commands (``--commands``): ``tag`` (music), ``transcribe`` and ``diarize`` (speech), ``explain``
(music, with ``--segments 20 --no-cache``) and ``talk`` (``transcribe talk20.mp4 --summary``,
20 minutes only). ``--old PATH`` also runs every command with another xmtag tree first on the
path (e.g. an export of an older commit) for a before/after table.

Results are merged into ``benchmarks/results/long_recordings.json`` (one record per command,
length and tree), so the table can be built in several runs of a few minutes each::

    python benchmarks/long_recordings.py --commands tag --minutes 10 30 60
    python benchmarks/long_recordings.py --commands transcribe --minutes 10 30
    python benchmarks/long_recordings.py --commands talk
    python benchmarks/long_recordings.py --commands tag --minutes 10 30 --old /tmp/xmtag-old
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common

NAME = "long_recordings"
SR = 44100
MUSIC = "/usr/share/games/fretsonfire/data/songs/*/*/song.ogg"
SPEECH = ("/usr/share/games/fillets-ng/sound/*/cs/*.ogg", "/usr/share/games/fillets-ng/sound/*/nl/*.ogg")
COMMANDS = ("tag", "transcribe", "diarize", "explain", "talk")


def _write_wav(path: Path, blocks, minutes: int) -> None:
    import soundfile as sf

    n = int(minutes * 60 * SR)
    tmp = path.with_suffix(".part.wav")
    pos = 0
    with sf.SoundFile(str(tmp), "w", SR, 2, subtype="PCM_16") as out:
        for y in blocks:
            y = y[: n - pos]
            out.write(y)
            pos += len(y)
            if pos >= n:
                break
    if pos < n:
        raise SystemExit(f"not enough source audio for {minutes} minutes ({pos / SR / 60:.1f} min)")
    os.replace(tmp, path)


def _music_blocks():
    import soundfile as sf

    songs = sorted(glob.glob(MUSIC))
    if not songs:
        raise SystemExit(
            "No Frets on Fire songs: apt-get install fretsonfire-songs-muldjord fretsonfire-songs-sectoid"
        )
    while True:
        for s in songs:
            y, sr = sf.read(s, dtype="float32", always_2d=True)
            if sr != SR:
                raise SystemExit(f"{s}: {sr} Hz, expected {SR}")
            yield y if y.shape[1] == 2 else np.repeat(y[:, :1], 2, axis=1)


def _speech_blocks(seed: int = 0):
    import soundfile as sf
    import soxr

    lines = sorted(f for pattern in SPEECH for f in glob.glob(pattern))
    if not lines:
        raise SystemExit("No Fish Fillets voices: apt-get install fillets-ng-data-cs fillets-ng-data-nl")
    rng = np.random.default_rng(seed)
    for f in lines:
        y, sr = sf.read(f, dtype="float32", always_2d=True)
        y = y.mean(axis=1)
        if sr != SR:
            y = soxr.resample(y, sr, SR)
        pause = np.zeros(int(rng.uniform(0.3, 1.5) * SR), np.float32)
        mono = np.concatenate([y.astype(np.float32), pause])
        yield np.stack([mono, mono], axis=1)


def music(work: Path, minutes: int) -> Path:
    path = work / f"music{minutes}.wav"
    if not path.exists():
        _write_wav(path, _music_blocks(), minutes)
    return path


def speech(work: Path, minutes: int) -> Path:
    path = work / f"speech{minutes}.wav"
    if not path.exists():
        _write_wav(path, _speech_blocks(), minutes)
    return path


def talk(work: Path, minutes: int = 20) -> Path:
    """A video file: a tiny black picture at 1 frame/s and the speech as an AAC track."""
    import av
    import soundfile as sf

    path = work / f"talk{minutes}.mp4"
    if path.exists():
        return path
    wav = speech(work, minutes)
    tmp = work / f"talk{minutes}.part.mp4"
    with av.open(str(tmp), "w") as out, sf.SoundFile(str(wav)) as src:
        video = out.add_stream("libx264", rate=1)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        audio = out.add_stream("aac", rate=SR)
        audio.layout = "stereo"
        black = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
        seconds = 0
        pts = 0
        while True:
            y = src.read(SR, dtype="float32", always_2d=True)
            if not len(y):
                break
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(y.T), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = SR, pts
            pts += len(y)
            for packet in audio.encode(frame):
                out.mux(packet)
            black.pts = seconds
            for packet in video.encode(black):
                out.mux(packet)
            seconds += 1
        for stream in (audio, video):
            for packet in stream.encode(None):
                out.mux(packet)
    os.replace(tmp, path)
    return path


def command(name: str, work: Path, minutes: int) -> list[str]:
    if name == "tag":
        return ["tag", str(music(work, minutes)), "--top", "3", "--no-progress"]
    if name == "explain":
        out = work / f"explain{minutes}"
        return [
            "explain",
            str(music(work, minutes)),
            "--segments",
            "20",
            "--no-cache",
            "--out",
            str(out),
            "--force",
            "--no-audio",
        ]
    if name == "transcribe":
        return ["transcribe", str(speech(work, minutes)), "--txt", str(work / f"speech{minutes}.txt")]
    if name == "diarize":
        return ["diarize", str(speech(work, minutes)), "--rttm", str(work / f"speech{minutes}.rttm")]
    if name == "talk":
        return ["transcribe", str(talk(work, minutes)), "--summary", "--txt", str(work / "talk.txt")]
    raise ValueError(name)


def measure(args_: list[str], tree: Path, threads: int, log: Path) -> dict:
    """Run ``python -m xmtag ARGS`` with ``tree`` first on the path; wall time and peak RSS."""
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS=str(threads), XMTAG_PROGRESS="0")
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "xmtag", "-q", *args_],
            env=env,
            cwd="/",
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    return {
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "returncode": rc,
        "log_tail": log.read_text(errors="replace")[-400:] if rc else "",
    }


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0], runtime="about 25 min for everything", quick_runtime="1 min")
    p.add_argument("--commands", nargs="+", choices=COMMANDS, default=["tag"])
    p.add_argument("--minutes", nargs="+", type=int, default=[10, 30, 60])
    p.add_argument("--work", type=Path, default=Path("/tmp/xmtag-long"))
    p.add_argument("--old", type=Path, help="another xmtag tree to measure too (before/after)")
    args = p.parse_args()
    env = _common.environment(args)
    args.work.mkdir(parents=True, exist_ok=True)
    trees = [("new", _common.REPO)] + ([("old", args.old.resolve())] if args.old else [])
    path = _common.result_path(args.out, NAME, args.quick, ".json")
    previous = json.loads(path.read_text())["results"] if path.exists() else {"runs": []}
    runs = previous.get("runs", [])
    t_start = time.perf_counter()
    minutes = [1] if args.quick else args.minutes
    for name in args.commands:
        for m in [20] if name == "talk" else minutes:
            for label, tree in trees:
                argv = command(name, args.work, m)
                r = measure(argv, tree, args.threads, args.work / f"{name}{m}-{label}.log")
                rec = {"command": name, "minutes": m, "tree": label, "argv": " ".join(argv[:1]), **r}
                runs = [x for x in runs if (x["command"], x["minutes"], x["tree"]) != (name, m, label)]
                runs.append(rec)
                print(
                    f"{name:10s} {m:3d} min  {label:3s}  {r['wall_s']:7.1f} s  {r['cpu_s']:7.1f} CPU-s"
                    f"  {r['peak_rss_mb']:7.0f} MB  rc={r['returncode']}",
                    flush=True,
                )
                if r["returncode"]:
                    print(r["log_tail"], flush=True)
                runs.sort(key=lambda x: (COMMANDS.index(x["command"]), x["minutes"], x["tree"]))
                # after every run: a long session cut short keeps what it measured
                _common.write_result(NAME, args, env, {"runs": runs}, time.perf_counter() - t_start)


if __name__ == "__main__":
    main()
