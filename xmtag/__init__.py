"""xmtag: explainable music tagging.

Why did the tagger call this song *rock*? xmtag separates a track into stems,
scores the mix of every subset of stems with a music tagger, and turns those
scores into exact Shapley attributions per instrument and tag.

Heavy parts (torch, Demucs, the taggers, plots, speech) are imported on first use,
so ``import xmtag`` stays fast.

Examples
--------
>>> import xmtag
>>> isinstance(xmtag.__version__, str)
True
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from . import _aliases
from ._version import __version__
from .audio import load_audio, save_audio
from .errors import XmtagError

logging.getLogger(__name__).addHandler(logging.NullHandler())
_aliases.install()

# public name -> module that defines it (imported lazily on first attribute access)
_LAZY = {
    "Stems": "xmtag.separation",
    "Separator": "xmtag.separation",
    "load_tagger": "xmtag.taggers",
    "explain": "xmtag.pipeline",
    "export": "xmtag.report",
    "Explanation": "xmtag.explanation",
    "load_demo": "xmtag.datasets",
}
# subpackages and modules, and the old module paths kept as aliases (xmtag/_aliases.py)
_SUBMODULES = {
    "attribution",
    "audio",
    "baselines",
    "cache",
    "cli",
    "coalitions",
    "corpus",
    "datasets",
    "decompose",
    "errors",
    "estimators",
    "explanation",
    "fileformat",
    "listening",
    "metrics",
    "outputs",
    "pipeline",
    "plots",
    "provenance",
    "report",
    "separation",
    "shapley",
    "speech",
    "taggers",
}

__all__ = ["__version__", "XmtagError", "load_audio", "save_audio", *sorted(_LAZY)]

if TYPE_CHECKING:  # pragma: no cover
    from .datasets import load_demo  # noqa: F401
    from .explanation import Explanation  # noqa: F401
    from .pipeline import explain  # noqa: F401
    from .report import export  # noqa: F401
    from .separation import Separator, Stems  # noqa: F401
    from .taggers import load_tagger  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'xmtag' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
