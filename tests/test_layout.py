"""The package's layout: layers, private modules and names, old import paths, public names.

The layers themselves are import-linter contracts in ``pyproject.toml`` (``[tool.importlinter]``);
this file runs them and adds what import-linter does not check: ``_private`` *names* taken
across subpackages, a public function hidden by a submodule of the same name, and the old
module paths kept as aliases.
"""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import xmtag

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "xmtag"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> list[tuple[str, bool, ast.Module]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        out.append((_module_name(path), path.name == "__init__.py", ast.parse(path.read_text())))
    return out


def _absolute(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _subpackage(module: str) -> str:
    """``xmtag.audio._read`` -> ``xmtag.audio``; top-level helpers are their own unit."""
    return ".".join(module.split(".")[:2])


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _private_imports(modules) -> list[str]:
    found = []
    for name, is_package, tree in modules:
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            target = _absolute(name, is_package, node)
            if not target.startswith("xmtag") or _subpackage(target) == _subpackage(name):
                continue
            for alias in node.names:
                if _is_module(f"{target}.{alias.name}"):
                    continue  # a module, not a name: the private_modules contract covers it
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{name}:{node.lineno} takes {alias.name} from {target}")
    return found


def test_the_import_contracts_hold():
    """Layers, private modules and no cycles (pyproject.toml), imports inside functions included."""
    exe = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) or shutil.which("lint-imports")
    assert exe, "lint-imports (import-linter, the [test] extra) is not installed"
    run = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "3 kept, 0 broken" in run.stdout


def test_no_private_name_crosses_a_subpackage():
    assert _private_imports(_modules()) == []


def test_the_private_name_check_can_fail():
    planted = ast.parse("from ..explanation._listening import _envelope\n")
    assert _private_imports([("xmtag.plots._timeline", False, planted)]) == [
        "xmtag.plots._timeline:1 takes _envelope from xmtag.explanation._listening"
    ]
    same_package = ast.parse("from ._read import _soundfile\n")
    assert _private_imports([("xmtag.audio._write", False, same_package)]) == []


def _package_bindings(tree: ast.Module) -> dict[str, ast.AST]:
    names: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                names[alias.asname or alias.name] = node
    return names


def test_no_public_name_is_also_a_submodule():
    """``xmtag.speech.diarize`` was a function and a module: importing the module replaced it."""
    clashes = []
    for name, is_package, tree in _modules():
        if not is_package:
            continue
        folder = PACKAGE.joinpath(*name.split(".")[1:])
        children = {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.iterdir() if p.is_dir()}
        for bound, node in _package_bindings(tree).items():
            if bound not in children or bound.startswith("_"):
                continue
            # `from . import decompose` binds the submodule itself: no clash
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:
                continue
            clashes.append(f"{name}.{bound}")
    assert clashes == []


def test_speech_functions_survive_importing_every_module():
    """The doctest runner imports every submodule; the functions must stay functions."""
    speech = importlib.import_module("xmtag.speech")
    for info in pkgutil.walk_packages(speech.__path__, "xmtag.speech."):
        try:
            importlib.import_module(info.name)
        except ImportError:  # an optional extra missing here
            continue
    for name in ("diarize", "transcribe", "summarize"):
        assert callable(getattr(speech, name)) and not isinstance(getattr(speech, name), type(speech))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("xmtag.shapley", "xmtag.attribution.shapley"),
        ("xmtag.estimators", "xmtag.attribution.estimators"),
        ("xmtag.baselines", "xmtag.attribution.baselines"),
        ("xmtag.decompose", "xmtag.separation.decompose"),
        ("xmtag.fileformat", "xmtag.explanation._format"),
        ("xmtag.provenance", "xmtag.explanation._provenance"),
        ("xmtag.listening", "xmtag.explanation._listening"),
        ("xmtag.tables", "xmtag.explanation._tables"),
        ("xmtag.scores", "xmtag.explanation._scores"),
        ("xmtag.mixes", "xmtag.coalitions._export"),
        ("xmtag.outputs", "xmtag.report._export"),
        ("xmtag.cache_hygiene", "xmtag.cache._hygiene"),
        ("xmtag.metrics_stats", "xmtag.metrics._stats"),
        ("xmtag.separation.stems", "xmtag.separation._stems"),
        ("xmtag.separation.demucs", "xmtag.separation._demucs"),
    ],
)
def test_old_module_paths_are_aliases(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


def test_old_paths_work_in_a_fresh_interpreter():
    code = (
        "import numpy as np\n"
        "from xmtag import shapley, decompose\n"
        "import xmtag.fileformat, xmtag.scores\n"
        "from xmtag.separation.stems import Stems\n"
        "assert shapley.exact(np.array([0.0, 1.0, 2.0, 3.0])).tolist() == [1.0, 2.0]\n"
        "assert callable(decompose.hpss) and callable(xmtag.fileformat.save)\n"
        "assert xmtag.scores.from_scores is not None and Stems is xmtag.Stems\n"
        "print('ok')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_design_public_names_resolve():
    from xmtag import attribution, cache, coalitions, corpus, metrics, plots, separation, speech, taggers

    for name in ("explain", "Explanation", "Stems", "Separator", "load_tagger", "export", "load_demo"):
        assert getattr(xmtag, name) is not None
    for mod, names in [
        (plots, ["bar", "heatmap", "waterfall", "timeline", "interactions", "corpus_heatmap"]),
        (metrics, ["deletion", "insertion", "faithfulness", "bootstrap_mean", "wilson"]),
        (coalitions, ["evaluate", "export", "value_function", "NoiseFloor"]),
        (attribution, ["attribute", "resolve_method", "AUTO_EXACT_MAX_PLAYERS", "DEFAULT_BUDGET"]),
        (cache, ["Cache", "default_cache", "info", "clear", "prune"]),
        (separation, ["Stems", "Separator", "decompose"]),
        (taggers, ["load_tagger", "TorchTagger", "TaggerSpec", "tagger_spec"]),
        (speech, ["transcribe", "diarize", "summarize", "Diarization", "Transcript"]),
        (corpus, ["explain", "load", "summarize", "bootstrap_mean"]),
    ]:
        missing = [n for n in names if not hasattr(mod, n)]
        assert missing == [], f"{mod.__name__} lacks {missing}"
    for method in ("from_scores", "from_game", "load", "save", "to_frame", "to_shap"):
        assert callable(getattr(xmtag.Explanation, method))
