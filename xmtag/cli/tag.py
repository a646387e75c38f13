"""``xmtag tag FILE ... [--tagger NAME] [--top 10] [--json | --csv]``: tag audio files.

One file prints its top tags as bars (or JSON with the per-patch scores); several files, folders
(scanned for audio files) or globs print one line per file with its top tags, or a CSV / JSON
table. The tagger is loaded once; files of one length are scored in one batch.

Long recordings (a DJ set, a concert) are read block by block and tagged chunk by chunk
(:func:`xmtag.audio.stream_audio`, :func:`xmtag.taggers.stream_patches`) with a progress bar:
memory stays bounded whatever the length (about 0.5 GB for musicnn, for an hour as for ten
minutes) and time is linear in it.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import load_audio, stream_audio
from ..errors import XmtagError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tag",
        help="tag an audio file with a pretrained tagger (musicnn by default)",
        description=(
            "Print the top tags of audio files (mean over 3-s patches for musicnn). Give files, "
            "folders (every audio file in them) or globs ('songs/*.mp3')."
        ),
    )
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="audio files, folders or globs (wav, flac, mp3, ...)"
    )
    p.add_argument(
        "--tagger",
        default="musicnn-msd",
        help=(
            "musicnn-msd (default), musicnn-mtt, msd-vgg, mtt-vgg, an Essentia .pb graph path, "
            "hf:<folder or Hugging Face id>, or birdnet (BirdNET 2.4, 6,522 bird species and sounds; "
            "its weights are CC BY-NC-SA 4.0: non-commercial use only)"
        ),
    )
    p.add_argument("--top", type=int, default=10, metavar="K", help="how many tags to show (default 10)")
    out = p.add_mutually_exclusive_group()
    out.add_argument(
        "--json", action="store_true", help="print JSON (all tags; per-patch scores for one file)"
    )
    out.add_argument("--csv", action="store_true", help="print CSV: file, rank, tag, score (top K per file)")
    p.add_argument("--threads", type=int, default=None, help="torch threads for inference")
    p.add_argument("--device", default="auto", help="where the tagger runs: auto (default), cpu, cuda")
    p.add_argument(
        "--precision", default="fp32", choices=["fp32", "bf16"], help="musicnn arithmetic (default fp32)"
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar of long files")
    p.set_defaults(func=run)


#: files longer than this (seconds) are tagged chunk by chunk rather than loaded whole
STREAM_SECONDS = 120.0


def _streamed(tagger: Any, file: str, sr: int, progress: bool) -> tuple[np.ndarray, np.ndarray, int] | None:
    """``(clip, patches, samples)`` of a long file tagged chunk by chunk, or ``None`` when it is
    short or the tagger cannot be streamed (the caller loads the file whole)."""
    from ..taggers import can_stream, stream_patches

    if not can_stream(tagger):
        return None
    stream = stream_audio(file, sr=sr, mono=True)
    if stream.duration is not None and stream.duration <= STREAM_SECONDS:
        return None
    seen = [0]

    def counted():
        for block in stream:
            seen[0] += block.shape[-1]
            yield block

    rows = list(
        stream_patches(
            tagger, counted(), total=stream.frames, progress=progress, desc=f"tagging {Path(file).name}"
        )
    )
    patches = np.concatenate(rows)
    return patches.mean(axis=0), patches, seen[0]


def _expand(items: list[str]) -> tuple[list[str], bool]:
    """Files from files, folders and globs, in order; and whether the input was a single file."""
    from ..corpus.sources import AUDIO_SUFFIXES

    files: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(
                str(f) for f in path.iterdir() if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES
            )
            if not found:
                raise XmtagError(
                    f"Folder {item!r} holds no audio file ({', '.join(AUDIO_SUFFIXES[:4])}, ...)."
                )
            files += found
        elif any(ch in item for ch in "*?[") and not path.exists():
            found = sorted(glob.glob(item))
            if not found:
                raise XmtagError(f"No file matches {item!r}.")
            files += found
        else:
            files.append(item)  # load_audio says what is wrong with it
    return files, len(items) == 1 and len(files) == 1 and not Path(items[0]).is_dir()


def _scores(tagger: Any, ys: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Clip scores (and per-patch scores) of mono waveforms ``(1, N)``: one batch per length."""
    out: list[Any] = [None] * len(ys)
    by_len: dict[int, list[int]] = {}
    for i, y in enumerate(ys):
        by_len.setdefault(y.shape[1], []).append(i)
    for idx in by_len.values():
        batch = np.concatenate([ys[i] for i in idx], axis=0)
        if getattr(tagger, "patch_length", None):
            patches = np.asarray(tagger.predict_patches(batch))
            for k, i in enumerate(idx):
                out[i] = (patches[k].mean(axis=0), patches[k])
        else:
            clip = np.asarray(tagger.predict(batch))
            for k, i in enumerate(idx):
                out[i] = (clip[k], None)
    return out


