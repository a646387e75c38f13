"""Audio side of an explanation: the smallest coalition that keeps a tag, and its mix.

A *listenable explanation* is the mix of the fewest stems that keep a tag: play it and you
hear what the tagger needed. Everything here reads :attr:`Explanation.coalition_values` (no
tagger pass) and the attached audio.

Examples
--------
>>> import numpy as np, os, tempfile
>>> from xmtag import Explanation, Stems
>>> s = Stems({"drums": np.full(800, 0.1), "guitar": np.full(800, 0.2)}, sr=8000)
>>> e = Explanation.from_game([0.0, 0.1, 0.9, 1.0], ["drums", "guitar"], ["rock"], audio=s)
>>> pick = listen(e, "rock", os.path.join(tempfile.mkdtemp(), "rock.wav"), share=0.8)
>>> pick.stems, pick.path.suffix
(('guitar',), '.wav')
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import _checks
from ..errors import XmtagError

if TYPE_CHECKING:  # pragma: no cover
    from ..separation import Stems
    from ._explanation import Explanation

__all__ = [
    "Listenable",
    "smallest_coalition",
    "listen",
    "mix",
    "attach_audio",
    "require_audio",
    "DEFAULT_SHARE",
    "ENVELOPE_RATE",
    "waveform_envelope",
]

logger = logging.getLogger(__name__)

#: Default share of a tag's prediction (above silence) that a listenable explanation keeps.
DEFAULT_SHARE = 0.9
#: Envelope frames per second stored for the waveform panel of timeline plots.
ENVELOPE_RATE = 100


@dataclass(frozen=True)
class Listenable:
    """The smallest stem coalition that keeps a tag: what :func:`listen` wrote.

    Attributes
    ----------
    tag : str
        The tag.
    stems : tuple of str
        The stems of the coalition, in stem order.
    mask : int
        The coalition's bitmask.
    value : float
        The tagger's prediction for the mix of these stems.
    prediction : float
        The prediction for the full mix.
    base_value : float
        The prediction for silence.
    share : float
        The share of ``prediction - base_value`` the coalition was required to keep.
    path : pathlib.Path or None
        Where the audio was written (``None`` from :func:`smallest_coalition`).
    """

    tag: str
    stems: tuple[str, ...]
    mask: int
    value: float
    prediction: float
    base_value: float
    share: float
    path: Path | None = None

    @property
    def kept(self) -> float:
        """The share of the full mix's gain over silence this coalition keeps."""
        gain = self.prediction - self.base_value
        return float((self.value - self.base_value) / gain) if gain != 0 else float("nan")


def stems_digest(audio: Stems) -> str:
    """Content hash of stems (names, sample rate and samples)."""
    from ..cache import hash_array, make_key

    digest = getattr(audio, "stem_digest", None)  # read by block for stems on disk
    return make_key(
        "stems", audio.sr, [(k, digest(k) if digest else hash_array(audio[k])) for k in audio.names]
    )


