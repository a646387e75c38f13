"""The :class:`Stems` type: a song split into named float32 ``(channels, samples)`` parts.

A :class:`Stems` is a read-only mapping ``name -> (C, N)`` with one sample rate, an
optional *mixture* (the song the stems were separated from) and the *residual*
``mixture - sum(stems)`` that tells how well the stems add back up to the song.
Stem ``i`` (in :attr:`Stems.names` order) is bit ``i`` of a coalition mask.

Validation policy (the same for arrays and for folders):

- **Sample rate**: one rate for all stems. :meth:`Stems.from_folder` raises for files
  at different rates unless ``sr=`` asks to resample them all.
- **Length**: stems (and the mixture) may differ in length by at most ``max_pad``
  seconds (default :data:`DEFAULT_MAX_PAD`, 50 ms: encoder padding of mp3/ogg files,
  rounding after resampling). Shorter ones are zero-padded *at the end* up to the
  longest. A larger difference is an :class:`~xmtag.errors.AudioError` naming every
  length, never a silent truncation.
- **Channels**: all stems share one channel count. Mono stems are broadcast (the
  channel repeated) to the common count; any other mismatch (e.g. 2 and 6 channels)
  is an :class:`~xmtag.errors.AudioError`.
- **Mixture file** (:meth:`Stems.from_folder`): the tagger always scores sums of stems, so a
  ``mixture.*`` that is not the sum of the stems is reported with a :class:`MixtureWarning` giving the
  residual level in dB (above :data:`RESIDUAL_WARN_DB`). ``mixture="file"`` (default) keeps the
  file as :attr:`Stems.mixture` (what reports play; the residual is reported),
  ``mixture="sum"`` ignores the file, and ``mixture="residual"`` adds the difference as one more
  stem named ``"residual"``, so that the full coalition is exactly the file.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from .._checks import choice, finite_float, positive_int
from .._files import check_input_file, make_output_dir
from ..audio import check_waveform, load_audio, resample, save_audio
from ..errors import AudioError, AudioFileNotFoundError, OutputError, XmtagError

__all__ = [
    "Stems",
    "DEFAULT_MAX_PAD",
    "AUDIO_EXTENSIONS",
    "MIXTURE_NAME",
    "MIXTURE_MODES",
    "RESIDUAL_WARN_DB",
    "UnknownStemError",
    "MixtureWarning",
]

logger = logging.getLogger(__name__)

#: Largest length difference (seconds) that is zero-padded instead of rejected.
DEFAULT_MAX_PAD = 0.05
#: File extensions :meth:`Stems.from_folder` reads.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
#: File stem of the (optional) mixture in a multitrack folder, as in MUSDB18.
MIXTURE_NAME = "mixture"
#: What :meth:`Stems.from_folder` does with a mixture file (see the module notes).
MIXTURE_MODES = ("file", "sum", "residual")
#: A mixture file whose residual (mixture - sum of stems) is above this level relative to the
#: mixture, in dB, is reported with a warning.
RESIDUAL_WARN_DB = -30.0
#: Name of the extra stem ``mixture="residual"`` adds.
RESIDUAL_NAME = "residual"
#: Stem order used by :meth:`Stems.from_folder` for the names Demucs/MUSDB use; other names follow
#: alphabetically.
CANONICAL_ORDER = ("drums", "bass", "other", "vocals", "guitar", "piano")

_BAD_NAME = re.compile(r"[/\\\x00]")


class UnknownStemError(XmtagError, KeyError):
    """A stem name that is not in a :class:`Stems` (``stems["flute"]``, ``subset(["flute"])``).

    It is a :class:`KeyError` too, so mapping-style code keeps working; its message lists the
    stems that exist.
    """

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else ""


class MixtureWarning(UserWarning):
    """A mixture file that is not the sum of the stems (the message gives the residual level)."""


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise AudioError(f"Stem names must be non-empty strings, got {name!r}.")
    if _BAD_NAME.search(name) or name in (".", "..") or name.startswith("."):
        raise AudioError(
            f"Stem name {name!r} cannot be used as a file name (no '/', '\\', leading '.'). Rename it."
        )
    if name == MIXTURE_NAME:
        raise AudioError(
            f"{MIXTURE_NAME!r} is reserved for the mixture; pass it as Stems(..., mixture=array) "
            "instead of as a stem."
        )
    return name


def _align(
    arrays: dict[str, np.ndarray], sr: int, max_pad: float, where: str
) -> tuple[dict[str, np.ndarray], int, int]:
    """Apply the channel and length policy; return aligned arrays, channels, samples."""
    channels = {k: a.shape[0] for k, a in arrays.items()}
    counts = sorted(set(channels.values()))
    if len(counts) > 2 or (len(counts) == 2 and counts[0] != 1):
        listing = ", ".join(f"{k}: {c}" for k, c in channels.items())
        raise AudioError(
            f"{where}: stems have different channel counts ({listing}). Mono stems are broadcast, "
            "other mismatches are not: convert them to one channel count first."
        )
    n_ch = counts[-1]
    lengths = {k: a.shape[1] for k, a in arrays.items()}
    n = max(lengths.values())
    shortest = min(lengths.values())
    limit = int(round(max_pad * sr))
    if n - shortest > limit:
        listing = ", ".join(f"{k}: {m} ({m / sr:.3f} s)" for k, m in lengths.items())
        raise AudioError(
            f"{where}: stems differ in length by {(n - shortest) / sr:.3f} s ({n - shortest} samples), "
            f"more than the {max_pad:g} s ({limit} samples) that are zero-padded ({listing}). Trim or "
            "align them to one length, or raise max_pad."
        )
    out: dict[str, np.ndarray] = {}
    for k, a in arrays.items():
        if a.shape[0] != n_ch or a.shape[1] != n:
            if a.shape[1] != n:
                logger.info("%s: zero-padding %r by %d samples to %d.", where, k, n - a.shape[1], n)
            b = np.zeros((n_ch, n), dtype=np.float32)
            b[:, : a.shape[1]] = a  # broadcasts a mono stem over the channels
            a = b
        a = a.view()
        a.flags.writeable = False
        out[k] = a
    return out, n_ch, n


def _energy(y: np.ndarray) -> float:
    total = 0.0
    step = 1 << 20
    for start in range(0, y.shape[-1], step):
        block = y[..., start : start + step].astype(np.float64)
        total += float(np.einsum("ij,ij->", block, block))
    return total


class Stems(Mapping[str, np.ndarray]):
    """Named stems of one song: a read-only mapping ``name -> float32 (channels, samples)``.

    Parameters
    ----------
    stems : Mapping[str, numpy.ndarray]
        Stem name to waveform ``(C, N)`` (1-D arrays are mono). The insertion order
        is :attr:`names`: stem ``i`` is bit ``i`` of a coalition mask.
    sr : int
        Sample rate in Hz shared by all stems.
    mixture : numpy.ndarray, optional
        The song the stems came from. Without it :attr:`mixture` is the sum of the stems
        and the residual is exactly zero.
    max_pad : float
        Largest length difference in seconds that is fixed by zero-padding shorter stems
        (and the mixture) at the end; a larger one raises. See the module notes.

    Raises
    ------
    AudioError
        For no stems, an invalid name (empty, a path separator, or ``"mixture"``),
        invalid samples (NaN/inf, wrong shape), channel counts that cannot be broadcast,
        or lengths further apart than ``max_pad``.

    Examples
    --------
    >>> import numpy as np
    >>> s = Stems({"drums": np.ones((2, 4)), "bass": np.full(4, 0.5)}, sr=8000)
    >>> s.names, s.n_channels, s.n_samples
    (['drums', 'bass'], 2, 4)
    >>> s["bass"]  # the mono stem was broadcast to stereo
    array([[0.5, 0.5, 0.5, 0.5],
           [0.5, 0.5, 0.5, 0.5]], dtype=float32)
    >>> s.mixture[0]
    array([1.5, 1.5, 1.5, 1.5], dtype=float32)
    >>> s.residual_db
    -inf
    """

    def __init__(
        self,
        stems: Mapping[str, np.ndarray],
        sr: int,
        mixture: np.ndarray | None = None,
        *,
        max_pad: float = DEFAULT_MAX_PAD,
    ) -> None:
        if isinstance(stems, Stems):
            stems = dict(stems.items())
        if not isinstance(stems, Mapping):
            raise AudioError(f"Stems expects a mapping name -> waveform, got {type(stems).__name__}.")
        if len(stems) == 0:
            raise AudioError("Stems needs at least one stem; got an empty mapping.")
        sr = positive_int(sr, "Stems: the sample rate (Hz)", error=AudioError)
        self._sr = int(sr)
        max_pad = finite_float(max_pad, "Stems: max_pad (seconds)", low=0.0, error=AudioError)
        arrays = {_check_name(k): check_waveform(v, f"stem {k!r}") for k, v in stems.items()}
        if mixture is not None:
            arrays[MIXTURE_NAME] = check_waveform(mixture, "mixture")
        aligned, self._n_channels, self._n_samples = _align(arrays, self._sr, float(max_pad), "Stems")
        self._mixture_given = aligned.pop(MIXTURE_NAME, None)
        self._stems = aligned
        self._sum: np.ndarray | None = None

    # -- mapping protocol -------------------------------------------------------------------
    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._stems[name]
        except KeyError:
            raise UnknownStemError(f"No stem {name!r}; the stems are {self.names}.") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._stems)

    def __len__(self) -> int:
        return len(self._stems)

    def __contains__(self, name: object) -> bool:
        return name in self._stems

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Stems):
            return NotImplemented
        if self.names != other.names or self.sr != other.sr or self.n_samples != other.n_samples:
            return False
        return all(np.array_equal(self[k], other[k]) for k in self.names) and np.array_equal(
            self.mixture, other.mixture
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        mix = "given" if self._mixture_given is not None else "sum"
        return (
            f"Stems(names={self.names}, sr={self.sr}, channels={self.n_channels}, "
            f"duration={self.duration:.2f} s, mixture={mix})"
        )

    # -- properties -------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Stem names in order; stem ``i`` is bit ``i`` of a coalition mask."""
        return list(self._stems)

    @property
    def sr(self) -> int:
        """Sample rate in Hz."""
        return self._sr

    @property
    def n_channels(self) -> int:
        """Channels per stem."""
        return self._n_channels

    @property
    def n_samples(self) -> int:
        """Samples per stem."""
        return self._n_samples

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self._n_samples / self._sr

    @property
    def has_mixture(self) -> bool:
        """Whether a mixture was given (else :attr:`mixture` is the sum of the stems)."""
        return self._mixture_given is not None

    def _stem_sum(self) -> np.ndarray:
        if self._sum is None:
            total = np.zeros((self._n_channels, self._n_samples), dtype=np.float32)
            for a in self._stems.values():
                total += a
            total.flags.writeable = False
            self._sum = total
        return self._sum

    def _residual_energy(self) -> float:
        """Energy of ``mixture - sum(stems)``, block by block (no full-length sum or difference)."""
        assert self._mixture_given is not None
        total = 0.0
        step = 1 << 18
        for start in range(0, self._n_samples, step):
            block = self._mixture_given[:, start : start + step].astype(np.float32, copy=True)
            for a in self._stems.values():
                block -= a[:, start : start + step]
            block = block.astype(np.float64)
            total += float(np.einsum("ij,ij->", block, block))
        return total

    @property
    def mixture(self) -> np.ndarray:
        """The mixture ``(C, N)``: as given, else the sum of the stems."""
        return self._mixture_given if self._mixture_given is not None else self._stem_sum()

    @property
    def residual(self) -> np.ndarray:
        """``mixture - sum(stems)``, ``(C, N)`` float32 (zeros when no mixture was given)."""
        if self._mixture_given is None:
            return np.zeros((self._n_channels, self._n_samples), dtype=np.float32)
        return self._mixture_given - self._stem_sum()

    @property
    def residual_db(self) -> float:
        """Residual energy relative to the mixture's, in dB.

        ``-inf`` when the residual is exactly zero (always so without a given mixture);
        ``+inf`` when the mixture is silent but the residual is not.
        """
        if self._mixture_given is None:
            return float("-inf")
        e_res = self._residual_energy()
        if e_res == 0.0:
            return float("-inf")
        e_mix = _energy(self._mixture_given)
        if e_mix == 0.0:
            return float("inf")
        return float(10.0 * np.log10(e_res / e_mix))

    # -- reading by range (the same for stems held on disk, :class:`DiskStems`) ---------------
    def read(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Samples ``start:stop`` of one stem, float32 ``(C, n)``.

        Examples
        --------
        >>> s = Stems({"a": np.arange(6.0)}, sr=8000)
        >>> s.read("a", 2, 4)
        array([[2., 3.]], dtype=float32)
        """
        return self[name][:, start:stop]

    def mix_blocks(
        self,
        names: Iterable[str] | None = None,
        start: int = 0,
        stop: int | None = None,
        block: int = 1 << 18,
    ) -> Iterator[np.ndarray]:
        """The sum of the stems ``names`` (default: all) over samples ``start:stop``, block by block.

        Each block is a new float32 ``(C, n)`` array of at most ``block`` samples; a whole-length mix
        is never built (an hour of stems on disk, :class:`~xmtag.separation.DiskStems`).

        Examples
        --------
        >>> s = Stems({"a": np.ones(5), "b": np.full(5, 2.0)}, sr=8000)
        >>> [b.tolist() for b in s.mix_blocks(["b"], block=3)]
        [[[2.0, 2.0, 2.0]], [[2.0, 2.0]]]
        """
        names = self.names if names is None else list(names)
        for k in names:
            if k not in self:
                raise UnknownStemError(f"No stem {k!r}; the stems are {self.names}.")
        block = positive_int(block, "mix_blocks(): block", error=AudioError)
        start, stop, _ = slice(start, stop).indices(self.n_samples)
        for a in range(start, stop, block):
            b = min(a + block, stop)
            y = np.zeros((self.n_channels, b - a), dtype=np.float32)
            for k in names:
                y += self.read(k, a, b)
            yield y

    def stem_digest(self, name: str) -> str:
        """Content hash of one stem's samples (:func:`xmtag.cache.hash_array`)."""
        from ..cache import hash_array

        return hash_array(self[name])

    # -- derived Stems ----------------------------------------------------------------------
    def subset(self, names: Iterable[str]) -> Stems:
        """The stems ``names``, in that order; their mixture is their sum.

        Parameters
        ----------
        names : iterable of str
            Stem names to keep (a single name is accepted too).

        Returns
        -------
        Stems
            A new object; the arrays are shared, not copied.

        Raises
        ------
        UnknownStemError
            For a name that is not a stem.
        AudioError
            For no names or a repeated name.

        Examples
        --------
        >>> s = Stems({"a": np.ones(3), "b": np.zeros(3), "c": np.ones(3)}, sr=8000)
        >>> s.subset(["c", "a"]).names
        ['c', 'a']
        """
        if isinstance(names, str):
            names = [names]
        names = list(names)
        if not names:
            raise AudioError(f"subset() needs at least one stem name; the stems are {self.names}.")
        if len(set(names)) != len(names):
            raise AudioError(f"subset(): repeated stem names in {names}.")
        return Stems({k: self[k] for k in names}, sr=self._sr)

    def resampled(self, sr: int) -> Stems:
        """The same stems (and given mixture) at sample rate ``sr`` (soxr, high quality).

        Parameters
        ----------
        sr : int
            Target sample rate in Hz.

        Returns
        -------
        Stems
            ``self`` when ``sr`` is already the rate, else a resampled copy.

        Raises
        ------
        AudioError
            For a rate that is not a positive integer.

        Examples
        --------
        >>> s = Stems({"a": np.zeros((2, 8000))}, sr=8000)
        >>> s.resampled(16000).n_samples
        16000
        """
        sr = positive_int(sr, "resampled(): the sample rate", error=AudioError)
        sr = int(sr)
        if sr == self._sr:
            return self
        stems = {k: resample(a, self._sr, sr) for k, a in self._stems.items()}
        mix = None if self._mixture_given is None else resample(self._mixture_given, self._sr, sr)
        return Stems(stems, sr=sr, mixture=mix)

    # -- files ------------------------------------------------------------------------------
    def save(
        self,
        folder: str | os.PathLike[str],
        format: str = "wav",
        subtype: str | None = None,
        mixture: bool | None = None,
    ) -> dict[str, Path]:
        """Write one file per stem (``<name>.<format>``) into ``folder``, each atomically.

        Parameters
        ----------
        folder : str or os.PathLike
            Output folder; created (with parents) if missing.
        format : str
            ``"wav"`` (32-bit float, lossless), ``"flac"`` (24-bit), ``"ogg"`` or ``"mp3"``.
        subtype : str, optional
            A libsndfile subtype such as ``"PCM_16"``.
        mixture : bool, optional
            Also write ``mixture.<format>``. Default: only if a mixture was given.

        Returns
        -------
        dict[str, pathlib.Path]
            Name (including ``"mixture"`` if written) to the written path.

        Raises
        ------
        OutputError
            If the folder cannot be created or a file cannot be written.

        Examples
        --------
        >>> import tempfile
        >>> s = Stems({"drums": np.zeros((2, 80)), "bass": np.zeros((2, 80))}, sr=8000)
        >>> sorted(p.name for p in s.save(tempfile.mkdtemp()).values())
        ['bass.wav', 'drums.wav']
        """
        ext = "." + str(format).lower().lstrip(".")
        if ext not in AUDIO_EXTENSIONS:
            raise OutputError(f"Cannot save stems as {format!r}: use one of wav, flac, ogg, mp3.")
        out = make_output_dir(folder)
        written: dict[str, Path] = {}
        for name, a in self._stems.items():
            written[name] = save_audio(out / f"{name}{ext}", a, self._sr, subtype=subtype)
        if mixture or (mixture is None and self._mixture_given is not None):
            written[MIXTURE_NAME] = save_audio(out / f"{MIXTURE_NAME}{ext}", self.mixture, self._sr, subtype)
        return written

    @classmethod
    def from_folder(
        cls,
        folder: str | os.PathLike[str],
        names: Iterable[str] | None = None,
        sr: int | None = None,
        *,
        max_pad: float = DEFAULT_MAX_PAD,
        mixture: str = "file",
    ) -> Stems:
        """Read a multitrack folder (MUSDB18 style): one audio file per stem.

        Every ``*.wav``, ``*.flac``, ``*.ogg`` and ``*.mp3`` file is a stem named after the
        file (``drums.wav`` -> ``"drums"``), except ``mixture.*``, which is the optional
        mixture. Order: ``drums, bass, other, vocals, guitar, piano`` as present, then
        any other names alphabetically; ``names=`` picks and orders stems explicitly.

        Parameters
        ----------
        folder : str or os.PathLike
            The folder.
        names : iterable of str, optional
            Stems to read, in this order (others are ignored). Default: all.
        sr : int, optional
            Resample every file to this rate. Default: keep the files' rate, which must
            then be the same for all files.
        max_pad : float
            Length tolerance in seconds (see the module notes).
        mixture : {"file", "sum", "residual"}
            What to do with a ``mixture.*`` file: keep it as :attr:`mixture` (``"file"``; a
            warning gives the residual level when it is not the sum of the stems), ignore it
            (``"sum"``), or add ``mixture - sum(stems)`` as a stem named ``"residual"``.
            Command line: ``xmtag explain --mixture sum|file|residual``.

        Returns
        -------
        Stems

        Raises
        ------
        AudioFileNotFoundError
            If the folder does not exist.
        AudioError
            If it holds no stem files, two files for one name, a requested name is missing,
            or files differ in sample rate (without ``sr``), channels or length (see policy),
            or ``mixture="residual"`` finds no mixture file.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = Stems({"vocals": np.zeros(800), "drums": np.zeros(800)}, sr=8000).save(d)
        >>> Stems.from_folder(d).names
        ['drums', 'vocals']
        """
        d = Path(folder)
        mode = choice(mixture, "Stems.from_folder(): mixture", MIXTURE_MODES)
        sr = positive_int(sr, "Stems.from_folder(): sr (Hz)", allow_none=True, error=AudioError)
        if not d.exists():
            raise AudioFileNotFoundError(f"Stem folder {str(d)!r} does not exist. Check the path.")
        if not d.is_dir():
            raise AudioFileNotFoundError(
                f"{str(d)!r} is a file, not a folder of stems. Pass the folder holding drums.wav, ... "
                "or use Separator().separate() for a mixed song."
            )
        files: dict[str, Path] = {}
        for p in sorted(d.iterdir()):
            if p.suffix.lower() not in AUDIO_EXTENSIONS or p.name.startswith(".") or p.is_dir():
                continue
            check_input_file(p, "stem file")  # a dangling link, pipe or unreadable file: say so
            if p.stem in files:
                raise AudioError(
                    f"Stem folder {str(d)!r} has two files for {p.stem!r}: {files[p.stem].name} and "
                    f"{p.name}. Keep one."
                )
            files[p.stem] = p
        mix_path = files.pop(MIXTURE_NAME, None)
        if mode == "sum":
            mix_path = None
        elif mode == "residual" and mix_path is None:
            raise AudioError(
                f"Stem folder {str(d)!r} has no mixture file, so mixture='residual' has nothing to compare "
                "the stems with. Add mixture.wav or use mixture='file'."
            )
        if not files:
            found = sorted(q.name for q in d.iterdir())[:10]
            raise AudioError(
                f"Stem folder {str(d)!r} holds no stem files ({', '.join(AUDIO_EXTENSIONS)}"
                f"{'; only a mixture' if mix_path else ''}); found: {found or 'nothing'}. "
                "Put one file per stem there (drums.wav, bass.wav, ...)."
            )
        if names is None:
            known = [k for k in CANONICAL_ORDER if k in files]
            order = known + sorted(k for k in files if k not in CANONICAL_ORDER)
        else:
            order = [names] if isinstance(names, str) else list(names)
            missing = [k for k in order if k not in files]
            if missing:
                raise AudioError(f"Stem folder {str(d)!r} has no file for {missing}; it has {sorted(files)}.")
        to_read = {k: files[k] for k in order}
        if mix_path is not None:
            to_read[MIXTURE_NAME] = mix_path
        loaded: dict[str, np.ndarray] = {}
        rates: dict[str, int] = {}
        for k, p in to_read.items():
            loaded[k], rates[k] = load_audio(p, sr=sr)
        if len(set(rates.values())) > 1:
            listing = ", ".join(f"{to_read[k].name}: {r} Hz" for k, r in rates.items())
            raise AudioError(
                f"Stem folder {str(d)!r}: files have different sample rates ({listing}). Pass sr= "
                "(command line: --sr 44100) to resample them all to one rate."
            )
        rate = next(iter(rates.values()))
        mix = loaded.pop(MIXTURE_NAME, None)
        if RESIDUAL_NAME in loaded and mode == "residual":
            raise AudioError(
                f"Stem folder {str(d)!r} already has a stem named {RESIDUAL_NAME!r}; rename it to use "
                "mixture='residual'."
            )
        try:
            stems = cls(loaded, sr=rate, mixture=mix, max_pad=max_pad)
        except AudioError as exc:
            raise AudioError(f"Stem folder {str(d)!r}: {exc}") from exc
        if mix_path is None:
            return stems
        level = stems.residual_db
        if mode == "residual":
            parts = dict(stems.items())
            parts[RESIDUAL_NAME] = stems.residual
            return cls(parts, sr=rate, mixture=stems.mixture, max_pad=max_pad)
        if level > RESIDUAL_WARN_DB:
            warnings.warn(
                f"Stem folder {str(d)!r}: {mix_path.name} is not the sum of the stems: the residual "
                f"(mixture - sum of stems) is {level:.1f} dB relative to the mixture. The tagger scores "
                f"sums of stems, so the explanation does not cover that part of {mix_path.name}. Check "
                "that the stems belong to this mixture, or choose: mixture='sum' (command line: "
                "--mixture sum) ignores the file, mixture='residual' (--mixture residual) adds the "
                "difference as a stem.",
                MixtureWarning,
                stacklevel=2,
            )
        return stems
