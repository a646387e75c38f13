"""Source separation: the :class:`Stems` type and the Demucs :class:`Separator`.

>>> import numpy as np
>>> from xmtag.separation import Stems
>>> Stems({"drums": np.zeros((2, 100)), "bass": np.zeros((2, 100))}, sr=44100).names
['drums', 'bass']
"""

from __future__ import annotations

from .demucs import DEFAULT_MODEL, Separator, network_available
from .stems import DEFAULT_MAX_PAD, MIXTURE_NAME, Stems, UnknownStemError

__all__ = [
    "Stems",
    "Separator",
    "UnknownStemError",
    "DEFAULT_MODEL",
    "DEFAULT_MAX_PAD",
    "MIXTURE_NAME",
    "network_available",
]
