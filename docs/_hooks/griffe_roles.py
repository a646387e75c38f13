"""Griffe extension: turn the Sphinx roles in xmtag's docstrings into links of this site.

xmtag's docstrings follow numpydoc and use Sphinx roles (``:func:`exact```,
``:class:`~xmtag.Stems```, ``:meth:`listen```), which mkdocstrings would show verbatim. Once
the package is loaded, each role is resolved the way Sphinx would resolve it: as written, then
relative to the enclosing class, module and packages, then under ``xmtag`` (including the lazy
top-level names such as ``xmtag.Stems``). A target that resolves to a public object of a module
this site documents becomes a cross-reference ``[`name`][canonical.path]``; anything else
(``numpy``, private helpers) becomes inline code. ``~`` keeps only the last dotted component,
as in Sphinx.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|exc|data|obj|const):`(?P<target>[^`]+)`")

#: Modules with a page in docs/api/ whose public members are rendered (their anchors exist).
DOCUMENTED = {
    "xmtag",
    "xmtag.audio",
    "xmtag.datasets",
    "xmtag.cache",
    "xmtag.separation.stems",
    "xmtag.separation.demucs",
    "xmtag.separation.demucs_models",
    "xmtag.separation.base",
    "xmtag.separation.registry",
    "xmtag.separation.spleeter",
    "xmtag.separation.chain",
    "xmtag.decompose",
    "xmtag.taggers",
    "xmtag.taggers.base",
    "xmtag.taggers.musicnn",
    "xmtag.taggers.essentia",
    "xmtag.taggers.tfcheckpoint",
    "xmtag.coalitions",
    "xmtag.shapley",
    "xmtag.estimators",
    "xmtag.baselines",
    "xmtag.explanation",
    "xmtag.plots",
    "xmtag.report",
    "xmtag.speech.transcribe",
    "xmtag.speech.transcript",
    "xmtag.speech.models",
    "xmtag.speech.summarize",
    "xmtag.speech.text",
    "xmtag.speech.convert",
    "xmtag.errors",
}
#: Top-level names that ``xmtag.__getattr__`` imports lazily (invisible to static analysis).
LAZY = {
    "xmtag.Stems": "xmtag.separation.stems.Stems",
    "xmtag.Separator": "xmtag.separation.base.Separator",
    "xmtag.load_tagger": "xmtag.taggers.load_tagger",
    "xmtag.explain": "xmtag.explanation.explain",
    "xmtag.Explanation": "xmtag.explanation.Explanation",
    "xmtag.load_demo": "xmtag.datasets.load_demo",
}
#: Modules documented without members (``members: false``); a link to the module itself is fine.
MODULE_PAGES = {"xmtag.separation", "xmtag.speech"}


def convert(text: str) -> str:
    """Replace every Sphinx role in ``text`` with inline code (no resolution).

    >>> convert("See :func:`~xmtag.shapley.exact` and :class:`xmtag.Stems`.")
    'See `exact` and `xmtag.Stems`.'
    """
    return _ROLE.sub(lambda m: f"`{_label(m.group('target'))}`", text)


def _label(target: str) -> str:
    target = target.strip()
    if "<" in target and target.endswith(">"):  # :func:`title <target>`
        return target.split("<", 1)[0].strip()
    if target.startswith("~"):
        return target[1:].rsplit(".", 1)[-1]
    return target.lstrip(".")


def _bare(target: str) -> str:
    target = target.strip()
    if "<" in target and target.endswith(">"):
        target = target.split("<", 1)[1][:-1]
    return target.lstrip("~").lstrip(".").rstrip("()")


def _documented(obj: griffe.Object) -> bool:
    """Whether ``obj`` has an anchor on this site."""
    if obj.is_module:
        return obj.path in DOCUMENTED or obj.path in MODULE_PAGES
    module = obj.module.path
    if module not in DOCUMENTED:
        return False
    chain = []
    o: Any = obj
    while o is not None and not o.is_module:
        chain.append(o)
        o = o.parent
    return all(not c.name.startswith("_") for c in chain) and chain[-1].is_public


class SphinxRoles(griffe.Extension):
    """Resolve Sphinx roles in every docstring of the package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != "xmtag":
            return
        self.collection = loader.modules_collection
        self._walk(pkg)

    def _walk(self, obj: griffe.Object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(lambda m: self._link(obj, m.group("target")), obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member)

    def _lookup(self, path: str) -> griffe.Object | None:
        path = LAZY.get(path, path)
        try:
            found = self.collection[path]
            return found.final_target if found.is_alias else found
        except Exception:  # not found, or an alias into another package
            return None

    def _link(self, obj: griffe.Object, target: str) -> str:
        label, bare = _label(target), _bare(target)
        scopes: list[str] = []
        o: Any = obj
        while o is not None:
            scopes.append(o.path)
            o = o.parent
        candidates = [bare, *(f"{s}.{bare}" for s in scopes), f"xmtag.{bare}"]
        for candidate in candidates:
            found = self._lookup(candidate)
            if found is not None and _documented(found):
                return f"[`{label}`][{found.path}]"
        return f"`{label}`"
