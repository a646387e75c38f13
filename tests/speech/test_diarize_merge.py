"""Diarization clean-up: a cluster with too little speech joins the MOST similar large cluster.

Synthetic unit-norm embeddings whose right answer is known: large clusters around orthogonal
directions, a small cluster close to one of them (cosine ~0.6) and orthogonal to the others.
The merge helper is private (``xmtag.speech._diarize._merge_small``); it is also exercised through
``_cluster``, the clustering step of :func:`xmtag.speech.diarize`.
"""

from __future__ import annotations

import numpy as np
import pytest

from xmtag.speech import _diarize

DIM = 16


def _axis(k: int) -> np.ndarray:
    e = np.zeros(DIM)
    e[k] = 1.0
    return e


def _units(direction: np.ndarray, n: int, seconds: float, rng) -> tuple[np.ndarray, np.ndarray]:
    e = direction / np.linalg.norm(direction) + 0.03 * rng.standard_normal((n, DIM))
    return e / np.linalg.norm(e, axis=1, keepdims=True), np.full(n, seconds)


def _groups(spec, seed=0):
    """spec: list of (direction, n_units, seconds_each); returns emb, weights, group index per unit."""
    rng = np.random.default_rng(seed)
    parts = [_units(d, n, s, rng) for d, n, s in spec]
    emb = np.concatenate([p[0] for p in parts])
    weights = np.concatenate([p[1] for p in parts])
    group = np.concatenate([np.full(n, g) for g, (_, n, _) in enumerate(spec)])
    return emb, weights, group


def _same(labels, group, a, b) -> bool:
    la, lb = set(labels[group == a].tolist()), set(labels[group == b].tolist())
    return len(la) == 1 and la == lb


# the small group's direction: cosine 0.64 with the big group along axis 1, 0 with axis 0 and axis 2
NEAR_1 = _axis(1) + 1.2 * _axis(5)
NEAR_0 = _axis(0) + 1.2 * _axis(6)


@pytest.mark.parametrize("near_first", [False, True])
def test_merge_small_joins_the_most_similar_large_cluster(near_first):
    """Catches the small cluster merged into the LEAST similar large cluster (argmin instead of argmax)."""
    near = NEAR_0 if near_first else NEAR_1
    emb, w, group = _groups([(_axis(0), 6, 2.0), (_axis(1), 6, 2.0), (near, 2, 1.0)])
    labels = _diarize._merge_small(emb, w, group.copy(), min_seconds=3.0)
    assert labels.max() + 1 == 2
    target = 0 if near_first else 1
    assert _same(labels, group, 2, target)
    assert not _same(labels, group, 2, 1 - target)


def test_merge_small_with_three_large_clusters_and_two_small_ones():
    """Catches the merge going to the least similar (or any other than the nearest) large cluster."""
    emb, w, group = _groups(
        [
            (_axis(0), 5, 2.0),
            (_axis(1), 5, 2.0),
            (_axis(2), 5, 2.0),
            (NEAR_1, 2, 1.0),  # small, next to group 1 (the middle label)
            (_axis(2) + 1.2 * _axis(7), 1, 1.5),  # small, next to group 2
        ]
    )
    labels = _diarize._merge_small(emb, w, group.copy(), min_seconds=3.0)
    assert labels.max() + 1 == 3
    assert _same(labels, group, 3, 1) and _same(labels, group, 4, 2)
    assert len({labels[group == g][0] for g in range(3)}) == 3  # the large clusters stay apart


def test_cluster_cut_at_threshold_merges_the_small_cluster_into_its_neighbour():
    """Catches the small-cluster merge of the threshold clustering going to the least similar cluster."""
    emb, w, group = _groups([(_axis(0), 6, 2.0), (_axis(1), 6, 2.0), (NEAR_1, 2, 1.0)], seed=1)
    labels, centroids = _diarize._cluster(emb, w, _diarize.DEFAULT_THRESHOLD, 1, None, None, 3.0)
    assert centroids.shape == (2, DIM) and labels.max() + 1 == 2
    assert _same(labels, group, 2, 1) and not _same(labels, group, 2, 0)
    # the cluster it joined is still the one of axis 1
    assert np.argmax(centroids[labels[group == 1][0]]) == 1
