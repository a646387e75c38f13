"""The tagger protocol, input checks shared by every backend, and :class:`FunctionTagger`.

A *tagger* is any object with these attributes (duck typing, see :class:`Tagger`):

``labels`` : list of str
    The tag names, one per output column.
``sample_rate`` : int
    The rate its input must have.
``patch_length`` : int or None
    Samples per patch at ``sample_rate`` when the clip output is the mean of
    independent per-patch outputs (patch ``p`` covers samples
    ``[p * patch_length, (p + 1) * patch_length)``); ``None`` otherwise.
``predict(batch)``
    ``batch`` float32 ``(B, N)`` mono at ``sample_rate`` -> ``(B, n_tags)`` clip-level outputs.
``predict_patches(batch)``
    ``(B, N)`` -> ``(B, P, n_tags)`` with ``P = N // patch_length`` whole patches
    (the trailing remainder is dropped; a clip shorter than one patch is
    zero-padded to one patch with a :class:`ShortClipWarning`).
    For patch-decomposable taggers ``predict(b) == predict_patches(b).mean(1)``.
``name`` : str, optional
    Used in cache keys and metadata.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._checks import label_list, non_negative_int, positive_int
from ..errors import TaggerError

__all__ = [
    "Tagger",
    "FunctionTagger",
    "ShortClipWarning",
    "check_batch",
    "check_tagger",
    "tagger_spec",
    "output_array",
    "split_patches",
    "tagger_name",
]


class ShortClipWarning(UserWarning):
    """A clip shorter than one patch was zero-padded to one patch."""


@runtime_checkable
class Tagger(Protocol):
    """What xmtag needs from a music tagger (structural type; no subclassing needed).

    Examples
    --------
    >>> from xmtag.taggers import FunctionTagger
    >>> t = FunctionTagger(lambda b: b[:, :1] ** 2, ["loud"], sample_rate=8000)
    >>> isinstance(t, Tagger)
    True
    """

    labels: list[str]
    sample_rate: int
    patch_length: int | None

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Clip-level outputs ``(B, n_tags)`` of float32 ``(B, N)`` mono clips at ``sample_rate``."""

    def predict_patches(self, batch: np.ndarray) -> np.ndarray:
        """Per-patch outputs ``(B, P, n_tags)``, ``P = N // patch_length`` (patch taggers only)."""


def tagger_name(tagger: Any) -> str:
    """The tagger's ``name`` attribute, else its class name.

    Parameters
    ----------
    tagger : object

    Returns
    -------
    str

    Examples
    --------
    >>> tagger_name(FunctionTagger(lambda b: b[:, :1], ["x"], 8000, name="first-sample"))
    'first-sample'
    """
    return str(getattr(tagger, "name", None) or type(tagger).__name__)


def tagger_sr(tagger: Any) -> Any:
    """A tagger's sample rate: its ``sample_rate`` (the protocol's name), else its ``sr``.

    xmtag spells sample rates ``sr`` everywhere (``Stems.sr``, ``load_audio(sr=)``); its taggers
    have both attributes, and a user's tagger may give either.

    >>> class T:
    ...     sr = 16000
    >>> tagger_sr(T())
    16000
    """
    rate = getattr(tagger, "sample_rate", None)
    return getattr(tagger, "sr", None) if rate is None else rate


class SampleRateAlias:
    """Mixin: ``sr`` as the spelling of ``sample_rate`` (the tagger protocol's attribute)."""

    @property
    def sr(self) -> int:
        """The sample rate in Hz (same as ``sample_rate``)."""
        return int(self.sample_rate)  # type: ignore[attr-defined]


def patch_context(tagger: Any) -> tuple[int | None, bool]:
    """``(context, declared)``: samples before a patch that reach its output, and whether the tagger said so.

    ``context`` is ``None`` when the tagger declares ``patch_context = None`` (patches may see
    the whole clip: no reuse).

    Examples
    --------
    >>> class T:
    ...     patch_context = 256
    >>> patch_context(T()), patch_context(object())
    ((256, True), (0, False))
    """
    if not hasattr(tagger, "patch_context"):
        return 0, False
    c = tagger.patch_context
    if c is None:
        return None, True
    c = non_negative_int(
        c,
        f"{tagger_name(tagger)}.patch_context (samples before a patch that reach "
        "its output)",
        allow_none=True,
        error=TaggerError,
    )
    return int(c), True


