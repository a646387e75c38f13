"""Time segments on the command line: ``--segments N`` or ``--segment-seconds S`` (#27).

:func:`xmtag.explain` takes a segment *count*; its segments are made of whole tagger patches,
split as evenly as whole patches allow (:func:`xmtag.coalitions.patch_segments`: the first
segments get the extra patch). For a long recording a *length* is the natural request ("one
value per minute"), so ``--segment-seconds S`` is turned into a count here, from the input's
duration and the tagger's patch length, and the command says which segments that makes.

Examples
--------
>>> plan_segments(60.0, duration=600.0, sr=16000, patch_length=47872)
SegmentPlan(count=10, seconds=[59.84, ...], patch_seconds=2.992)
>>> describe_lengths([6.0, 6.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0])
'8 segments: 2 of 6.00 s and 6 of 3.00 s'
"""

from __future__ import annotations

import argparse
import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _checks
from ..errors import XmtagError

#: the files Stems.from_folder reads as stems (and the mixture)
_STEM_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def add_segment_arguments(p: argparse.ArgumentParser, default: int | None = None) -> None:
    """``--segments N`` and ``--segment-seconds S``, exclusive (shared by ``explain`` and ``demo``)."""
    group = p.add_mutually_exclusive_group()
    if default is None:
        seg_help = "also attribute over time, in N segments of the clip (whole tagger patches)"
    else:
        seg_help = f"time segments for the timeline, made of whole tagger patches (default: {default})"
    group.add_argument("--segments", type=int, default=default, metavar="N", help=seg_help)
    group.add_argument(
        "--segment-seconds",
        type=float,
        metavar="S",
        help="time segments of about S seconds instead of a count, e.g. 60 for one per minute of a long "
        "recording (rounded to whole tagger patches; the command says which segments it made)",
    )


@dataclass
class SegmentPlan:
    """The segments a ``--segment-seconds`` request makes.

    Attributes
    ----------
    count : int
        Segments to ask :func:`xmtag.explain` for.
    seconds : list of float
        Each segment's length as the tagger sees it (whole patches), in order.
    patch_seconds : float or None
        The tagger's patch length in seconds (``None``: not patch-wise; segments are then
        ranges of samples).
    """

    count: int
    seconds: list[float]
    patch_seconds: float | None

    def __repr__(self) -> str:
        shown = ", ".join(f"{s:.2f}" for s in self.seconds[:1]) + (", ..." if len(self.seconds) > 1 else "")
        ps = None if self.patch_seconds is None else round(self.patch_seconds, 3)
        return f"SegmentPlan(count={self.count}, seconds=[{shown}], patch_seconds={ps})"


