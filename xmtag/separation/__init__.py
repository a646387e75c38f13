"""Source separation: the :class:`Stems` type and the separators behind :class:`Separator`.

``Separator(spec)`` builds a backend: Demucs (``"htdemucs"``, ``"htdemucs_6s"``, bags),
Spleeter 2-stem with its packaged weights (``"spleeter:2stems"``), a chain of a separator
and decompositions (``"spleeter:2stems+hpss"``), or the best one available (``"auto"``).
One job per module: :mod:`.base` (the entry point, residual policy, shared checks),
:mod:`.registry` (specs, availability, the automatic choice), :mod:`.demucs` and
:mod:`.demucs_models` (the Demucs backend and where its weights come from), :mod:`.spleeter`,
:mod:`.chain`, :mod:`.stems`.

>>> import numpy as np
>>> from xmtag.separation import Stems
>>> Stems({"drums": np.zeros((2, 100)), "bass": np.zeros((2, 100))}, sr=44100).names
['drums', 'bass']
"""

from . import decompose
from ._base import RESIDUAL_FLOOR_DB, RESIDUAL_NAME, Separator
from ._blocks import separate_blocks
from ._chain import ChainSeparator
from ._demucs import DEFAULT_MODEL, DemucsSeparator
from ._demucs_models import network_available
from ._disk import DiskStems
from ._registry import available_separators, choose_separator
from ._spleeter import SpleeterSeparator
from ._stems import DEFAULT_MAX_PAD, MIXTURE_NAME, MixtureWarning, Stems, UnknownStemError

__all__ = [
    "Stems",
    "DiskStems",
    "UnknownStemError",
    "MixtureWarning",
    "DEFAULT_MAX_PAD",
    "MIXTURE_NAME",
    "Separator",
    "separate_blocks",
    "RESIDUAL_FLOOR_DB",
    "RESIDUAL_NAME",
    "DemucsSeparator",
    "DEFAULT_MODEL",
    "SpleeterSeparator",
    "ChainSeparator",
    "choose_separator",
    "available_separators",
    "network_available",
    "decompose",
]