@dataclass(frozen=True)
class TaggerSpec:
    """What xmtag needs to know of a tagger, validated once per call (:func:`tagger_spec`).

    Attributes
    ----------
    name : str
        ``tagger.name``, else its class name (:func:`tagger_name`).
    labels : list of str
        Distinct tag names, one per output column.
    sr : int
        The rate it reads (its ``sample_rate``, else its ``sr``).
    patch_length : int or None
        Samples per patch; ``None`` when its clip output is not a mean of patches.
    patch_context : int or None
        Samples before a patch that reach its output (0 when undeclared; ``None``: the whole clip).
    context_declared : bool
        Whether the tagger declared ``patch_context`` (else it is checked at run time).
    """

    name: str
    labels: list[str]
    sr: int
    patch_length: int | None
    patch_context: int | None
    context_declared: bool


def tagger_spec(tagger: Any, *, need_patches: bool = False) -> TaggerSpec:
    """Validate a tagger once, for every caller: its :class:`TaggerSpec`.

    The one place where a user's tagger is checked (:func:`check_tagger`,
    :func:`xmtag.coalitions.evaluate` and everything built on them use it): ``labels`` must be a
    list of distinct non-empty strings (a plain string such as ``"rock"`` is refused, not read
    as the tags r, o, c, k), ``sample_rate`` a positive int, ``patch_length`` a positive int or
    ``None`` (missing means ``None``), ``predict`` (and with ``need_patches``,
    ``predict_patches``) callable.

    Parameters
    ----------
    tagger : object
    need_patches : bool
        Also require ``predict_patches`` (for time-resolved values).

    Returns
    -------
    TaggerSpec

    Raises
    ------
    TaggerError
        Naming the tagger, the attribute and what it must be.

    Examples
    --------
    >>> class T:
    ...     labels, sample_rate, patch_length = "rock", 16000, None
    ...     def predict(self, b): ...
    >>> tagger_spec(T())
    Traceback (most recent call last):
    ...
    xmtag.errors.TaggerError: tagger 'T': labels must be a list of tag names, got the single ...
    """
    name = tagger_name(tagger)
    needed = ["labels", "predict"] + (["predict_patches"] if need_patches else [])
    missing = [a for a in needed if not hasattr(tagger, a)]
    if not (hasattr(tagger, "sr") or hasattr(tagger, "sample_rate")):
        missing.insert(1, "sample_rate")
    if missing:
        raise TaggerError(
            f"{name} is not a tagger: it has no {', '.join(map(repr, missing))} attribute. A tagger "
            "needs labels, sample_rate, patch_length, predict(batch) and predict_patches(batch); wrap a "
            "plain function with xmtag.taggers.FunctionTagger."
        )
    who = f"tagger {name!r}"
    labels = label_list(tagger.labels, who, error=TaggerError)
    sr = positive_int(tagger_sr(tagger), f"{who}: sample_rate (Hz)", error=TaggerError)
    pl = positive_int(
        getattr(tagger, "patch_length", None),
        f"{who}: patch_length (samples)",
        allow_none=True,
        error=TaggerError,
    )
    for attr in ["predict"] + (["predict_patches"] if need_patches else []):
        if not callable(getattr(tagger, attr)):
            raise TaggerError(
                f"{who}: {attr} is not callable; it must be a method taking a (batch, samples) array."
            )
    context, declared = patch_context(tagger)
    return TaggerSpec(name, labels, sr, pl, context, declared)


def check_tagger(tagger: Any, *, need_patches: bool = False) -> Any:
    """Check that ``tagger`` follows the :class:`Tagger` protocol (see :func:`tagger_spec`).

    Returns the tagger unchanged.

    Parameters
    ----------
    tagger : object
        Anything claimed to follow the tagger protocol.
    need_patches : bool
        Also require ``predict_patches``.

    Raises
    ------
    TaggerError
        Naming the first missing or malformed attribute.

    Examples
    --------
    >>> check_tagger(object())
    Traceback (most recent call last):
    ...
    xmtag.errors.TaggerError: object is not a tagger: it has no 'labels', 'sample_rate', 'predict' ...
    """
    tagger_spec(tagger, need_patches=need_patches)
    return tagger


def output_array(out: Any, who: str) -> np.ndarray:
    """A tagger's raw output as a real-valued numpy array (no shape check).

    Accepts numpy arrays, nested lists and torch tensors (detached and moved to the CPU
    first, so a tensor that requires grad works). Complex, string or object outputs raise.

    Raises
    ------
    TaggerError
        For outputs that are not real numbers.

    Examples
    --------
    >>> output_array([[1, 2]], "t").dtype.kind
    'i'
    """
    if hasattr(out, "detach") and hasattr(out, "cpu"):  # a torch tensor: no autograd, host memory
        try:
            t = out.detach().cpu()
            if str(t.dtype) == "torch.bfloat16":
                t = t.float()
            out = t.numpy()
        except (RuntimeError, TypeError) as exc:
            raise TaggerError(f"{who} returned a tensor that cannot be read as numbers ({exc}).") from exc
    try:
        arr = np.asarray(out)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TaggerError(
            f"{who} returned something that is not a numeric array ({exc}). Return a numpy array or a "
            "torch tensor of shape (batch, tags)."
        ) from exc
    if arr.dtype.kind not in "fiub":
        raise TaggerError(
            f"{who} returned something that is not a numeric array (dtype {arr.dtype}); it must return "
            "real numbers, e.g. a float32 array of shape (batch, tags)."
        )
    return arr


