"""xmtag.metrics.cluster_bootstrap: intervals over clusters of dependent rows."""

from __future__ import annotations

import numpy as np
import pytest

from xmtag.errors import XmtagError
from xmtag.metrics import bootstrap_columns, cluster_bootstrap


def test_one_row_per_cluster_is_the_row_bootstrap():
    x = np.random.default_rng(0).normal(size=(40, 3))
    got = cluster_bootstrap(x, np.arange(40), n_boot=500, seed=4)
    want = bootstrap_columns(x, n_boot=500, seed=4)
    for a, b in zip(got[:3], want[:3]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert got[3] == 40


def test_identical_copies_widen_the_interval_by_sqrt_of_the_cluster_size():
    rng = np.random.default_rng(1)
    values = rng.integers(0, 2, size=60).astype(float)  # 60 songs: one 0/1 outcome each
    k = 9  # every song's clips are k identical copies
    x = np.repeat(values, k)
    songs = np.repeat(np.arange(60), k)
    # clustered: exactly the row bootstrap of the 60 song values (same draws)
    m, lo, hi, g = cluster_bootstrap(x, songs, n_boot=4000, seed=2)
    ref = bootstrap_columns(values, n_boot=4000, seed=2)
    assert g == 60
    np.testing.assert_allclose([m[0], lo[0], hi[0]], [ref[0][0], ref[1][0], ref[2][0]], atol=1e-12)
    # the naive interval treats the 540 copies as independent: sqrt(9) = 3 times too narrow
    _, nlo, nhi, _ = bootstrap_columns(x, n_boot=4000, seed=2)
    ratio = (hi[0] - lo[0]) / (nhi[0] - nlo[0])
    assert ratio == pytest.approx(np.sqrt(k), rel=0.12)


def test_unequal_clusters_weigh_by_their_rows_and_skip_nan():
    x = np.array([1.0, 1.0, 1.0, 0.0, np.nan])
    m, lo, hi, g = cluster_bootstrap(x, ["a", "a", "a", "b", "b"], n_boot=300)
    assert m[0] == pytest.approx(0.75)  # 3 of 4 finite rows, not the mean of cluster means (0.5)
    assert g == 2 and 0.0 <= lo[0] <= m[0] <= hi[0] <= 1.0
    # the two possible cluster sets and their mixtures: bounds are resampled means
    assert lo[0] == pytest.approx(0.0) and hi[0] == pytest.approx(1.0)


def test_single_cluster_and_bad_input():
    m, lo, hi, g = cluster_bootstrap([0.2, 0.4], ["s", "s"])
    assert g == 1 and lo[0] == hi[0] == m[0] == pytest.approx(0.3)
    with pytest.raises(XmtagError, match="one label per row"):
        cluster_bootstrap([1.0, 2.0], ["a"])
    with pytest.raises(XmtagError, match="no rows"):
        cluster_bootstrap(np.zeros((0, 1)), [])
    with pytest.raises(XmtagError, match="ci"):
        cluster_bootstrap([1.0, 2.0], ["a", "b"], ci=1.5)


def test_coverage_of_a_clustered_proportion():
    """Songs with their own hit rate: the cluster interval covers the true rate (the row one does not)."""
    rng = np.random.default_rng(7)
    cover_cluster = cover_naive = 0
    trials = 200
    for _ in range(trials):
        rates = rng.beta(2, 0.25, size=40)  # mean 8/9, strongly song-dependent
        hits = (rng.random((40, 10)) < rates[:, None]).astype(float).ravel()
        songs = np.repeat(np.arange(40), 10)
        _, lo, hi, _ = cluster_bootstrap(hits, songs, n_boot=400, seed=int(rng.integers(1 << 30)))
        cover_cluster += lo[0] <= 8 / 9 <= hi[0]
        _, nlo, nhi, _ = bootstrap_columns(hits, n_boot=400, seed=1)
        cover_naive += nlo[0] <= 8 / 9 <= nhi[0]
    assert cover_cluster / trials >= 0.90
    assert cover_naive / trials < cover_cluster / trials - 0.1
