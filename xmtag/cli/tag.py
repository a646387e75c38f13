"""``xmtag tag FILE [--tagger NAME] [--top 10] [--json]``: tag an audio file."""

from __future__ import annotations

import argparse
import json

import numpy as np

from ..audio import load_audio


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tag",
        help="tag an audio file with a pretrained tagger (musicnn by default)",
        description="Print the top tags of an audio file (mean over 3-s patches for musicnn).",
    )
    p.add_argument("file", help="audio file (wav, flac, ogg, mp3, ...)")
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
    p.add_argument("--json", action="store_true", help="print JSON (all tags, per-patch scores)")
    p.add_argument("--threads", type=int, default=None, help="torch threads for inference")
    p.add_argument("--device", default="auto", help="where the tagger runs: auto (default), cpu, cuda")
    p.add_argument(
        "--precision", default="fp32", choices=["fp32", "bf16"], help="musicnn arithmetic (default fp32)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._checks import positive_int
    from ..taggers import load_tagger

    positive_int(args.top, "--top")
    n_threads = None if args.threads is None else positive_int(args.threads, "--threads")
    by_name = not str(args.tagger).endswith(".pb") and not str(args.tagger).lower().startswith("hf:")
    kwargs = {"num_threads": n_threads} if n_threads and by_name else {}
    if by_name:  # musicnn: device and precision (other taggers get them only when asked for)
        if args.device != "auto":
            kwargs["device"] = args.device
        if args.precision != "fp32":
            kwargs["precision"] = args.precision
    tagger = load_tagger(args.tagger, **kwargs)
    from ..taggers.base import tagger_sr

    y, sr = load_audio(args.file, sr=tagger_sr(tagger), mono=True)
    if getattr(tagger, "patch_length", None):
        patches = tagger.predict_patches(y)[0]
        clip = patches.mean(axis=0)
    else:
        patches = None
        clip = tagger.predict(y)[0]
    order = np.argsort(-clip, kind="stable")[: args.top]
    if args.json:
        out = {
            "file": args.file,
            "tagger": getattr(tagger, "name", args.tagger),
            "sample_rate": sr,
            "duration_s": round(y.shape[1] / sr, 3),
            "top": [{"tag": tagger.labels[i], "score": round(float(clip[i]), 6)} for i in order],
            "tags": {label: round(float(v), 6) for label, v in zip(tagger.labels, clip)},
        }
        if patches is not None:
            out["patch_seconds"] = tagger.patch_length / sr
            out["patches"] = np.round(patches, 6).tolist()
        print(json.dumps(out, indent=2))
    else:
        width = max(len(tagger.labels[i]) for i in order)
        for i in order:
            bar = "#" * int(round(30 * float(clip[i])))
            print(f"{tagger.labels[i]:>{width}}  {clip[i]:.3f}  {bar}")
    return 0
