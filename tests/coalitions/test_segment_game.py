"""Time-resolved values are the exact values of a named (stem, segment) game, also with context (#26).

Two games. **Receptive-field players** (the default, ``segment_players="receptive"``): player
``(i, k)`` is stem ``i`` as heard by the patches of segment ``k``; for a coalition ``T`` each
patch's whole input window (its ``patch_context`` included) is the mix of the stems ``i`` with
``(i, segment of the patch)`` in ``T``. **Sample players** (``segment_players="samples"``): player
``(i, k)`` is stem ``i``'s samples in segment ``k``; a coalition ``T`` is the mix in which stem
``i`` sounds exactly in the segments ``k`` with ``(i, k)`` in ``T``. These tests build each game
by hand, compute its values by brute force, and compare with what xmtag returns. For a tagger
whose patches see context the two games differ, and each mode must equal its own brute force.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from xmtag import coalitions
from xmtag.errors import TaggerError

SR, PL, CTX = 1000, 500, 400


class ContextTagger:
    """Patch ``p``'s output is a fixed nonlinear function of samples ``[p * PL - CTX, (p + 1) * PL)``.

    Zeros before the clip's start; it declares ``patch_context = CTX``. Two tags: the RMS of the
    window, and the product of the window's energy in its context and in its own patch.
    """

    labels, sample_rate, patch_length, patch_context, name = ["rms", "cross"], SR, PL, CTX, "ctx-toy"

    def __init__(self, context: int | None = CTX) -> None:
        self.patch_context = context

    def _window_out(self, w: np.ndarray) -> np.ndarray:
        w = w.astype(np.float64)
        ctx, own = w[:CTX], w[CTX:]
        return np.array([np.sqrt((w**2).mean()), 4 * np.abs(ctx).mean() * np.abs(own).mean()])

    def predict_patches(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch, dtype=np.float32)
        p = max(batch.shape[1] // PL, 1)
        padded = np.concatenate([np.zeros((len(batch), CTX), np.float32), batch], axis=1)
        return np.stack(
            [
                np.stack([self._window_out(row[q * PL : q * PL + CTX + PL]) for q in range(p)])
                for row in padded
            ]
        )

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.predict_patches(batch).mean(axis=1)


def brute_force_segments(stems: dict[str, np.ndarray], tagger, bounds: list[tuple[int, int]]) -> np.ndarray:
    """``(n, K, n_tags)`` Shapley values of the (stem, segment) game, averaging over every order."""
    names = list(stems)
    players = [(i, k) for i in range(len(names)) for k in range(len(bounds))]
    memo: dict[frozenset, np.ndarray] = {}

    def v(coalition: frozenset) -> np.ndarray:
        if coalition not in memo:
            mix = np.zeros(len(next(iter(stems.values()))), np.float32)
            for i, k in coalition:
                a, b = bounds[k]
                mix[a:b] += stems[names[i]][a:b]
            memo[coalition] = tagger.predict(mix[None])[0]
        return memo[coalition]

    out = np.zeros((len(names), len(bounds), len(tagger.labels)))
    orders = list(itertools.permutations(players))
    for order in orders:
        have: frozenset = frozenset()
        for pl in order:
            out[pl] += v(have | {pl}) - v(have)
            have = have | {pl}
    assert len(orders) == math.factorial(len(players))
    return out / len(orders)


def two_by_two():
    t = np.arange(2 * PL) / SR
    a = np.where(t < 0.5, np.sin(2 * np.pi * 50 * t), 0.0)  # only in the first segment
    b = 0.4 * np.sin(2 * np.pi * 7 * t + 0.3)
    return {"a": a.astype(np.float32), "b": b.astype(np.float32)}


def test_context_tagger_two_stems_two_segments_equal_brute_force():
    """The 2 x 2 case of #26: the old per-segment decomposition gave credit to the wrong segment."""
    stems = two_by_two()
    tagger = ContextTagger()
    truth = brute_force_segments(stems, tagger, [(0, PL), (PL, 2 * PL)])
    cv = coalitions.evaluate(stems, tagger, sr=SR, segments=2, progress=False, segment_players="samples")
    got = cv.segment_attribution("exact")
    np.testing.assert_allclose(got, truth, rtol=0, atol=1e-9)
    # a's audio is in segment 0 only: its segment-1 player moves nothing but what the context
    # carries into patch 1 -- so the (a, 1) value is 0 while (a, 0) is large
    assert abs(truth[0, 1, 0]) < 1e-12 and truth[0, 0, 0] > 0.1
    # without reuse (whole clips) the same values
    plain = coalitions.evaluate(
        stems, tagger, sr=SR, segments=2, progress=False, reuse=False, segment_players="samples"
    )
    np.testing.assert_allclose(plain.segment_attribution("exact"), truth, rtol=0, atol=1e-9)


