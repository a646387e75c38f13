"""Stems kept on disk and read by block: :class:`DiskStems`, the stems of an hour-long recording.

One hour of stereo 44.1-kHz float32 audio is 1.27 GB per stem; the four stems of a DJ set or a
concert do not fit the memory budget of an explanation (``DESIGN.md``: 1.5 GB whatever the length).
A :class:`DiskStems` is a :class:`~xmtag.Stems` whose samples stay in one float32 WAV file per stem
(lossless for float32) and are read by sample range: :meth:`~xmtag.Stems.read`,
:meth:`~xmtag.Stems.mix_blocks` and :meth:`~xmtag.Stems.stem_digest` never hold a whole stem.
Indexing (``stems["drums"]``) still works and reads the whole stem, for code that wants an array.

:func:`xmtag.separation.separate_blocks` writes one; :func:`xmtag.explain` makes one for a long
recording (``stream=``), and the coalition engine, the envelope, the listenable files and the
report read it block by block.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import weakref
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._files import make_output_dir
from ..audio import save_blocks
from ..errors import AudioError, OutputError
from ._stems import AUDIO_EXTENSIONS, MIXTURE_NAME, Stems, UnknownStemError, _check_name

__all__ = ["DiskStems", "BLOCK_FRAMES"]

logger = logging.getLogger(__name__)

#: Frames per block when a :class:`DiskStems` is read block by block (about 6 s at 44.1 kHz).
BLOCK_FRAMES = 1 << 18


class DiskStems(Stems):
    """Stems held in audio files on disk, read by sample range (module notes).

    Parameters
    ----------
    files : Mapping[str, str or os.PathLike]
        Stem name to an uncompressed file (WAV, 32-bit float for exact float32 samples; any
        seekable format libsndfile reads works). The insertion order is :attr:`names`.
    residual_db : float
        The residual level of the separation these stems came from (see
        :attr:`~xmtag.Stems.residual_db`); ``-inf`` when unknown or exact.
    owner : bool
        Delete the files' folder when this object is garbage-collected (a temporary folder).

    Raises
    ------
    AudioFileNotFoundError, AudioError
        For a missing or unreadable file, or files that differ in rate, channels or length
        (naming the files).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from xmtag import Stems
    >>> d = tempfile.mkdtemp()
    >>> s = Stems({"a": np.ones((2, 1000)), "b": np.full((2, 1000), 0.5)}, sr=8000)
    >>> disk = DiskStems(s.save(d))
    >>> disk.names, disk.n_samples, disk.read("b", 10, 12)
    (['a', 'b'], 1000, array([[0.5, 0.5],
           [0.5, 0.5]], dtype=float32))
    >>> [blk.shape for blk in disk.mix_blocks(block=400)]
    [(2, 400), (2, 400), (2, 200)]
    >>> disk.stem_digest("a") == s.stem_digest("a")
    True
    """

    def __init__(
        self,
        files: Mapping[str, str | os.PathLike[str]],
        *,
        residual_db: float = float("-inf"),
        owner: bool = False,
    ) -> None:
        import soundfile as sf

        from .._files import check_input_file

        if not isinstance(files, Mapping) or not files:
            raise AudioError("DiskStems needs a non-empty mapping of stem name -> audio file.")
        self._files: dict[str, Path] = {}
        shapes: dict[str, tuple[int, int, int]] = {}
        for name, f in files.items():
            p = Path(f)
            check_input_file(p, "stem file")
            try:
                info = sf.info(str(p))
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise AudioError(f"Stem file {str(p)!r} cannot be read: {exc}.") from exc
            self._files[_check_name(name)] = p
            shapes[name] = (int(info.samplerate), int(info.channels), int(info.frames))
        if len(set(shapes.values())) > 1:
            listing = ", ".join(
                f"{self._files[k].name}: {r} Hz, {c} ch, {n} frames" for k, (r, c, n) in shapes.items()
            )
            raise AudioError(f"DiskStems: the stem files differ in rate, channels or length ({listing}).")
        self._sr, self._n_channels, self._n_samples = next(iter(shapes.values()))
        if self._n_samples == 0:
            raise AudioError(
                f"DiskStems: the stem files hold no samples ({', '.join(map(str, self._files.values()))})."
            )
        self._stems = {}  # the base class's arrays: none in memory
        self._mixture_given = None
        self._sum = None
        self._residual_db = float(residual_db)
        self._digests: dict[str, str] = {}
        folders = {p.parent for p in self._files.values()}
        self._finalizer = None
        if owner and len(folders) == 1:
            self._finalizer = weakref.finalize(self, shutil.rmtree, str(folders.pop()), True)

    # -- mapping protocol -------------------------------------------------------------------
    def __getitem__(self, name: str) -> np.ndarray:
        return self.read(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, name: object) -> bool:
        return name in self._files

    def __repr__(self) -> str:
        return (
            f"DiskStems(names={self.names}, sr={self.sr}, channels={self.n_channels}, "
            f"duration={self.duration:.2f} s, folder={str(self.folder)!r})"
        )

    @property
    def names(self) -> list[str]:
        """Stem names in order; stem ``i`` is bit ``i`` of a coalition mask."""
        return list(self._files)

    @property
    def files(self) -> dict[str, Path]:
        """Stem name to its file."""
        return dict(self._files)

    @property
    def folder(self) -> Path:
        """The folder of the first stem's file."""
        return next(iter(self._files.values())).parent

    @property
    def residual_db(self) -> float:
        """The residual level given at construction (the separation's; ``-inf`` if unknown)."""
        return self._residual_db

    # -- reading ----------------------------------------------------------------------------
    def read(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Samples ``start:stop`` of one stem from its file, float32 ``(C, n)``."""
        import soundfile as sf

        if name not in self._files:
            raise UnknownStemError(f"No stem {name!r}; the stems are {self.names}.")
        start, stop, _ = slice(start, stop).indices(self._n_samples)
        n = max(0, stop - start)
        p = self._files[name]
        try:
            with sf.SoundFile(str(p)) as fh:
                fh.seek(start)
                x = fh.read(n, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(f"Cannot read samples {start}:{stop} of stem file {str(p)!r}: {exc}.") from exc
        if x.shape[0] != n:
            raise AudioError(
                f"Stem file {str(p)!r} is shorter than announced: {x.shape[0]} of {n} samples at {start}. "
                "Was it changed or truncated while in use?"
            )
        return np.ascontiguousarray(x.T)

    def _stem_sum(self) -> np.ndarray:
        if self._sum is None:
            total = np.zeros((self._n_channels, self._n_samples), dtype=np.float32)
            for start in range(0, self._n_samples, BLOCK_FRAMES):
                for name in self._files:
                    total[:, start : start + BLOCK_FRAMES] += self.read(name, start, start + BLOCK_FRAMES)
            total.flags.writeable = False
            self._sum = total
        return self._sum

    def stem_digest(self, name: str) -> str:
        """:func:`xmtag.cache.hash_array` of the stem's ``(C, N)`` float32 samples, read by block
        (once per channel): the same digest as for the stem held in memory."""
        if name not in self._digests:
            if name not in self._files:
                raise UnknownStemError(f"No stem {name!r}; the stems are {self.names}.")
            shape = (self._n_channels, self._n_samples)
            h = hashlib.sha256(f"{np.dtype(np.float32).str}|{shape}|".encode())
            for c in range(self._n_channels):
                for start in range(0, self._n_samples, BLOCK_FRAMES):
                    h.update(np.ascontiguousarray(self.read(name, start, start + BLOCK_FRAMES)[c]).data)
            self._digests[name] = h.hexdigest()
        return self._digests[name]

    # -- derived ----------------------------------------------------------------------------
    def subset(self, names: Iterable[str]) -> DiskStems:
        """The stems ``names``, in that order, on the same files (which this object keeps owning)."""
        if isinstance(names, str):
            names = [names]
        names = list(names)
        if not names or len(set(names)) != len(names):
            raise AudioError(f"subset() needs distinct stem names; got {names}, the stems are {self.names}.")
        missing = [k for k in names if k not in self._files]
        if missing:
            raise UnknownStemError(f"No stem {missing[0]!r}; the stems are {self.names}.")
        out = DiskStems({k: self._files[k] for k in names})
        out._keep = self  # the files live as long as the subset
        return out

    def resampled(self, sr: int) -> Stems:
        """In memory, at ``sr`` (see :meth:`xmtag.Stems.resampled`); ``self`` at its own rate."""
        if int(sr) == self._sr:
            return self
        return Stems({k: self.read(k) for k in self.names}, sr=self._sr).resampled(sr)

    def save(
        self,
        folder: str | os.PathLike[str],
        format: str = "wav",
        subtype: str | None = None,
        mixture: bool | None = None,
    ) -> dict[str, Path]:
        """Write one file per stem into ``folder`` block by block (see :meth:`xmtag.Stems.save`)."""
        ext = "." + str(format).lower().lstrip(".")
        if ext not in AUDIO_EXTENSIONS:
            raise OutputError(f"Cannot save stems as {format!r}: use one of wav, flac, ogg, mp3.")
        out = make_output_dir(folder)
        written: dict[str, Path] = {}
        for name in self.names:
            written[name] = save_blocks(
                out / f"{name}{ext}", self.mix_blocks([name]), self._sr, self._n_channels, subtype
            )
        if mixture:
            written[MIXTURE_NAME] = save_blocks(
                out / f"{MIXTURE_NAME}{ext}", self.mix_blocks(), self._sr, self._n_channels, subtype
            )
        return written

    def keep(self) -> Path:
        """Keep the files after this object is gone (they are otherwise deleted with it); returns
        their folder."""
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        return self.folder

    def __reduce__(self) -> tuple[Any, ...]:
        return (DiskStems, (self._files,), {"_residual_db": self._residual_db})