def check_batch(batch: Any, name: str = "batch") -> np.ndarray:
    """Validate a tagger input and return it as C-contiguous float32 ``(B, N)``.

    A 1-D array is taken as one clip and becomes ``(1, N)``; float64 is converted
    to float32. Everything else that is not ``(B, N)`` real floating point raises.

    Parameters
    ----------
    batch : array_like
        ``(B, N)`` mono clips (or one 1-D clip).
    name : str
        What to call the input in error messages.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(B, N)``.

    Raises
    ------
    TaggerError
        Empty batch, zero-length clips, integer or complex samples, more than two
        dimensions (e.g. ``(B, channels, N)``: mix down with
        :func:`xmtag.audio.to_mono` first), NaN or infinite samples.

    Examples
    --------
    >>> check_batch(np.zeros(5)).shape
    (1, 5)
    >>> check_batch(np.zeros((0, 5)))
    Traceback (most recent call last):
    ...
    xmtag.errors.TaggerError: batch: the batch is empty (shape (0, 5)); pass at least one clip.
    """
    y = np.asarray(batch)
    if y.dtype == object:
        raise TaggerError(f"{name}: expected a numeric array, got objects (clips of different lengths?).")
    if y.ndim == 1:
        y = y[np.newaxis]
    if y.ndim != 2:
        raise TaggerError(
            f"{name}: expected mono clips shaped (batch, samples), got shape {y.shape}. "
            "Mix multichannel audio down first (xmtag.audio.to_mono) and stack clips of equal length."
        )
    if y.shape[0] == 0:
        raise TaggerError(f"{name}: the batch is empty (shape {y.shape}); pass at least one clip.")
    if y.shape[1] == 0:
        raise TaggerError(f"{name}: the clips have zero samples (shape {y.shape}).")
    if y.dtype.kind != "f":
        raise TaggerError(
            f"{name}: expected float samples in [-1, 1], got dtype {y.dtype}; "
            "convert integer PCM with y / 32768 (int16) first."
        )
    y = np.ascontiguousarray(y, dtype=np.float32)
    if not np.isfinite(y).all():
        clip, sample = np.argwhere(~np.isfinite(y))[0]
        raise TaggerError(
            f"{name}: clip {clip} contains NaN or infinite samples (first at sample {sample}). "
            "Clean the audio first."
        )
    return y


def split_patches(batch: np.ndarray, patch_length: int, name: str = "batch") -> np.ndarray:
    """Cut ``(B, N)`` into ``(B, P, patch_length)`` whole patches, ``P = N // patch_length``.

    The trailing remainder is dropped; a clip shorter than one patch is
    zero-padded to one patch with a :class:`ShortClipWarning`.

    Parameters
    ----------
    batch : numpy.ndarray
        ``(B, N)`` mono clips.
    patch_length : int
        Samples per patch.
    name : str
        Name of the input in error messages.

    Returns
    -------
    numpy.ndarray
        ``(B, P, patch_length)``, ``P = max(1, N // patch_length)``.

    Examples
    --------
    >>> split_patches(np.ones((2, 10), np.float32), 4).shape
    (2, 2, 4)
    """
    b, n = batch.shape
    if n < patch_length:
        warnings.warn(
            f"{name}: clips of {n} samples are shorter than one patch ({patch_length} samples); "
            "zero-padding them to one patch.",
            ShortClipWarning,
            stacklevel=3,
        )
        batch = np.pad(batch, ((0, 0), (0, patch_length - n)))
        n = patch_length
    p = n // patch_length
    return batch[:, : p * patch_length].reshape(b, p, patch_length)


def check_output(out: Any, shape: tuple[int, ...], who: str) -> np.ndarray:
    """Check a tagger's output array: shape and finiteness; returns float32."""
    arr = output_array(out, who).astype(np.float32)
    if arr.shape != shape:
        raise TaggerError(f"{who} returned shape {arr.shape}, expected {shape}.")
    if not np.isfinite(arr).all():
        raise TaggerError(f"{who} returned NaN or infinite values.")
    return arr