def test_context_tagger_banzhaf_equal_brute_force():
    stems = two_by_two()
    tagger = ContextTagger()
    cv = coalitions.evaluate(stems, tagger, sr=SR, segments=2, progress=False, segment_players="samples")
    players = [(i, k) for i in range(2) for k in range(2)]
    bounds = [(0, PL), (PL, 2 * PL)]
    names = list(stems)

    def v(mask: int) -> np.ndarray:
        mix = np.zeros(2 * PL, np.float32)
        for j, (i, k) in enumerate(players):
            if mask >> j & 1:
                mix[bounds[k][0] : bounds[k][1]] += stems[names[i]][bounds[k][0] : bounds[k][1]]
        return tagger.predict(mix[None])[0]

    vals = np.stack([v(m) for m in range(16)])
    want = np.zeros((4, 2))
    for j in range(4):
        for m in range(16):
            if not m >> j & 1:
                want[j] += (vals[m | 1 << j] - vals[m]) / 8
    np.testing.assert_allclose(cv.segment_attribution("banzhaf"), want.reshape(2, 2, 2), rtol=0, atol=1e-9)


def test_three_stems_three_segments_with_context_equal_brute_force():
    rng = np.random.default_rng(0)
    n_samples = 3 * PL + 120  # a trailing part no patch sees
    stems = {nm: (rng.normal(size=n_samples) * s).astype(np.float32) for nm, s in zip("xyz", (1.0, 0.5, 0.2))}
    stems["y"][: PL + 200] = 0  # y is silent in segment 0 and in the context of patch 1
    tagger = ContextTagger()
    truth = brute_force_segments(stems, tagger, [(0, PL), (PL, 2 * PL), (2 * PL, n_samples)])
    cv = coalitions.evaluate(stems, tagger, sr=SR, segments=3, progress=False, segment_players="samples")
    # float32 mixes summed in another order: rounding only
    np.testing.assert_allclose(cv.segment_attribution("exact"), truth, rtol=0, atol=1e-7)
    assert cv.segment_method == "exact (sample players)"


def test_whole_clip_context_refuses_exact_segments():
    """``patch_context = None``: patches may see the whole clip, so no per-patch game is exact."""
    with pytest.raises(TaggerError, match="estimate_segments"):
        coalitions.evaluate(two_by_two(), ContextTagger(context=None), sr=SR, segments=2, progress=False)


def test_explain_uses_the_segment_game():
    """Through ``xmtag.explain`` the Explanation's segment values are the brute-force ones."""
    import xmtag

    stems = xmtag.Stems({k: v[None] for k, v in two_by_two().items()}, SR)
    expl = xmtag.explain(
        stems, ContextTagger(), segments=2, progress=False, cache=False, segment_players="samples"
    )
    truth = brute_force_segments(two_by_two(), ContextTagger(), [(0, PL), (PL, 2 * PL)])
    np.testing.assert_allclose(expl.segment_values, truth, rtol=0, atol=1e-9)
    assert expl.segment_method == "exact (sample players)"
    assert expl.provenance.extra["segment_method"] == "exact (sample players)"
    assert set(expl.to_frame(segments=True)["segment_method"]) == {"exact (sample players)"}


