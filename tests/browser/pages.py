"""Small explanations for the browser tests: exact ones from a random game, a sampled one without
coalition values (built with the constructor), and real ``xmtag.explain`` runs of every method.
"""

from __future__ import annotations

import numpy as np

from xmtag import Explanation, Stems

STEMS = ["drums", "bass", "guitar"]
LABELS = ["rock", "jazz", "blues", "female vocalists", "pop", "ambient"]
BOUNDS = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]])


def game(seed: int = 0, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Per-segment coalition values (8, k, tags) with every mix distinct, and their clip mean."""
    rng = np.random.default_rng(seed)
    seg = rng.uniform(0.05, 0.95, (2 ** len(STEMS), k, len(LABELS)))
    return seg.mean(1), seg


def stems(sr: int = 22050, seconds: float = 3.0) -> Stems:
    t = np.arange(int(seconds * sr)) / sr
    return Stems(
        {s: (0.2 * np.sin(2 * np.pi * f * t)).astype(np.float32) for s, f in zip(STEMS, (110, 220, 440))},
        sr=sr,
    )


def exact(audio: bool = False, segments: bool = True) -> Explanation:
    values, seg = game()
    kw = {}
    if segments:
        kw = {
            "segment_coalition_values": seg,
            "segment_weights": np.full(3, 1 / 3),
            "segment_bounds": BOUNDS,
        }
    return Explanation.from_game(
        values, STEMS, LABELS, metadata={"tagger": {"name": "test"}}, audio=stems() if audio else None, **kw
    )


def _variant(e: Explanation, *, stderr: np.ndarray | None, coalitions: bool, method: str) -> Explanation:
    return Explanation(
        e.stems,
        e.labels,
        e.values,
        e.base_values,
        e.prediction,
        e.coalition_values if coalitions else None,
        None,
        stderr=stderr,
        method=method,
        budget=64,
        metadata=e.metadata,
    )


def sampled() -> Explanation:
    """Estimated values with standard errors and no coalition values (e.g. ``method="permutation"``)."""
    e = exact(segments=False)
    se = np.full(e.values.shape, 0.01)
    return _variant(e, stderr=se, coalitions=False, method="permutation")


def engine(method: str, segments: int | None = 2) -> Explanation:
    """A real ``xmtag.explain`` run of ``method`` on four sine stems with a small function tagger."""
    import xmtag
    from xmtag.taggers import FunctionTagger

    sr = 8000

    def fn(batch: np.ndarray) -> np.ndarray:
        x = batch.astype(np.float64)
        return np.stack([np.tanh(3 * np.abs(x).mean(1)), np.tanh(5 * (x**2).mean(1))], axis=1)

    t = np.arange(2 * sr) / sr
    freqs = dict(zip("abcd", (100, 200, 300, 450)))
    song = Stems({n: (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32) for n, f in freqs.items()}, sr=sr)
    tagger = FunctionTagger(fn, ["loud", "energy"], sample_rate=sr, patch_length=sr // 4, name="toy")
    return xmtag.explain(
        song, tagger, method=method, budget=40, segments=segments, progress=False, cache=False
    )