class FunctionTagger(SampleRateAlias):
    """Wrap a plain function as a tagger.

    Parameters
    ----------
    fn : callable
        Without ``patch_length``: ``fn(batch)`` with ``batch`` float32 ``(B, N)``
        returns ``(B, n_tags)`` clip-level outputs. With ``patch_length``: ``fn`` is
        a *per-patch* function, ``(M, patch_length) -> (M, n_tags)``, and the clip
        output is the mean over the clip's patches.
    labels : sequence of str
        Tag names, one per output column.
    sample_rate : int
        Rate of the audio ``fn`` expects.
    patch_length : int, optional
        Samples per patch for per-patch functions.
    name : str
        Name used in cache keys and metadata (default ``"function"``): give each
        distinct function a distinct name if you cache its outputs.
    batch_size : int
        At most this many rows (clips, or patches) per call of ``fn``.

    Examples
    --------
    >>> rms = lambda b: np.sqrt((b**2).mean(axis=1, keepdims=True))
    >>> t = FunctionTagger(rms, ["rms"], sample_rate=8, patch_length=4, name="rms")
    >>> y = np.array([[0, 0, 0, 0, 1, 1, 1, 1, 5]], np.float32)
    >>> t.predict_patches(y)[0, :, 0].tolist()
    [0.0, 1.0]
    >>> t.predict(y).tolist()
    [[0.5]]
    """

    def __init__(
        self,
        fn: Callable[[np.ndarray], Any],
        labels: Sequence[str],
        sample_rate: int,
        patch_length: int | None = None,
        name: str = "function",
        batch_size: int = 256,
    ) -> None:
        if not callable(fn):
            raise TaggerError(f"FunctionTagger: fn must be callable, got {type(fn).__name__}.")
        self.fn = fn
        self.name = name
        self.labels = label_list(labels, f"FunctionTagger {name!r}", error=TaggerError)
        self.sample_rate = positive_int(sample_rate, "FunctionTagger: sample_rate (Hz)", error=TaggerError)
        self.patch_length = positive_int(
            patch_length, "FunctionTagger: patch_length (samples)", allow_none=True, error=TaggerError
        )
        self.batch_size = positive_int(batch_size, "FunctionTagger: batch_size", error=TaggerError)
        check_tagger(self)

    def __repr__(self) -> str:
        return (
            f"FunctionTagger({getattr(self.fn, '__name__', 'fn')}, {len(self.labels)} labels, "
            f"sample_rate={self.sample_rate}, patch_length={self.patch_length}, name={self.name!r})"
        )

    def _call(self, rows: np.ndarray) -> np.ndarray:
        n_tags = len(self.labels)
        outs = []
        for start in range(0, rows.shape[0], self.batch_size):
            chunk = rows[start : start + self.batch_size]
            outs.append(check_output(self.fn(chunk), (chunk.shape[0], n_tags), f"tagger {self.name!r}"))
        return np.concatenate(outs, axis=0)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Clip-level outputs ``(B, n_tags)`` of ``(B, N)`` mono clips.

        Parameters
        ----------
        batch : numpy.ndarray
            float32 ``(B, N)`` mono clips at ``sample_rate`` (1-D: one clip).

        Returns
        -------
        numpy.ndarray
            ``(B, n_tags)``; for a per-patch function the mean over the clip's patches.

        Raises
        ------
        TaggerError
            For an invalid batch, or when the function returns the wrong shape or non-finite values.
        """
        y = check_batch(batch)
        if self.patch_length is None:
            return self._call(y)
        return self.predict_patches(y).mean(axis=1)

    def predict_patches(self, batch: np.ndarray) -> np.ndarray:
        """Per-patch outputs ``(B, P, n_tags)``; needs ``patch_length``.

        Parameters
        ----------
        batch : numpy.ndarray
            float32 ``(B, N)`` mono clips at ``sample_rate``.

        Returns
        -------
        numpy.ndarray
            ``(B, P, n_tags)`` with ``P = N // patch_length`` (at least 1).

        Raises
        ------
        TaggerError
            For a tagger made without ``patch_length``, an invalid batch, or a function returning
            the wrong shape or non-finite values.
        """
        if self.patch_length is None:
            raise TaggerError(
                f"tagger {self.name!r} is not patch-decomposable (patch_length is None); "
                "use predict(), or give FunctionTagger a patch_length and a per-patch function."
            )
        y = check_batch(batch)
        patches = split_patches(y, self.patch_length)
        b, p, _ = patches.shape
        return self._call(patches.reshape(b * p, -1)).reshape(b, p, len(self.labels))