@pytest.mark.slow  # ~30 s on 2 shared cores: 64 musicnn clips for the brute force
def test_musicnn_demo_three_stems_two_segments_equal_brute_force():
    """The real musicnn (patch_context = 256) on the demo: equal to brute force of the 64 mixes.

    The old per-segment decomposition was off by up to 2.7e-3 here.
    """
    import xmtag
    from xmtag.attribution import shapley
    from xmtag.coalitions import prepare_stems

    musicnn = xmtag.load_tagger("musicnn-msd")
    names, tracks, _, _ = prepare_stems(xmtag.load_demo(), 16000)
    pick = [names.index(nm) for nm in ("drums", "bass", "guitar")]
    n_samples = 2 * musicnn.patch_length
    tracks = tracks[pick, :n_samples]
    stems = {names[i]: tracks[j] for j, i in enumerate(pick)}
    cv = coalitions.evaluate(stems, musicnn, sr=16000, segments=2, progress=False, segment_players="samples")
    half = musicnn.patch_length
    masks = np.arange(64)
    mixes = np.zeros((64, n_samples), np.float32)
    for j in range(6):  # player j = stem j // 2 in segment j % 2
        lo, hi = (0, half) if j % 2 == 0 else (half, n_samples)
        on = (masks >> j & 1).astype(bool)
        mixes[on, lo:hi] += tracks[j // 2, lo:hi]
    game = np.concatenate([musicnn.predict(mixes[a : a + 16]) for a in range(0, 64, 16)])
    truth = shapley.exact(game).reshape(3, 2, -1)
    got = cv.segment_attribution("exact")
    np.testing.assert_allclose(got, truth, rtol=0, atol=2e-6)
    old = shapley.segments(cv.segment_values, cv.segment_weights)
    print("max |decomposition - brute force|:", np.abs(old - truth).max(), "of", np.abs(truth).max())
    assert np.abs(old - truth).max() > 1e-4  # the decomposition alone is not the segment game


# -- receptive-field players (the default) ---------------------------------------------------------


def receptive_game(stems: dict[str, np.ndarray], tagger, patch_groups: list[tuple[int, int]]) -> np.ndarray:
    """``(2**(n*K), n_tags)`` clip outputs of the receptive-field game, built by hand.

    Player ``j = i * K + k``. For coalition ``T``, patch ``p`` of segment ``k`` hears, over its
    whole receptive field (context included), the mix of the stems ``i`` with ``(i, k)`` in ``T``;
    the clip output is the mean over all patches.
    """
    names = list(stems)
    n, k_count = len(names), len(patch_groups)
    n_samples = len(stems[names[0]])
    seg_of = np.concatenate([np.full(b - a, k) for k, (a, b) in enumerate(patch_groups)])
    out = []
    for mask in range(2 ** (n * k_count)):
        per_patch = []
        for k in range(k_count):
            mix = np.zeros(n_samples, np.float32)
            for i in range(n):
                if mask >> (i * k_count + k) & 1:
                    mix += stems[names[i]]
            per_patch.append(tagger.predict_patches(mix[None])[0])  # (P, n_tags)
        patches = np.stack([per_patch[seg_of[p]][p] for p in range(len(seg_of))])
        out.append(patches.mean(axis=0))
    return np.asarray(out, dtype=np.float64)


def subset_values(game: np.ndarray, banzhaf: bool = False) -> np.ndarray:
    """Shapley (or Banzhaf) values by the subset formula, independent of xmtag's code."""
    size = game.shape[0]
    n = size.bit_length() - 1
    out = np.zeros((n, game.shape[1]))
    for j in range(n):
        for m in range(size):
            if m >> j & 1:
                continue
            s = bin(m).count("1")
            w = (
                1 / 2 ** (n - 1)
                if banzhaf
                else math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n)
            )
            out[j] += w * (game[m | 1 << j] - game[m])
    return out


