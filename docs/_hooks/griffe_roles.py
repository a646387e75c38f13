"""Griffe extension: turn the Sphinx roles in xmtag's docstrings into links of this site.

xmtag's docstrings follow numpydoc and use Sphinx roles (``:func:`exact```,
``:class:`~xmtag.Stems```, ``:meth:`listen```), which mkdocstrings would show verbatim. Once
the package is loaded, each role is resolved the way Sphinx would resolve it: as written, then
relative to the enclosing class, module and packages, then under ``xmtag`` and ``xmtag.errors``
(a bare ``:class:`TaggerError``` is the error type). Two kinds of names that static analysis
cannot see are translated first: the lazy top-level names (``xmtag.Stems``, from ``_LAZY`` in
``xmtag/__init__.py``) and the old module paths kept as import aliases (``xmtag.shapley``, from
``ALIASES`` in ``xmtag/_aliases.py``).

A target that resolves to an object this site renders becomes a cross-reference
``[`name`][anchor]``, where the anchor is the path the page shows it under: a subpackage's
public face (``xmtag.separation.Stems``) when the face renders it, else the module that defines
it (``xmtag.explanation._format.save``). Which modules and members are rendered is read from the
``::: module`` directives of ``docs/api/*.md`` and their ``members:`` options, so this file
does not have to be edited when a page changes. Anything else (``numpy``, private helpers,
modules without a page) becomes inline code. ``~`` keeps only the last dotted component, as
in Sphinx.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|exc|data|obj|const):`(?P<target>[^`]+)`")
_DIRECTIVE = re.compile(r"^::: *(?P<path>xmtag[\w.]*) *\n(?P<options>(?:[ \t]+\S.*\n?)*)", re.M)
_MEMBERS = re.compile(r"^\s*members:\s*(?P<value>.+?)\s*$", re.M)

API_PAGES = Path(__file__).resolve().parents[1] / "api"


def rendered_modules(pages: Path = API_PAGES) -> dict[str, set[str] | None]:
    """Module -> the members its directive renders (``None``: every public one; empty: none).

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.md").write_text("::: xmtag.x\\n\\n::: xmtag.y\\n    options:\\n      members: [f, g]\\n")
    >>> sorted(rendered_modules(d).items())
    [('xmtag.x', None), ('xmtag.y', {'f', 'g'})]
    """
    found: dict[str, set[str] | None] = {}
    for page in sorted(pages.glob("*.md")):
        for m in _DIRECTIVE.finditer(page.read_text()):
            members: set[str] | None = None
            option = _MEMBERS.search(m.group("options"))
            if option:
                value = option.group("value")
                if value.lower() == "false":
                    members = set()
                elif value.startswith("["):
                    members = {v.strip().strip("'\"") for v in value.strip("[]").split(",") if v.strip()}
            path, earlier = m.group("path"), found.get(m.group("path"), set())
            found[path] = None if members is None or earlier is None else earlier | members
    return found


def _literal(module: griffe.Module, name: str) -> dict[str, str]:
    """The dict literal assigned to ``name`` at the top of ``module``'s file ({} if none)."""
    try:
        tree = ast.parse(Path(module.filepath).read_text())
    except (OSError, TypeError, SyntaxError):
        return {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and node.value is not None:
            try:
                return dict(ast.literal_eval(node.value))
            except ValueError:
                return {}
    return {}


def convert(text: str) -> str:
    """Replace every Sphinx role in ``text`` with inline code (no resolution).

    >>> convert("See :func:`~xmtag.attribution.shapley.exact` and :class:`xmtag.Stems`.")
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


def _private_parts(path: str) -> int:
    return sum(part.startswith("_") for part in path.split("."))


class SphinxRoles(griffe.Extension):
    """Resolve Sphinx roles in every docstring of the package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != "xmtag":
            return
        self.collection = loader.modules_collection
        self.modules = rendered_modules()
        #: old or lazy dotted prefix -> where it lives now
        self.renames: dict[str, str] = {}
        if "_aliases" in pkg.members:
            self.renames.update(_literal(pkg["_aliases"], "ALIASES"))
        for name, module in _literal(pkg, "_LAZY").items():
            self.renames[f"xmtag.{name}"] = f"{module}.{name}"
        self.anchors = self._index()
        self._walk(pkg)

    def _index(self) -> dict[str, str]:
        """Canonical path of every rendered top-level member -> the anchor it is rendered under."""
        anchors: dict[str, str] = {}
        for path, members in self.modules.items():
            try:
                module = self.collection[path]
            except Exception:
                continue
            for name, member in module.members.items():
                if members is not None and name not in members:
                    continue
                try:
                    if member.is_module or not member.is_public:
                        continue
                    target = member.final_target if member.is_alias else member
                except Exception:  # an alias into another package, or unresolvable
                    continue
                anchor = f"{path}.{name}"
                old = anchors.get(target.path)
                if old is None or _private_parts(anchor) < _private_parts(old):
                    anchors[target.path] = anchor
        return anchors

    def _walk(self, obj: griffe.Object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(lambda m: self._link(obj, m.group("target")), obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member)

    def _rename(self, path: str) -> str:
        for old in sorted(self.renames, key=len, reverse=True):
            if path == old or path.startswith(old + "."):
                return self.renames[old] + path[len(old) :]
        return path

    def _lookup(self, path: str) -> griffe.Object | None:
        try:
            found = self.collection[self._rename(path)]
            return found.final_target if found.is_alias else found
        except Exception:  # not found, or an alias into another package
            return None

    def _anchor(self, obj: griffe.Object) -> str | None:
        """The anchor under which ``obj`` is rendered on this site, if it is."""
        if obj.is_module:
            return obj.path if obj.path in self.modules else None
        suffix: list[str] = []
        o: Any = obj
        while o is not None and not o.is_module:
            if o.path in self.anchors:
                if any(name.startswith("_") for name in suffix):
                    return None
                return ".".join([self.anchors[o.path], *suffix])
            suffix.insert(0, o.name)
            o = o.parent
        return None

    def _link(self, obj: griffe.Object, target: str) -> str:
        label, bare = _label(target), _bare(target)
        scopes: list[str] = []
        o: Any = obj
        while o is not None:
            scopes.append(o.path)
            o = o.parent
        candidates = [bare, *(f"{s}.{bare}" for s in scopes), f"xmtag.{bare}", f"xmtag.errors.{bare}"]
        for candidate in candidates:
            found = self._lookup(candidate)
            anchor = self._anchor(found) if found is not None else None
            if anchor is not None:
                return f"[`{label}`][{anchor}]"
        return f"`{label}`"