def run(args: argparse.Namespace) -> int:
    from .._checks import positive_int
    from ..taggers import load_tagger, tagger_sr

    positive_int(args.top, "--top")
    files, single = _expand(list(args.files))
    n_threads = None if args.threads is None else positive_int(args.threads, "--threads")
    by_name = not str(args.tagger).endswith(".pb") and not str(args.tagger).lower().startswith("hf:")
    kwargs = {"num_threads": n_threads} if n_threads and by_name else {}
    if by_name:  # musicnn: device and precision (other taggers get them only when asked for)
        if args.device != "auto":
            kwargs["device"] = args.device
        if args.precision != "fp32":
            kwargs["precision"] = args.precision
    tagger = load_tagger(args.tagger, **kwargs)
    sr = tagger_sr(tagger)
    if single:
        return _one(args, tagger, files[0], sr)
    progress = not getattr(args, "no_progress", False)
    ys, ok, failed, long_rows = [], [], [], {}
    for f in files:
        try:
            streamed = _streamed(tagger, f, sr, progress)
            if streamed is not None:
                long_rows[f] = streamed[0]
            else:
                ys.append(load_audio(f, sr=sr, mono=True)[0])
                ok.append(f)
        except XmtagError as exc:
            failed.append((f, str(exc)))
            print(f"xmtag: error: {exc}", file=sys.stderr)
    short = dict(zip(ok, (clip for clip, _ in _scores(tagger, ys))))
    rows = [(f, long_rows[f] if f in long_rows else short[f]) for f in files if f in long_rows or f in short]
    labels = list(tagger.labels)
    k = min(args.top, len(labels))
    if args.json:
        table = [
            {
                "file": f,
                "top": [
                    {"tag": labels[i], "score": round(float(c[i]), 6)}
                    for i in np.argsort(-c, kind="stable")[:k]
                ],
                "tags": {label: round(float(v), 6) for label, v in zip(labels, c)},
            }
            for f, c in rows
        ]
        print(
            json.dumps(
                {
                    "tagger": getattr(tagger, "name", args.tagger),
                    "files": table,
                    "failed": [{"file": f, "error": e} for f, e in failed],
                },
                indent=2,
            )
        )
    elif args.csv:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["file", "rank", "tag", "score"])
        for f, c in rows:
            for r, i in enumerate(np.argsort(-c, kind="stable")[:k], start=1):
                w.writerow([f, r, labels[i], f"{float(c[i]):.6f}"])
    else:
        width = max((len(f) for f, _ in rows), default=4)
        for f, c in rows:
            top = ", ".join(f"{labels[i]} {float(c[i]):.2f}" for i in np.argsort(-c, kind="stable")[:k])
            print(f"{f:<{width}}  {top}")
    return 1 if failed else 0


def _one(args: argparse.Namespace, tagger: Any, file: str, sr: int) -> int:
    """One file: bars, or JSON with the per-patch scores (the output of earlier versions)."""
    streamed = _streamed(tagger, file, sr, not getattr(args, "no_progress", False))
    if streamed is not None:
        clip, patches, n_samples = streamed
    else:
        y, sr = load_audio(file, sr=sr, mono=True)
        n_samples = y.shape[1]
        clip, patches = _scores(tagger, [y])[0]
        del y
    order = np.argsort(-clip, kind="stable")[: args.top]
    if args.json:
        out = {
            "file": file,
            "tagger": getattr(tagger, "name", args.tagger),
            "sample_rate": sr,
            "duration_s": round(n_samples / sr, 3),
            "top": [{"tag": tagger.labels[i], "score": round(float(clip[i]), 6)} for i in order],
            "tags": {label: round(float(v), 6) for label, v in zip(tagger.labels, clip)},
        }
        if patches is not None:
            out["patch_seconds"] = tagger.patch_length / sr
            out["patches"] = np.round(patches, 6).tolist()
        print(json.dumps(out, indent=2))
    elif args.csv:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["file", "rank", "tag", "score"])
        for r, i in enumerate(order, start=1):
            w.writerow([file, r, tagger.labels[i], f"{float(clip[i]):.6f}"])
    else:
        width = max(len(tagger.labels[i]) for i in order)
        for i in order:
            bar = "#" * int(round(30 * float(clip[i])))
            print(f"{tagger.labels[i]:>{width}}  {clip[i]:.3f}  {bar}")
    return 0