def plan_segments(seconds: float, *, duration: float, sr: int, patch_length: int | None) -> SegmentPlan:
    """How many segments of whole patches come closest to ``seconds`` each.

    Parameters
    ----------
    seconds : float
        Wanted segment length (> 0).
    duration : float
        Length of the input in seconds.
    sr : int
        The tagger's sample rate.
    patch_length : int or None
        The tagger's patch length in samples (``None``: segments of samples).

    Returns
    -------
    SegmentPlan
        ``count`` = the number of patches divided by the patches in ``seconds``, rounded, at
        least 1 and at most one segment per patch.

    Examples
    --------
    >>> plan_segments(4.0, duration=30.0, sr=16000, patch_length=48000).seconds  # 10 patches of 3 s
    [6.0, 6.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]
    >>> plan_segments(0.5, duration=30.0, sr=16000, patch_length=48000).count  # one patch each at most
    10
    >>> plan_segments(1000.0, duration=30.0, sr=16000, patch_length=48000).count
    1
    """
    from ..coalitions import patch_segments

    seconds = _checks.finite_float(seconds, "--segment-seconds", low=0.0, low_open=True)
    n_samples = max(int(round(float(duration) * sr)), 1)
    if patch_length is None:
        count = min(max(int(round(n_samples / (seconds * sr))), 1), n_samples)
        edges = [round(k * n_samples / count) for k in range(count + 1)]
        return SegmentPlan(count, [(b - a) / sr for a, b in itertools.pairwise(edges)], None)
    n_patches = max(n_samples // patch_length, 1)
    count = min(max(int(round(n_patches * patch_length / (seconds * sr))), 1), n_patches)
    groups = patch_segments(n_patches, count)
    return SegmentPlan(count, [(b - a) * patch_length / sr for a, b in groups], patch_length / sr)


def describe_lengths(lengths: list[float]) -> str:
    """``"8 segments: 2 of 6.00 s and 6 of 3.00 s"`` (lengths to 10 ms, in order of first appearance).

    Parameters
    ----------
    lengths : list of float
        Segment lengths in seconds.

    Returns
    -------
    str
    """
    counts: dict[str, int] = {}
    for s in lengths:
        key = f"{s:.2f}"
        counts[key] = counts.get(key, 0) + 1
    n = len(lengths)
    head = f"{n} segment{'s' if n != 1 else ''}"
    if len(counts) == 1:
        (key,) = counts
        return f"{head} of {key} s" if n > 1 else f"{head} of {key} s (the whole clip)"
    return f"{head}: " + " and ".join(f"{c} of {k} s" for k, c in counts.items())


def describe_bounds(bounds: Any) -> str:
    """What the segments of an explanation are, from its ``segment_bounds`` (``(K, 2)`` seconds)."""
    return describe_lengths([float(b) - float(a) for a, b in bounds])


def input_duration(source: Any) -> float:
    """Length in seconds of an audio file, a folder of stems (its longest file) or an ``xmtag.Stems``,
    read from the headers (nothing is decoded except for containers without a length)."""
    from ..audio import stream_audio
    from ..separation import Stems

    if isinstance(source, Stems):
        return float(source.duration)
    path = Path(os.fspath(source))
    if path.is_dir():
        files = [
            p
            for p in sorted(path.iterdir())
            if p.suffix.lower() in _STEM_SUFFIXES and not p.name.startswith(".") and p.is_file()
        ]
        if not files:
            raise XmtagError(f"--segment-seconds: no stem files in {str(path)!r} to take the duration from.")
        durations = [stream_audio(p).duration for p in files]
    else:
        durations = [stream_audio(path).duration]
    known = [d for d in durations if d is not None]
    if not known:
        raise XmtagError(
            f"--segment-seconds: the length of {str(path)!r} is not in its header; use --segments N instead."
        )
    return float(max(known))


def resolve_segments(args: argparse.Namespace, source: Any, tagger: str) -> int | None:
    """The segment count to pass to :func:`xmtag.explain`: ``--segments`` as given, or the count that
    ``--segment-seconds`` makes for ``source`` and ``tagger`` (said on stderr unless ``-q``)."""
    import sys

    seconds = getattr(args, "segment_seconds", None)
    if seconds is None:
        return _checks.positive_int(args.segments, "--segments", allow_none=True)
    seconds = _checks.finite_float(seconds, "--segment-seconds", low=0.0, low_open=True)
    from ..taggers import load_tagger, tagger_spec

    device = getattr(args, "device", None)
    model = load_tagger(tagger) if device in (None, "auto") else load_tagger(tagger, device=device)
    spec = tagger_spec(model)
    duration = input_duration(source)
    plan = plan_segments(seconds, duration=duration, sr=spec.sr, patch_length=spec.patch_length)
    if not args.quiet:
        unit = (
            f"whole {plan.patch_seconds:.3f}-s patches of {spec.name}"
            if plan.patch_seconds is not None
            else f"{spec.name} is not patch-wise: ranges of samples"
        )
        print(
            f"segments: --segment-seconds {seconds:g} on {duration:.1f} s makes "
            f"{describe_lengths(plan.seconds)} ({unit})",
            file=sys.stderr,
            flush=True,
        )
    return plan.count
