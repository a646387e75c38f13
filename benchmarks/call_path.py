"""Which xmtag modules one ``xmtag.explain(stems, tagger)`` call passes through, and whether any call goes up.

A profiler hook records every call from one xmtag module into another during a warm
``explain()`` of three small stems with a tiny tagger (everything is imported beforehand, so
import-time code does not count). A call is *upward* when the callee sits in a higher layer
than the caller (layers as in ``pyproject.toml``'s import contract; for a checkout before the
redesign, the old flat modules are mapped onto the same layers).

Usage::

    python benchmarks/call_path.py                 # this checkout
    PYTHONPATH=/path/to/other/checkout python benchmarks/call_path.py
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import xmtag
from xmtag.taggers import FunctionTagger

#: Bottom-up layers; old flat module names of the first and second waves are listed with theirs.
LAYERS = [
    "errors _version",
    "_checks",
    "_files _threads _packages _aliases",
    "audio cache _av _audio_write cache_hygiene",
    "separation taggers attribution speech shapley estimators baselines decompose",
    "coalitions _coalition_mix _coalition_reuse _coalition_sampled mixes",
    "explanation _fields fileformat tables provenance listening scores _scores_games",
    "pipeline datasets",
    "plots metrics _plots_corpus metrics_clip metrics_curves metrics_sanity metrics_stats",
    "report _report_data outputs",
    "corpus",
    "cli",
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer.split()}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "xmtag"


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    rng = np.random.default_rng(0)
    sr = 8000
    stems = xmtag.Stems({k: rng.normal(size=(1, sr)).astype(np.float32) * 0.1 for k in "abc"}, sr=sr)
    def loudness(b: np.ndarray) -> np.ndarray:
        return np.stack([np.abs(b).mean(1), (b**2).mean(1)], 1)

    tagger = FunctionTagger(loudness, ["x", "y"], sr, name="t")
    xmtag.explain(stems, tagger, progress=False, cache=False)  # warm: every module imported
    edges: list[tuple[str, str]] = []
    order: list[str] = []

    def hook(frame, event, arg):
        if event != "call":
            return
        callee = frame.f_globals.get("__name__", "")
        caller = frame.f_back.f_globals.get("__name__", "") if frame.f_back is not None else ""
        if callee.startswith("xmtag.") and caller.startswith("xmtag") and caller != callee:
            edges.append((caller, callee))
            if not order or order[-1] != _unit(callee):
                order.append(_unit(callee))

    sys.setprofile(hook)
    xmtag.explain(stems, tagger, progress=False, cache=False)
    sys.setprofile(None)
    upward = sorted(
        {(a, b) for a, b in edges if RANK.get(_unit(b), 0) > RANK.get(_unit(a), 0) and _unit(a) != "xmtag"}
    )
    modules = sorted({m for e in edges for m in e if m.startswith("xmtag.")})
    print(f"xmtag from {xmtag.__file__}")
    print(f"{len(edges)} calls between modules, {len(set(edges))} distinct caller -> callee pairs, "
          f"{len(modules)} modules")
    print(f"upward calls: {len(upward)}", *(f"  {a} -> {b}" for a, b in upward), sep="\n")
    print("path by subpackage:", " -> ".join(order))


if __name__ == "__main__":
    main()
