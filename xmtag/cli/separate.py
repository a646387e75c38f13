"""``xmtag separate FILE``: split a song into stems and write one file per stem."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import XmtagError

_DEMUCS_DEFAULTS = {"shifts": 0, "overlap": 0.25, "segment": None, "jobs": 0}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "separate",
        help="separate a song into stems (Demucs, Spleeter, chains with decompositions)",
        description=(
            "Separate FILE into stems and write OUT/<name>.wav per stem. --separator picks the model: "
            "auto (default: Demucs htdemucs if its weights are here, else Spleeter 2-stem if installed), "
            "a Demucs model (htdemucs, htdemucs_6s, htdemucs_ft, ...), spleeter:2stems, or a chain such "
            "as spleeter:2stems+hpss (then hpss/bands:N/nmf:K of a stem, see the docs). `xmtag info "
            "--separators` lists what is available here. Results are cached: separating the same audio "
            "again with the same model and settings is instant. Offline, point --repo at a folder "
            "holding Demucs' .th (and bag .yaml) files."
        ),
    )
    p.add_argument("file", help="audio file (wav, flac, ogg, mp3)")
    p.add_argument("--separator", "-s", default=None, help="separator spec (default: auto)")
    p.add_argument("--model", "-n", default=None, help="Demucs model name (same as --separator NAME)")
    p.add_argument("--repo", type=Path, default=None, help="local folder with the Demucs model files")
    p.add_argument(
        "--out", "-o", type=Path, default=None, help="output folder (default: separated/MODEL/TRACK/)"
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--mp3", action="store_true", help="write mp3 instead of 32-bit float wav")
    fmt.add_argument("--flac", action="store_true", help="write 24-bit flac instead of 32-bit float wav")
    p.add_argument(
        "--residual",
        choices=("auto", "always", "never"),
        default="auto",
        help="write mixture - sum of stems as residual.wav: when not negligible (default), always, never",
    )
    demucs = p.add_argument_group("Demucs options")
    demucs.add_argument("--shifts", type=int, default=0, help="random shifts averaged (default: %(default)s)")
    demucs.add_argument("--overlap", type=float, default=0.25, help="chunk overlap (default: %(default)s)")
    demucs.add_argument(
        "--segment", type=float, default=None, help="chunk length in seconds (default: model's)"
    )
    demucs.add_argument(
        "--jobs", "-j", type=int, default=0, help="parallel CPU workers (default: %(default)s)"
    )
    p.add_argument(
        "--device", "-d", default="auto", help="where it runs: auto (default, as tag/explain), cpu, cuda"
    )
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the stem cache")
    p.set_defaults(func=run)


def _spec(args: argparse.Namespace) -> str:
    if args.separator and args.model and args.separator != args.model:
        raise XmtagError(f"--separator {args.separator} and --model {args.model} disagree; give one.")
    return args.separator or args.model or "auto"


def build(args: argparse.Namespace, spec: str) -> Any:
    """The separator the command line asks for (Demucs options only when changed)."""
    from ..separation import Separator

    options: dict[str, Any] = {
        k: getattr(args, k) for k, default in _DEMUCS_DEFAULTS.items() if getattr(args, k, default) != default
    }
    residual = {"auto": "auto", "always": True, "never": False}[getattr(args, "residual", "auto")]
    return Separator(
        spec,
        repo=args.repo,
        device=args.device,
        cache=not args.no_cache,
        progress=not getattr(args, "quiet", False),
        residual=residual,
        **options,
    )


def run(args: argparse.Namespace) -> int:
    spec = _spec(args)
    sep = build(args, spec)
    quiet = getattr(args, "quiet", False)
    why = getattr(sep, "chosen_because", None)
    if why and not quiet:
        print(f"separator: {sep.model_name} ({why})", file=sys.stderr)
    stems = sep.separate(args.file)
    folder = re.sub(r"[^A-Za-z0-9_.+-]", "_", sep.model_name)
    out = args.out if args.out is not None else Path("separated") / folder / Path(args.file).stem
    fmt = "mp3" if args.mp3 else "flac" if args.flac else "wav"
    written = stems.save(out, format=fmt, mixture=False)
    if not quiet:
        print(f"{len(stems)} stems, {stems.duration:.1f} s at {stems.sr} Hz -> {out}/")
        for name, path in written.items():
            print(f"  {name:>8}: {path}")
        print(
            f"residual (mixture - sum of the model's stems): {_residual_db(stems):.1f} dB re the mixture"
        )
    return 0


def _residual_db(stems: Any) -> float:
    """The model's residual: the ``residual`` stem when one was added, else the stated one."""
    import numpy as np

    from ..separation import RESIDUAL_NAME

    if RESIDUAL_NAME not in stems.names:
        return float(stems.residual_db)
    res = float(np.sum(np.square(stems[RESIDUAL_NAME], dtype=np.float64)))
    mix = float(np.sum(np.square(stems.mixture, dtype=np.float64)))
    return float(10 * np.log10(res / mix)) if res > 0 and mix > 0 else float("-inf")