def test_receptive_players_two_by_two_equal_brute_force():
    """The default game: a's context in patch 1 counts for (a, 1), as the game defines it."""
    stems = two_by_two()
    tagger = ContextTagger()
    game = receptive_game(stems, tagger, [(0, 1), (1, 2)])
    cv = coalitions.evaluate(stems, tagger, sr=SR, segments=2, progress=False)
    assert cv.segment_method == "exact (receptive-field players)"
    for method, banzhaf in (("exact", False), ("banzhaf", True)):
        truth = subset_values(game, banzhaf).reshape(2, 2, -1)
        np.testing.assert_allclose(cv.segment_attribution(method), truth, rtol=0, atol=1e-12)
    truth = subset_values(game).reshape(2, 2, -1)
    # the two games differ here: patch 1 hears a's segment-0 audio through its context
    samples = brute_force_segments(stems, tagger, [(0, PL), (PL, 2 * PL)])
    assert np.abs(truth - samples).max() > 1e-2
    assert truth[0, 1, 1] > 1e-3  # (a, 1): a heard by patch 1 (context only) moves "cross"
    # stem values still add up exactly to the clip values
    np.testing.assert_allclose(truth.sum(axis=1), subset_values(cv.values), rtol=0, atol=1e-12)


def test_receptive_players_three_stems_three_segments_equal_brute_force():
    rng = np.random.default_rng(1)
    n_samples = 4 * PL + 120  # 4 patches in 3 segments (2 + 1 + 1), a trailing part no patch sees
    stems = {nm: (rng.normal(size=n_samples) * s).astype(np.float32) for nm, s in zip("xyz", (1.0, 0.5, 0.2))}
    stems["y"][: PL + 200] = 0
    tagger = ContextTagger()
    groups = coalitions.patch_segments(4, 3)
    assert groups == [(0, 2), (2, 3), (3, 4)]
    game = receptive_game(stems, tagger, groups)
    truth = subset_values(game).reshape(3, 3, -1)
    for reuse in (True, False):
        cv = coalitions.evaluate(stems, tagger, sr=SR, segments=3, progress=False, reuse=reuse)
        np.testing.assert_allclose(cv.segment_attribution("exact"), truth, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        cv.segment_attribution("banzhaf"), subset_values(game, True).reshape(3, 3, -1), rtol=0, atol=1e-12
    )
    # over segments, a stem's values are its clip Shapley values
    np.testing.assert_allclose(truth.sum(axis=1), subset_values(cv.values), rtol=0, atol=1e-12)


def test_receptive_players_costs_no_extra_rows():
    """The default game costs what the clip game costs; sample players pay for the boundary windows."""
    stems = two_by_two()
    plain = coalitions.evaluate(stems, ContextTagger(), sr=SR, progress=False)
    rec = coalitions.evaluate(stems, ContextTagger(), sr=SR, segments=2, progress=False)
    smp = coalitions.evaluate(
        stems, ContextTagger(), sr=SR, segments=2, progress=False, segment_players="samples"
    )
    assert rec.n_tagger_rows == plain.n_tagger_rows < smp.n_tagger_rows


def test_unknown_segment_players_is_refused():
    from xmtag.errors import XmtagError

    with pytest.raises(XmtagError, match="segment_players"):
        coalitions.evaluate(
            two_by_two(), ContextTagger(), sr=SR, segments=2, progress=False, segment_players="x"
        )


def test_explain_default_is_the_receptive_game():
    import xmtag

    stems = xmtag.Stems({k: v[None] for k, v in two_by_two().items()}, SR)
    expl = xmtag.explain(stems, ContextTagger(), segments=2, progress=False, cache=False)
    truth = subset_values(receptive_game(two_by_two(), ContextTagger(), [(0, 1), (1, 2)])).reshape(2, 2, -1)
    np.testing.assert_allclose(expl.segment_values, truth, rtol=0, atol=1e-12)
    np.testing.assert_allclose(expl.segment_values.sum(axis=1), expl.values, rtol=0, atol=1e-12)
    assert expl.segment_method == "exact (receptive-field players)"
    assert expl.provenance.extra["segment_players"] == "receptive"
    assert set(expl.to_frame(segments=True)["segment_method"]) == {"exact (receptive-field players)"}
