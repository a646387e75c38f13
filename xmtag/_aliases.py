"""Old import paths that keep working: ``import xmtag.shapley`` is :mod:`xmtag.attribution.shapley`.

The package was flat before the redesign into subpackages by job (``xmtag.audio``,
``xmtag.separation``, ... see ``docs/concepts.md``). Each old module path a user may have
imported is an alias: importing it returns the module that now holds the code (the same
object, so ``xmtag.fileformat.save is xmtag.explanation._format.save``). A meta-path finder
resolves the aliases on first import; nothing is imported before it is asked for.

``xmtag.speech.diarize``, ``.transcribe`` and ``.summarize`` are functions, not aliases: their
modules became private (``xmtag.speech._diarize``, ...) so that importing a submodule can never
replace the function of the same name.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

__all__ = ["ALIASES", "install"]

#: Old module path -> the module that holds its code now.
ALIASES = {
    "xmtag.shapley": "xmtag.attribution.shapley",
    "xmtag.estimators": "xmtag.attribution.estimators",
    "xmtag.baselines": "xmtag.attribution.baselines",
    "xmtag.decompose": "xmtag.separation.decompose",
    "xmtag.fileformat": "xmtag.explanation._format",
    "xmtag.provenance": "xmtag.explanation._provenance",
    "xmtag.listening": "xmtag.explanation._listening",
    "xmtag.tables": "xmtag.explanation._tables",
    "xmtag.scores": "xmtag.explanation._scores",
    "xmtag.mixes": "xmtag.coalitions._export",
    "xmtag.outputs": "xmtag.report._export",
    "xmtag.cache_hygiene": "xmtag.cache._hygiene",
    "xmtag.metrics_clip": "xmtag.metrics._clip",
    "xmtag.metrics_curves": "xmtag.metrics._curves",
    "xmtag.metrics_sanity": "xmtag.metrics._sanity",
    "xmtag.metrics_stats": "xmtag.metrics._stats",
    "xmtag.separation.stems": "xmtag.separation._stems",
    "xmtag.separation.base": "xmtag.separation._base",
    "xmtag.separation.chain": "xmtag.separation._chain",
    "xmtag.separation.demucs": "xmtag.separation._demucs",
    "xmtag.separation.demucs_models": "xmtag.separation._demucs_models",
    "xmtag.separation.registry": "xmtag.separation._registry",
    "xmtag.separation.spleeter": "xmtag.separation._spleeter",
}


class _AliasFinder:
    """Finds the old paths in :data:`ALIASES`; loading one puts the real module in its place.

    A meta-path finder and loader by protocol (``find_spec``, ``create_module``,
    ``exec_module``); ``importlib.abc`` is not imported, to keep ``import xmtag`` light.
    """

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname in ALIASES:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec: Any) -> None:
        return None  # the default empty module; exec_module swaps in the real one

    def exec_module(self, module: ModuleType) -> None:
        # The import system returns sys.modules[name] after exec_module: the real module.
        sys.modules[module.__name__] = importlib.import_module(ALIASES[module.__name__])


_FINDER = _AliasFinder()


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_FINDER)
