"""The audioLIME-style LIME baseline against an independent closed-form implementation."""

from __future__ import annotations

import numpy as np
import pytest

from xmtag.attribution import baselines, shapley
from xmtag.errors import InvalidGameError


def weighted_ridge(x: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float):
    """Closed-form ridge with an unpenalised intercept and sample weights."""
    xm = np.average(x, axis=0, weights=w)
    ym = np.average(y, axis=0, weights=w)
    xc, yc = x - xm, y - ym
    a = xc.T @ (w[:, None] * xc) + alpha * np.eye(x.shape[1])
    coef = np.linalg.solve(a, xc.T @ (w[:, None] * yc))
    return coef, ym - xm @ coef


def audiolime_reference(v: np.ndarray, n: int, n_samples: int, seed: int, kernel_width=0.25, alpha=1.0):
    """audioLIME's steps written out with numpy only (no sklearn)."""
    data = np.random.RandomState(seed).randint(0, 2, n_samples * n).reshape((n_samples, n))
    data[0, :] = 1
    norms = np.linalg.norm(data, axis=1)
    cos_sim = np.divide(
        data @ data[0], norms * np.linalg.norm(data[0]), out=np.zeros(n_samples), where=norms > 0
    )
    d = 1.0 - cos_sim
    w = np.sqrt(np.exp(-(d**2) / kernel_width**2))
    masks = data @ (1 << np.arange(n))
    return weighted_ridge(data.astype(float), v[masks], w, alpha)


@pytest.mark.parametrize(("n", "k", "seed"), [(3, 1, 0), (5, 4, 1), (8, 2, 2)])
def test_lime_matches_independent_reference(n, k, seed):
    v = np.random.default_rng(seed).normal(size=(2**n, k))
    expl = baselines.lime(lambda m: v[m], n, n_samples=500, seed=seed)
    coef, intercept = audiolime_reference(v, n, 500, seed)
    np.testing.assert_allclose(expl.coefficients, coef, atol=1e-8)
    np.testing.assert_allclose(expl.intercept, intercept, atol=1e-8)
    assert expl.coefficients.shape == (n, k) and expl.score.shape == (k,)
    assert expl.n_samples == 500 and expl.n_evaluations <= 2**n


def test_lime_draws_audiolimes_perturbations_and_evaluates_each_once():
    n, seed = 6, 4
    asked = []

    def fn(masks):
        asked.append(masks.copy())
        return masks[:, None].astype(float)

    baselines.lime(fn, n, n_samples=300, seed=seed, batch_size=10)
    data = np.random.RandomState(seed).randint(0, 2, 300 * n).reshape((300, n))
    data[0] = 1
    expected = np.unique(data @ (1 << np.arange(n)))
    seen = np.concatenate(asked)
    np.testing.assert_array_equal(np.sort(seen), expected)  # every distinct vector once
    assert max(len(a) for a in asked) <= 10


def test_lime_on_an_additive_game_ranks_and_fits():
    weights = np.array([0.1, 2.0, -1.0, 0.5])

    def fn(masks):
        return shapley.membership(masks, 4).astype(float) @ weights

    expl = baselines.lime(fn, 4, n_samples=1000, seed=0)
    assert np.argsort(expl.coefficients).tolist() == np.argsort(weights).tolist()
    assert expl.score > 0.99  # a linear game is fitted almost perfectly
    assert expl.local_prediction == pytest.approx(weights.sum(), abs=0.2)


def test_lime_is_not_shapley_on_interacting_games():
    """LIME's coefficients differ from Shapley values once stems interact (why xmtag is exact)."""
    v = np.array([0.0, 0.0, 0.0, 1.0])  # both stems needed: Shapley gives 0.5 each
    expl = baselines.lime(lambda m: v[m], 2, n_samples=1000, seed=0)
    # the kernel concentrates on near-full coalitions, where removing either stem loses everything
    assert expl.coefficients.sum() > 1.5  # not efficient: v(N) - v(empty) is 1
    np.testing.assert_allclose(shapley.exact(v), [0.5, 0.5])


def test_lime_is_deterministic():
    v = np.random.default_rng(0).normal(size=(2**5, 2))
    a = baselines.lime(lambda m: v[m], 5, seed=3)
    b = baselines.lime(lambda m: v[m], 5, seed=3)
    c = baselines.lime(lambda m: v[m], 5, seed=4)
    np.testing.assert_array_equal(a.coefficients, b.coefficients)
    assert not np.array_equal(a.coefficients, c.coefficients)


def test_lime_bad_input():
    fn = lambda m: m.astype(float)  # noqa: E731
    with pytest.raises(InvalidGameError, match="n_samples"):
        baselines.lime(fn, 3, n_samples=1)
    with pytest.raises(InvalidGameError, match="kernel_width"):
        baselines.lime(fn, 3, kernel_width=0)
    with pytest.raises(InvalidGameError, match="alpha"):
        baselines.lime(fn, 3, alpha=-1)
    with pytest.raises(InvalidGameError, match="NaN"):
        baselines.lime(lambda m: np.full(len(m), np.nan), 3)
