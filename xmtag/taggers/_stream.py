"""Tagging a long recording patch by patch from a stream of blocks: :func:`stream_patches`.

A patch-wise tagger (musicnn) tags a clip as the mean of its patches' outputs, and patch ``p``
depends only on its own samples and the ``patch_context`` samples before it. So an hour need
not be in memory at once: the blocks of :func:`xmtag.audio.stream_audio` are cut into chunks of
whole patches, each chunk is scored together with the patch before it (its context, whose
output is dropped), and the per-patch outputs are the ones :meth:`predict_patches` gives on the
whole clip. Memory holds one chunk; time is linear in the length.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..errors import TaggerError
from .base import patch_context, tagger_name

__all__ = ["can_stream", "stream_patches"]

#: whole patches scored per chunk (about 3 minutes of musicnn's 3-s patches)
CHUNK_PATCHES = 64


def can_stream(tagger: Any) -> bool:
    """Whether a tagger's patches can be scored chunk by chunk with the same outputs.

    True for a tagger with a ``patch_length``, ``predict_patches`` and a declared
    ``patch_context`` no longer than one patch (musicnn: 256 samples).

    Examples
    --------
    >>> class T:
    ...     patch_length, patch_context = 100, 0
    ...     def predict_patches(self, batch): ...
    >>> can_stream(T()), can_stream(object())
    (True, False)
    """
    length = getattr(tagger, "patch_length", None)
    if not length or not callable(getattr(tagger, "predict_patches", None)):
        return False
    try:
        ctx, declared = patch_context(tagger)
    except TaggerError:
        return False
    return declared and ctx is not None and ctx <= int(length)


def stream_patches(
    tagger: Any,
    blocks: Iterable[np.ndarray],
    *,
    total: int | None = None,
    chunk_patches: int = CHUNK_PATCHES,
    progress: bool = False,
    desc: str = "tagging",
) -> Iterator[np.ndarray]:
    """Per-patch outputs of a long mono recording given as blocks, chunk by chunk.

    Parameters
    ----------
    tagger : tagger
        A patch-wise tagger for which :func:`can_stream` holds.
    blocks : iterable of numpy.ndarray
        Consecutive mono ``(1, n)`` (or 1-D) float32 blocks at the tagger's rate, of any sizes
        (:func:`xmtag.audio.stream_audio` with ``sr=tagger.sample_rate, mono=True``).
    total : int, optional
        Samples in the recording, for the progress bar.
    chunk_patches : int
        Whole patches per tagger call.
    progress : bool
        Show a progress bar counting patches.
    desc : str
        The progress bar's label.

    Yields
    ------
    numpy.ndarray
        ``(k, n_tags)`` outputs of the next ``k`` patches; concatenated, they equal
        ``tagger.predict_patches(whole)[0]``. A recording shorter than one patch yields the
        tagger's output for it (padded, with the tagger's warning) as one row.

    Raises
    ------
    TaggerError
        For a tagger whose patches are not independent beyond one patch, or a bad ``chunk_patches``.

    Examples
    --------
    >>> from xmtag.taggers import FunctionTagger
    >>> t = FunctionTagger(lambda b: b.mean(1, keepdims=True), ["mean"], sample_rate=100, patch_length=10)
    >>> t.patch_context = 0  # each patch sees only its own samples
    >>> y = np.arange(45, dtype=np.float32)
    >>> rows = np.concatenate(list(stream_patches(t, [y[:7], y[7:30], y[30:]], chunk_patches=2)))
    >>> rows[:, 0].tolist()
    [4.5, 14.5, 24.5, 34.5]
    """
    if not can_stream(tagger):
        raise TaggerError(
            f"{tagger_name(tagger)} cannot be tagged chunk by chunk: it needs a patch_length, "
            "predict_patches and a declared patch_context of at most one patch."
        )
    if not isinstance(chunk_patches, int) or chunk_patches < 1:
        raise TaggerError(f"chunk_patches must be a positive int, got {chunk_patches!r}.")
    length = int(tagger.patch_length)
    ctx, _ = patch_context(tagger)
    step = chunk_patches * length
    pending: list[np.ndarray] = []
    held = 0
    prev: np.ndarray | None = None  # the patch before the next chunk (its context)
    done = 0
    bar = tqdm(
        total=None if total is None else max(1, total // length),
        desc=desc,
        unit="patch",
        disable=not progress,
    )

    def score(chunk: np.ndarray) -> np.ndarray:
        x = chunk if prev is None else np.concatenate([prev, chunk])
        out = np.asarray(tagger.predict_patches(x[np.newaxis]))
        if out.ndim != 3 or out.shape[0] != 1:
            raise TaggerError(
                f"{tagger_name(tagger)}.predict_patches returned shape {out.shape}; expected (1, P, n_tags)."
            )
        return out[0, 1:] if prev is not None else out[0]

    with bar:
        for block in blocks:
            b = np.asarray(block, dtype=np.float32)
            b = b.reshape(-1) if b.ndim == 1 or b.shape[0] == 1 else b.mean(axis=0, dtype=np.float32)
            pending.append(b)
            held += b.size
            while held >= step:
                buf = np.concatenate(pending)
                chunk, rest = buf[:step], buf[step:]
                rows = score(chunk)
                prev = chunk[-length:].copy() if ctx else None
                pending, held = [rest], rest.size
                done += rows.shape[0]
                bar.update(rows.shape[0])
                yield rows
        buf = np.concatenate(pending) if pending else np.zeros(0, np.float32)
        whole = buf.size // length
        if whole:
            rows = score(buf[: whole * length])
            bar.update(rows.shape[0])
            yield rows
        elif done == 0:
            if buf.size == 0:
                raise TaggerError("stream_patches(): the recording has zero samples.")
            yield np.asarray(tagger.predict_patches(buf[np.newaxis]))[0]