def waveform_envelope(audio: Stems, rate: int = ENVELOPE_RATE) -> np.ndarray:
    """Min and max of the mono mixture per ``1/rate`` s frame, float32 ``(2, frames)``.

    Read block by block: the given mixture's slices, else the stems' sums
    (:meth:`xmtag.Stems.mix_blocks`), so stems on disk are never read whole.
    """
    hop = max(1, int(round(audio.sr / rate)))
    n_samples = int(audio.n_samples)
    n = int(math.ceil(n_samples / hop))
    out = np.empty((2, n), dtype=np.float32)
    step = hop * max(1, (1 << 18) // hop)  # whole frames per block: bounded memory for an hour
    if getattr(audio, "has_mixture", False):
        mix = audio.mixture
        blocks = (mix[:, a : a + step] for a in range(0, n_samples, step))
    else:
        blocks = audio.mix_blocks(block=step)
    for start, block in zip(range(0, n_samples, step), blocks):
        mono = block.mean(axis=0, dtype=np.float32)
        k = int(math.ceil(mono.shape[0] / hop))
        padded = np.zeros(k * hop, dtype=np.float32)
        padded[: mono.shape[0]] = mono
        frames = padded.reshape(k, hop)
        f0 = start // hop
        out[0, f0 : f0 + k] = frames.min(axis=1)
        out[1, f0 : f0 + k] = frames.max(axis=1)
    return out


def smallest_coalition(expl: Explanation, tag: str | int, share: float = DEFAULT_SHARE) -> Listenable:
    """The smallest set of stems whose mix keeps ``share`` of the tag (no tagger pass).

    A coalition ``S`` keeps the tag when ``v(S) - v(∅) >= share * (v(N) - v(∅))``: it keeps at
    least ``share`` of what the full mix adds to the tag over silence (for a tagger that
    outputs 0 on silence, ``share`` of the full-mix prediction). Among the non-empty
    coalitions of the smallest size that keep the tag, the one with the highest prediction
    wins.

    Parameters
    ----------
    expl : Explanation
        With coalition values (an exact or Banzhaf explanation).
    tag : str or int
        The tag.
    share : float
        In ``(0, 1]``; default :data:`DEFAULT_SHARE`.

    Returns
    -------
    Listenable
        With ``path=None``.

    Raises
    ------
    UnknownTagError
        For an unknown tag.
    CoalitionsUnavailableError
        For an explanation without the value of every coalition.
    XmtagError
        For a share outside ``(0, 1]``, or a tag the full mix does not raise above silence.

    Examples
    --------
    >>> from xmtag import Explanation
    >>> e = Explanation.from_game([0.0, 0.1, 0.9, 1.0], ["drums", "guitar"], ["rock"])
    >>> smallest_coalition(e, "rock", share=0.8).stems
    ('guitar',)
    """
    j = expl.tag_index(tag)
    share = _checks.share(share)
    v = expl.require_coalitions("The smallest coalition that keeps a tag")[:, j]
    base, full = float(v[0]), float(v[-1])
    gain = full - base
    if not gain > 0:
        raise XmtagError(
            f"The full mix does not raise {expl.labels[j]!r} above silence ({full:.4g} <= {base:.4g}); "
            "no coalition of stems carries it."
        )
    masks = np.arange(1, v.shape[0])
    sizes = np.array([bin(int(m)).count("1") for m in masks])
    ok = v[masks] - base >= share * gain - 1e-12 * max(1.0, abs(full))
    size = int(sizes[ok].min())
    cand = masks[ok & (sizes == size)]
    best = int(cand[np.argmax(v[cand])])  # argmax: first (lowest mask) on ties
    return Listenable(
        tag=expl.labels[j],
        stems=expl.stems_of(best),
        mask=best,
        value=float(v[best]),
        prediction=full,
        base_value=base,
        share=share,
    )


def listen(
    expl: Explanation, tag: str | int, path: str | os.PathLike[str], share: float = DEFAULT_SHARE
) -> Listenable:
    """Write the mix of the smallest stem coalition that keeps the tag (a listenable explanation).

    See :func:`smallest_coalition` for the rule. The audio is the sum of the chosen stems at
    the stems' sample rate; the format follows the extension (:func:`xmtag.save_audio`).

    Parameters
    ----------
    expl : Explanation
        With coalition values and audio attached.
    tag : str or int
        The tag.
    path : str or os.PathLike
        The audio file to write (``.wav``, ``.flac``, ``.ogg``, ...); its folder must exist.
    share : float
        In ``(0, 1]``: the share of the tag's gain over silence to keep.

    Returns
    -------
    Listenable
        The coalition, with ``path`` set.
    """
    from ..audio import save_blocks

    pick = smallest_coalition(expl, tag, share)
    audio = require_audio(expl, "listen()")  # mixed and written block by block (stems on disk)
    written = save_blocks(path, audio.mix_blocks(pick.stems), audio.sr, audio.n_channels)
    logger.info("listen(%r): %s -> %s", pick.tag, "+".join(pick.stems), written)
    return dataclasses.replace(pick, path=written)


def attach_audio(expl: Explanation, audio: Stems, check: bool = True) -> Explanation:
    """Attach the stems' audio (for :meth:`listen`, :meth:`solo`, reports); returns ``expl``.

        With ``check``, the audio's content hash must match the one recorded at explanation time.

        Examples
        --------
        >>> import numpy as np
        >>> from xmtag import Stems
        >>> from xmtag import Explanation
    >>> e = Explanation.from_game([0.0, 0.1, 0.9, 1.0], ["drums", "guitar"], ["rock"])
        >>> s = Stems({"drums": np.zeros(800), "guitar": np.zeros(800)}, sr=8000)
        >>> attach_audio(e, s).audio is s
        True
    """
    from ..separation import Stems

    if not isinstance(audio, Stems):
        raise XmtagError(f"attach_audio() expects an xmtag.Stems, got {type(audio).__name__}.")
    if list(audio.names) != expl.stems:
        raise XmtagError(f"The audio's stems {audio.names} are not this explanation's stems {expl.stems}.")
    want = (expl.provenance.extra.get("audio") or {}).get("sha256") if check else None
    if want and stems_digest(audio) != want:
        raise XmtagError(
            "This audio is not the audio the explanation was computed from (content hash differs)."
        )
    expl._audio = audio
    return expl


def require_audio(expl: Explanation, what: str) -> Stems:
    if expl._audio is not None:
        return expl._audio
    source = expl.provenance.source or {}
    folder = source.get("path") if source.get("kind") == "folder" else None
    if folder and Path(folder).is_dir():
        from ..separation import Stems

        with contextlib.suppress(XmtagError):
            return attach_audio(expl, Stems.from_folder(folder, names=expl.stems))._audio  # type: ignore[return-value]
    raise XmtagError(
        f"{what} needs the stems' audio, which is not stored in explanation files. Attach it with "
        "expl.attach_audio(stems) or Explanation.load(path, audio=stems)."
    )


def mix(expl: Explanation, stems: Iterable[str | int] | None = None) -> tuple[np.ndarray, int]:
    """The audio of a coalition (default: the full mix of the stems) and its sample rate.

        Examples
        --------
        >>> import numpy as np
        >>> from xmtag import Stems
        >>> s = Stems({"drums": np.full(800, 0.1), "guitar": np.full(800, 0.2)}, sr=8000)
        >>> from xmtag import Explanation
    >>> e = Explanation.from_game([0.0, 0.1, 0.9, 1.0], ["drums", "guitar"], ["rock"], audio=s)
        >>> y, sr = mix(e, ["guitar"])
        >>> y.shape, sr, float(y.max())
        ((1, 800), 8000, 0.2)
    """
    audio = require_audio(expl, "mix()")
    mask = 2**expl.n_stems - 1 if stems is None else expl.mask_of(stems)
    y = np.zeros((audio.n_channels, audio.n_samples), dtype=np.float32)
    for s in expl.stems_of(mask):
        y += audio[s]
    return y, audio.sr
