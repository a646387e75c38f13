"""Separating a long recording block by block into stems on disk: :func:`separate_blocks`.

The recording is read as a stream (:func:`xmtag.audio.stream_audio`, at the separator's rate),
cut into blocks of ``block_seconds`` and each block is separated together with ``margin_seconds``
of audio on each side (the separator hears the context of the block's edges); only the block's
own samples are kept and appended to one float32 WAV file per stem. Memory holds one block and
its margins, whatever the length; the stems come back as a :class:`~xmtag.separation.DiskStems`.

A separator whose network sees independent chunks declares their length in samples
(``block_frames``: Spleeter's 512-frame chunks, about 11.9 s): blocks and margins are then cut at
whole chunks, so every chunk the network sees is the one it sees in a whole-file pass and the
stems are the same to float rounding (measured -99 dB of error relative to the mix on a real song).
For other separators (Demucs: overlapping, weighted segments) the stems differ from a whole-file
separation near the block edges; ``benchmarks/README.md`` gives the measured difference. A
recording no longer than one block is separated in one piece, as :meth:`Separator.separate` does.
The residual policy of the separator (``residual=``) is applied once, on the whole recording's
residual level.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .._checks import finite_float
from ..audio import stream_audio
from ..errors import AudioError, OutputError, XmtagError
from ._base import RESIDUAL_FLOOR_DB, RESIDUAL_NAME
from ._disk import DiskStems

__all__ = ["separate_blocks", "DEFAULT_BLOCK_SECONDS", "DEFAULT_MARGIN_SECONDS"]

logger = logging.getLogger(__name__)

#: Seconds of audio separated per block (at least; see the module notes on whole chunks).
DEFAULT_BLOCK_SECONDS = 120.0
#: Seconds of context separated with a block on each side (then dropped).
DEFAULT_MARGIN_SECONDS = 5.0


def _quiet_copy(separator: Any) -> Any:
    """The separator for one block: no progress bar, no stem cache, no residual stem."""
    from ..cache import default_cache

    blk = copy.copy(separator)
    if hasattr(blk, "progress"):
        blk.progress = False
    if hasattr(blk, "cache"):
        blk.cache = default_cache(enabled=False)
    if hasattr(blk, "residual"):
        blk.residual = False
    return blk


def _check_space(folder: Path, frames: int | None, channels: int, n_files: int) -> None:
    if frames is None:
        return
    need = int(frames) * channels * 4 * n_files
    free = shutil.disk_usage(folder).free
    if free < need * 1.05:
        raise OutputError(
            f"Separating block by block writes the stems to {str(folder)!r}: about {need / 1e9:.1f} GB for "
            f"{n_files} float32 stems, but only {free / 1e9:.1f} GB is free there. Free space, or point "
            "TMPDIR (or folder=) at a disk with room."
        )


def separate_blocks(
    separator: Any,
    path: str | os.PathLike[str],
    folder: str | os.PathLike[str] | None = None,
    *,
    block_seconds: float = DEFAULT_BLOCK_SECONDS,
    margin_seconds: float = DEFAULT_MARGIN_SECONDS,
    progress: bool = True,
) -> DiskStems:
    """Separate an audio file block by block into float32 WAV stems on disk (module notes).

    Parameters
    ----------
    separator : Separator
        Any separator (:class:`xmtag.Separator`); its residual policy is applied to the whole
        recording.
    path : str or os.PathLike
        The recording (any format :func:`xmtag.load_audio` reads).
    folder : str or os.PathLike, optional
        Where the stem files go (created if missing). Default: a new temporary folder, deleted
        with the returned object (see :meth:`DiskStems.keep`).
    block_seconds : float
        Seconds separated per block.
    margin_seconds : float
        Seconds of context on each side of a block.
    progress : bool
        Show a progress bar (seconds of audio).

    Returns
    -------
    DiskStems
        The separator's stems (and ``residual`` under its policy), read by block.

    Raises
    ------
    AudioFileNotFoundError, AudioError
        For a missing or unreadable recording (naming it).
    OutputError
        When the folder lacks the disk space the stems need.

    Examples
    --------
    >>> import xmtag
    >>> from xmtag.separation import Separator
    >>> sep = Separator("hpss", progress=False, cache=False)
    >>> song = xmtag.datasets.demo_path() / "bass.ogg"
    >>> stems = separate_blocks(sep, song, block_seconds=4.0, margin_seconds=1.0, progress=False)
    >>> stems.names, round(stems.duration, 1)
    (['harmonic', 'percussive'], 26.0)
    """
    block_seconds = finite_float(block_seconds, "separate_blocks(): block_seconds", low=1.0)
    margin_seconds = finite_float(margin_seconds, "separate_blocks(): margin_seconds", low=0.0)
    rate = getattr(separator, "samplerate", None)  # None: the separator keeps the input's rate
    stream = stream_audio(path, sr=None if rate is None else int(rate))
    sr = int(stream.sr)
    label = str(path)
    owned = folder is None
    out = Path(tempfile.mkdtemp(prefix="xmtag-stems-")) if owned else Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    try:
        _check_space(out, stream.frames, max(2, stream.channels), len(separator.sources) + 1)
        files, residual_db = _run(
            _quiet_copy(separator), stream, sr, out, label, block_seconds, margin_seconds, progress
        )
        policy = getattr(separator, "residual", "auto")
        keep = policy is True or (policy == "auto" and residual_db > RESIDUAL_FLOOR_DB)
        if not keep:
            files.pop(RESIDUAL_NAME).unlink()
        return DiskStems(files, residual_db=residual_db, owner=owned)
    except BaseException:
        if owned:
            shutil.rmtree(out, ignore_errors=True)
        raise


def _run(
    blk: Any,
    stream: Any,
    sr: int,
    out: Path,
    label: str,
    block_seconds: float,
    margin_seconds: float,
    progress: bool,
) -> tuple[dict[str, Path], float]:
    """Separate the stream block by block; returns the files and the residual level in dB."""
    import soundfile as sf

    size = max(1, int(round(block_seconds * sr)))
    margin = int(round(margin_seconds * sr))
    chunk = getattr(blk, "block_frames", None)
    if chunk:  # whole chunks: the network sees the chunks of a whole-file pass
        size = -(-size // chunk) * chunk
        margin = -(-margin // chunk) * chunk
    it = iter(stream)
    buf = np.zeros((stream.channels, 0), np.float32)
    buf0 = pos = 0  # absolute index of buf[:, 0]; next sample to write
    done = False
    writers: dict[str, Any] = {}
    e_res = e_mix = 0.0
    seconds = None if stream.frames is None else int(np.ceil(stream.frames / sr))
    bar = tqdm(total=seconds, desc="separate", unit="s", disable=not progress)  # seconds of audio
    try:
        while True:
            while not done and buf0 + buf.shape[1] < pos + size + margin:
                try:
                    buf = np.concatenate([buf, next(it)], axis=1)
                except StopIteration:
                    done = True
            end = buf0 + buf.shape[1]
            if pos >= end:
                break
            a, b, stop = max(pos - margin, buf0), min(pos + size + margin, end), min(pos + size, end)
            try:
                stems = blk.separate(buf[:, a - buf0 : b - buf0], sr=sr)
            except AudioError as exc:
                raise AudioError(f"{label} (block at {pos / sr:.1f} s): {exc}") from exc
            if stems.sr != sr or stems.n_samples != b - a:
                raise XmtagError(
                    f"Separating {label} by blocks: the separator returned {stems.n_samples} samples at "
                    f"{stems.sr} Hz for a block of {b - a} at {sr} Hz."
                )
            lo, hi = pos - a, stop - a
            mix = np.asarray(stems.mixture[:, lo:hi], dtype=np.float32)
            res = mix.copy()
            for name in stems.names:
                y = np.asarray(stems[name][:, lo:hi], dtype=np.float32)
                res -= y
                if name not in writers:
                    if pos:
                        raise XmtagError(f"Separating {label} by blocks: stem {name!r} appeared mid-way.")
                    writers[name] = sf.SoundFile(
                        str(out / f"{name}.wav"), "w", sr, y.shape[0], subtype="FLOAT"
                    )
                writers[name].write(np.ascontiguousarray(y.T))
            if RESIDUAL_NAME not in writers:
                writers[RESIDUAL_NAME] = sf.SoundFile(
                    str(out / f"{RESIDUAL_NAME}.wav"), "w", sr, res.shape[0], subtype="FLOAT"
                )
            writers[RESIDUAL_NAME].write(np.ascontiguousarray(res.T))
            e_res += float(np.einsum("ij,ij->", res, res, dtype=np.float64))
            e_mix += float(np.einsum("ij,ij->", mix, mix, dtype=np.float64))
            if bar.total is not None and int(np.ceil(stop / sr)) > bar.total:  # a short estimate
                bar.total = int(np.ceil(stop / sr))
            bar.update(int(np.ceil(stop / sr)) - bar.n)
            pos = stop
            keep_from = max(buf0, pos - margin)
            buf, buf0 = buf[:, keep_from - buf0 :], keep_from
    finally:
        bar.close()
        files = {name: Path(w.name) for name, w in writers.items()}
        for w in writers.values():
            w.close()
    if e_res == 0.0:
        level = float("-inf")
    elif e_mix == 0.0:
        level = float("inf")
    else:
        level = float(10.0 * np.log10(e_res / e_mix))
    return files, level
