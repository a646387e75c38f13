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

import dataclasses
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import _checks
from .errors import XmtagError

if TYPE_CHECKING:  # pragma: no cover
    from .explanation import Explanation
    from .separation import Stems

__all__ = ["Listenable", "smallest_coalition", "listen", "DEFAULT_SHARE", "ENVELOPE_RATE"]

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
    from .cache import hash_array, make_key

    return make_key("stems", audio.sr, [(k, hash_array(audio[k])) for k in audio.names])


def _envelope(audio: Stems, rate: int = ENVELOPE_RATE) -> np.ndarray:
    """Min and max of the mono mixture per ``1/rate`` s frame, float32 ``(2, frames)``."""
    mono = audio.mixture.mean(axis=0, dtype=np.float32)
    hop = max(1, int(round(audio.sr / rate)))
    n = int(math.ceil(mono.shape[0] / hop))
    padded = np.zeros(n * hop, dtype=np.float32)
    padded[: mono.shape[0]] = mono
    frames = padded.reshape(n, hop)
    return np.stack([frames.min(axis=1), frames.max(axis=1)]).astype(np.float32)


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
    from .audio import save_audio

    pick = smallest_coalition(expl, tag, share)
    expl._require_audio("listen()")
    y, sr = expl.mix(pick.stems)
    written = save_audio(path, y, sr)
    logger.info("listen(%r): %s -> %s", pick.tag, "+".join(pick.stems), written)
    return dataclasses.replace(pick, path=written)
