"""Every coalition of a long recording's stems, scored block by block: :func:`evaluate_blocks`.

For a patch-decomposable tagger (clip output = mean of its patches' outputs, each patch hearing
at most ``patch_context`` samples before it), the coalition values of a recording are the means
of per-patch values, so they can be computed over consecutive blocks of patches and never need
a whole stem in memory. Each stem is read by sample range (:meth:`xmtag.Stems.read`; a
:class:`~xmtag.separation.DiskStems` reads its file), downmixed and resampled to the tagger's rate
with soxr's streaming resampler (the same samples as one pass over the whole stem), and each
block of patches is scored by :func:`evaluate` with the whole patches before it that its
first patch's context reaches (their outputs are dropped). The result is the
:class:`CoalitionValues` that ``evaluate(stems, tagger, segments=...)`` returns for the whole
recording, to float rounding; ``tests/coalitions/test_blocks.py`` compares the two.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .._checks import positive_int
from ..attribution import EXACT_MAX_PLAYERS as MAX_PLAYERS
from ..audio import to_mono
from ..errors import InvalidGameError, TaggerError
from ._evaluate import (
    SEGMENT_PLAYERS,
    CoalitionValues,
    evaluate,
    patch_segments,
    resolve_spec,
    segment_summary,
)

__all__ = ["evaluate_blocks", "DEFAULT_BLOCK_PATCHES"]

logger = logging.getLogger(__name__)

#: Tagger patches scored per block (about 3 minutes of musicnn's 3-s patches).
DEFAULT_BLOCK_PATCHES = 64
_READ = 1 << 18  # source frames read per step


def _mono_stream(stems: Any, name: str, target_sr: int) -> Iterator[np.ndarray]:
    """One stem as mono float32 blocks at ``target_sr`` (soxr streaming: the one-pass samples)."""
    import soxr

    n, sr = int(stems.n_samples), int(stems.sr)
    rs = None if sr == target_sr else soxr.ResampleStream(sr, target_sr, 1, dtype="float32")
    for a in range(0, n, _READ):
        b = min(a + _READ, n)
        y = to_mono(np.asarray(stems.read(name, a, b), dtype=np.float32))[0]
        if rs is not None:
            y = rs.resample_chunk(y[:, np.newaxis], last=b >= n)[:, 0]
        if y.size:
            yield np.ascontiguousarray(y)


class _Reader:
    """Consecutive tagger-rate samples of every stem, in lockstep, from ``_mono_stream``s."""

    def __init__(self, stems: Any, names: list[str], target_sr: int, total: int) -> None:
        self.streams = [_mono_stream(stems, nm, target_sr) for nm in names]
        self.buf = [np.zeros(0, np.float32) for _ in names]
        self.start = 0  # absolute index of buf[i][0]
        self.total = total

    def take(self, a: int, b: int) -> np.ndarray:
        """Samples ``a:b`` (``a`` never before an earlier call's ``a``), zero past the end."""
        out = np.zeros((len(self.buf), b - a), np.float32)
        for i, stream in enumerate(self.streams):
            drop = a - self.start
            if drop > 0:
                self.buf[i] = self.buf[i][drop:]
            parts = [self.buf[i]]
            have = self.buf[i].size
            while have < b - a:
                nxt = next(stream, None)
                if nxt is None:
                    break
                parts.append(nxt)
                have += nxt.size
            self.buf[i] = np.concatenate(parts) if len(parts) > 1 else parts[0]
            got = self.buf[i][: b - a]
            out[i, : got.size] = got
        self.start = a
        return out


def evaluate_blocks(
    stems: Any,
    tagger: Any,
    segments: int | None = None,
    *,
    block_patches: int = DEFAULT_BLOCK_PATCHES,
    spec: Any = None,
    progress: bool = True,
) -> CoalitionValues:
    """:func:`evaluate` for a long recording: every coalition scored block by block (module notes).

    Parameters
    ----------
    stems : Stems
        Any :class:`xmtag.Stems`; a :class:`~xmtag.separation.DiskStems` is read from disk by block.
    tagger : tagger
        A patch-decomposable tagger that declares ``patch_context`` (musicnn does).
    segments : int, optional
        Also the time-resolved values of this many segments of whole patches (the
        ``"receptive"`` (stem, segment) game, as :func:`evaluate`).
    block_patches : int
        Patches scored per block: memory holds ``block_patches`` patches of every stem.
    spec : TaggerSpec, optional
        The tagger's validated spec, if already made.
    progress : bool
        Show a progress bar (patches).

    Returns
    -------
    CoalitionValues
        Baseline ``"silence"``; ``n_tagger_rows`` includes the context patches scored again at
        block starts.

    Raises
    ------
    TaggerError
        For a tagger that is not patch-decomposable or declares no ``patch_context``.
    InvalidGameError
        For more stems than :data:`~xmtag.attribution.EXACT_MAX_PLAYERS`.
    XmtagError
        For ``segments`` larger than the number of patches.

    Examples
    --------
    >>> import numpy as np, xmtag
    >>> from xmtag.taggers import FunctionTagger
    >>> rms = lambda b: np.sqrt((b**2).mean(1, keepdims=True))
    >>> loud = FunctionTagger(rms, ["loud"], sample_rate=8000, name="loudness", patch_length=800)
    >>> loud.patch_context = 0
    >>> t = np.arange(8000) / 8000
    >>> s = xmtag.Stems({"a": np.sin(2 * np.pi * 220 * t), "b": 0.1 * np.sin(2 * np.pi * 330 * t)}, sr=8000)
    >>> whole = xmtag.coalitions.evaluate(s, loud, segments=5, progress=False)
    >>> blocks = evaluate_blocks(s, loud, segments=5, block_patches=3, progress=False)
    >>> bool(np.allclose(whole.values, blocks.values))
    True
    >>> bool(np.allclose(whole.segment_shapley, blocks.segment_shapley))
    True
    """
    block_patches = positive_int(block_patches, "evaluate_blocks(): block_patches")
    spec = resolve_spec(tagger, spec, need_patches=True)
    tname, tsr, length, context = spec.name, int(spec.sr), spec.patch_length, spec.patch_context
    if length is None or context is None:
        raise TaggerError(
            f"{tname} is not patch-decomposable with a declared patch_context, so its coalition values "
            "cannot be computed block by block; use xmtag.coalitions.evaluate on stems in memory."
        )
    names = [str(nm) for nm in stems.names]
    n = len(names)
    if n > MAX_PLAYERS:
        raise InvalidGameError(
            f"{n} stems need {2**n:,} tagger passes; exact evaluation supports at most {MAX_PLAYERS} stems."
        )
    total = int(round(int(stems.n_samples) * tsr / int(stems.sr)))  # what resample() gives
    n_patches = total // length
    if n_patches == 0:
        raise TaggerError(
            f"The recording ({stems.duration:.2f} s) is shorter than one {tname} patch "
            f"({length / tsr:.2f} s): nothing to score block by block."
        )
    groups = None if segments is None else patch_segments(n_patches, segments)
    lead = math.ceil(context / length) if context else 0  # whole patches a block's first patch hears
    reader = _Reader(stems, names, tsr, total)
    patch_values: np.ndarray | None = None
    rows = 0
    modes: set[str] = set()
    with tqdm(total=n_patches, desc="coalitions", unit="patch", disable=not progress) as bar:
        for p0 in range(0, n_patches, block_patches):
            p1 = min(p0 + block_patches, n_patches)
            q0 = max(p0 - lead, 0)
            tracks = reader.take(q0 * length, p1 * length)
            cv = evaluate(
                dict(zip(names, tracks)),
                tagger,
                segments=p1 - q0,
                sr=tsr,
                spec=spec,
                progress=False,
            )
            assert cv.segment_values is not None
            if patch_values is None:
                patch_values = np.empty((2**n, n_patches, cv.segment_values.shape[-1]))
            patch_values[:, p0:p1] = cv.segment_values[:, p0 - q0 :]
            rows += int(cv.n_tagger_rows)
            modes.add(cv.reuse)
            bar.update(p1 - p0)
    assert patch_values is not None
    values = patch_values.mean(axis=1)
    seg = None
    if groups is not None:
        seg_values = np.stack([patch_values[:, a:b].mean(axis=1) for a, b in groups], axis=1)
        seg = segment_summary(seg_values, groups, length, n_patches, total, tsr)
    return CoalitionValues(
        names=names,
        labels=list(spec.labels),
        values=values,
        segment_values=None if seg is None else seg["segment_values"],
        segment_weights=None if seg is None else seg["segment_weights"],
        segment_bounds=None if seg is None else seg["segment_bounds"],
        n_tagger_rows=rows,
        sample_rate=tsr,
        duration=float(stems.n_samples) / float(stems.sr),
        n_patches=n_patches,
        tagger_name=tname,
        n_naive_rows=2**n * n_patches,
        row_unit="patch",
        baseline="silence",
        reuse=modes.pop() if len(modes) == 1 else "+".join(sorted(modes)),
        segment_shapley=None if seg is None else seg["segment_shapley"],
        segment_banzhaf=None if seg is None else seg["segment_banzhaf"],
        segment_method="" if groups is None else SEGMENT_PLAYERS["receptive"],
    )
