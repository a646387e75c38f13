"""Exact Shapley / Banzhaf / interaction / Möbius values against brute-force definitions."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmtag.attribution import shapley
from xmtag.errors import InvalidGameError, XmtagError

# ---------------------------------------------------------------------------------------------
# brute-force references, written from the textbook definitions with explicit loops


def brute_shapley(v: np.ndarray) -> np.ndarray:
    n = int(np.log2(v.shape[0]))
    phi = np.zeros((n, *v.shape[1:]))
    for i in range(n):
        for s in range(2**n):
            if s >> i & 1:
                continue
            k = bin(s).count("1")
            w = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            phi[i] += w * (v[s | 1 << i] - v[s])
    return phi


def brute_banzhaf(v: np.ndarray) -> np.ndarray:
    n = int(np.log2(v.shape[0]))
    out = np.zeros((n, *v.shape[1:]))
    for i in range(n):
        for s in range(2**n):
            if not s >> i & 1:
                out[i] += (v[s | 1 << i] - v[s]) / 2 ** (n - 1)
    return out


def brute_interactions(v: np.ndarray) -> np.ndarray:
    """Grabisch's pairwise index off the diagonal, Shapley values on it."""
    n = int(np.log2(v.shape[0]))
    out = np.zeros((n, n, *v.shape[1:]))
    for i, j in itertools.permutations(range(n), 2):
        for s in range(2**n):
            if s >> i & 1 or s >> j & 1:
                continue
            k = bin(s).count("1")
            w = math.factorial(k) * math.factorial(n - k - 2) / math.factorial(n - 1)
            out[i, j] += w * (v[s | 1 << i | 1 << j] - v[s | 1 << i] - v[s | 1 << j] + v[s])
    phi = brute_shapley(v)
    for i in range(n):
        out[i, i] = phi[i]
    return out


def brute_mobius(v: np.ndarray) -> np.ndarray:
    m = np.zeros_like(v, dtype=np.float64)
    for t in range(v.shape[0]):
        for s in range(v.shape[0]):
            if s & t == s:
                m[t] += (-1) ** (bin(t).count("1") - bin(s).count("1")) * v[s]
    return m


def permute_game(v: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Game u with u(S) = v(perm(S)): player i of u plays as player perm[i] of v."""
    n = len(perm)
    masks = np.arange(2**n)
    target = np.zeros_like(masks)
    for i in range(n):
        target |= ((masks >> i) & 1) << perm[i]
    return v[target]


games = st.tuples(
    st.integers(1, 8),  # players
    st.integers(1, 4),  # outputs
    st.integers(0, 2**32 - 1),  # seed
)


def make_game(n: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(2**n, k)) * rng.choice([1e-3, 1.0, 50.0])


# ---------------------------------------------------------------------------------------------
# equality with the definitions


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(games)
def test_exact_matches_brute_force(game):
    v = make_game(*game)
    np.testing.assert_allclose(shapley.exact(v), brute_shapley(v), rtol=0, atol=1e-9)


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(games)
def test_banzhaf_matches_brute_force(game):
    v = make_game(*game)
    np.testing.assert_allclose(shapley.banzhaf(v), brute_banzhaf(v), rtol=0, atol=1e-9)


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(st.tuples(st.integers(2, 7), st.integers(1, 3), st.integers(0, 2**32 - 1)))
def test_interactions_match_brute_force(game):
    v = make_game(*game)
    got = shapley.interactions(v)
    np.testing.assert_allclose(got, brute_interactions(v), rtol=0, atol=1e-9)
    np.testing.assert_allclose(got, np.swapaxes(got, 0, 1), atol=1e-12)
    np.testing.assert_allclose(np.diagonal(got, axis1=0, axis2=1).T, shapley.exact(v), atol=1e-12)


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(st.tuples(st.integers(1, 6), st.integers(1, 3), st.integers(0, 2**32 - 1)))
def test_mobius_matches_brute_force_and_inverts(game):
    v = make_game(*game)
    m = shapley.mobius(v)
    np.testing.assert_allclose(m, brute_mobius(v), rtol=0, atol=1e-9)
    # zeta transform: v(T) = sum of m(S) over S ⊆ T
    n = game[0]
    recon = np.array([sum(m[s] for s in range(2**n) if s & t == s) for t in range(2**n)])
    np.testing.assert_allclose(recon, v, atol=1e-9)
    # Shapley value = sum over coalitions T ∋ i of m(T) / |T|
    sizes = np.array([bin(t).count("1") for t in range(2**n)])
    bits = shapley.membership(np.arange(2**n), n)
    phi = np.stack([(m[bits[:, i]] / sizes[bits[:, i], None]).sum(0) for i in range(n)])
    np.testing.assert_allclose(phi, shapley.exact(v), atol=1e-9)


def test_trailing_shapes_are_carried():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(16, 3, 5))
    assert shapley.exact(v).shape == (4, 3, 5)
    assert shapley.banzhaf(v).shape == (4, 3, 5)
    assert shapley.interactions(v).shape == (4, 4, 3, 5)
    assert shapley.mobius(v).shape == (16, 3, 5)
    np.testing.assert_allclose(shapley.exact(v)[:, 1, 2], brute_shapley(v[:, 1, 2]), atol=1e-12)
    assert shapley.exact(v[:, 0, 0]).shape == (4,)


def test_accepts_lists_and_float32_and_returns_float64():
    phi = shapley.exact(np.array([0, 1, 2, 4], dtype=np.float32))
    assert phi.dtype == np.float64
    np.testing.assert_array_equal(phi, [1.5, 2.5])
    np.testing.assert_array_equal(shapley.exact([0, 1, 2, 4]), [1.5, 2.5])


# ---------------------------------------------------------------------------------------------
# axioms


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(games)
def test_efficiency(game):
    v = make_game(*game)
    np.testing.assert_allclose(shapley.exact(v).sum(0), v[-1] - v[0], atol=1e-9 * max(1, np.abs(v).max()))


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(st.tuples(st.integers(2, 8), st.integers(1, 3), st.integers(0, 2**32 - 1)), st.data())
def test_symmetry(game, data):
    n, k, seed = game
    i, j = data.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
    v = make_game(n, k, seed)
    swap = np.arange(n)
    swap[[i, j]] = [j, i]
    sym = 0.5 * (v + permute_game(v, swap))  # symmetric in i and j
    phi = shapley.exact(sym)
    np.testing.assert_allclose(phi[i], phi[j], atol=1e-9)
    inter = shapley.interactions(sym)
    np.testing.assert_allclose(inter[i], inter[j][[*swap]], atol=1e-9)


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(st.tuples(st.integers(2, 8), st.integers(1, 3), st.integers(0, 2**32 - 1)), st.data())
def test_dummy_and_null_player(game, data):
    n, k, seed = game
    w = make_game(n - 1, k, seed)
    c = np.random.default_rng(seed).normal(size=k)
    v = np.concatenate([w, w + c])  # last player adds exactly c to every coalition
    d = data.draw(st.integers(0, n - 1))
    perm = np.arange(n)
    perm[[d, n - 1]] = [n - 1, d]
    v = permute_game(v, perm)  # move the dummy to position d
    phi = shapley.exact(v)
    np.testing.assert_allclose(phi[d], c, atol=1e-9)
    np.testing.assert_allclose(shapley.banzhaf(v)[d], c, atol=1e-9)
    inter = shapley.interactions(v)
    off = [j for j in range(n) if j != d]
    np.testing.assert_allclose(inter[d, off], 0.0, atol=1e-9)  # a dummy interacts with no one
    # null player: c = 0
    null = permute_game(np.concatenate([w, w]), perm)
    np.testing.assert_allclose(shapley.exact(null)[d], 0.0, atol=1e-9)


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(games, st.floats(-5, 5), st.floats(-5, 5))
def test_linearity(game, a, b):
    n, k, seed = game
    v, u = make_game(n, k, seed), make_game(n, k, seed + 1)
    for f in (shapley.exact, shapley.banzhaf, shapley.mobius):
        np.testing.assert_allclose(f(a * v + b * u), a * f(v) + b * f(u), atol=1e-8)
    if n >= 2:
        np.testing.assert_allclose(
            shapley.interactions(a * v + b * u),
            a * shapley.interactions(v) + b * shapley.interactions(u),
            atol=1e-8,
        )


@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(games, st.data())
def test_permutation_covariance(game, data):
    n, k, seed = game
    v = make_game(n, k, seed)
    perm = np.array(data.draw(st.permutations(range(n))))
    u = permute_game(v, perm)
    np.testing.assert_allclose(shapley.exact(u), shapley.exact(v)[perm], atol=1e-9)


def test_known_games():
    # unanimity game on {0, 2} among 3 players: the two share the unit
    n = 3
    v = np.array([float(m & 0b101 == 0b101) for m in range(2**n)])
    np.testing.assert_allclose(shapley.exact(v), [0.5, 0.0, 0.5])
    np.testing.assert_allclose(shapley.banzhaf(v), [0.5, 0.0, 0.5])
    inter = shapley.interactions(v)
    assert inter[0, 2] == pytest.approx(1.0)
    assert inter[0, 1] == pytest.approx(0.0)
    m = shapley.mobius(v)
    assert m[0b101] == pytest.approx(1.0) and np.count_nonzero(np.abs(m) > 1e-12) == 1
    # redundancy: either of two stems alone gives the full value -> negative interaction
    red = np.array([0.0, 1.0, 1.0, 1.0])
    assert shapley.interactions(red)[0, 1] == pytest.approx(-1.0)


# ---------------------------------------------------------------------------------------------
# time-resolved values


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_segments_sum_to_clip_values(n, k, tags, seed):
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(2**n, k, tags))
    w = rng.random(k) + 0.1
    w /= w.sum()
    seg = shapley.segments(g, w)
    assert seg.shape == (n, k, tags)
    clip = np.einsum("mkt,k->mt", g, w)
    np.testing.assert_allclose(seg.sum(1), shapley.exact(clip), atol=1e-9)
    for kk in range(k):
        np.testing.assert_allclose(seg[:, kk], w[kk] * brute_shapley(g[:, kk]), atol=1e-9)


def test_segments_brute_force_over_stem_segment_players():
    """(stem, segment) players: the n*K player game's Shapley values equal w_k * phi_i(g_k)."""
    rng = np.random.default_rng(3)
    n, k = 2, 3
    g = rng.normal(size=(2**n, k, 2))
    w = np.array([0.5, 0.25, 0.25])
    players = n * k  # player p = i * k + kk
    big = np.zeros((2**players, 2))
    for t in range(2**players):
        for kk in range(k):
            sub = sum(1 << i for i in range(n) if t >> (i * k + kk) & 1)
            big[t] += w[kk] * g[sub, kk]
    ref = brute_shapley(big).reshape(n, k, 2)
    np.testing.assert_allclose(shapley.segments(g, w), ref, atol=1e-12)


def test_segments_bad_weights():
    g = np.zeros((4, 2, 3))
    with pytest.raises(InvalidGameError, match="sum to 1"):
        shapley.segments(g, [0.5, 0.4])
    with pytest.raises(InvalidGameError, match="shape"):
        shapley.segments(g, [1.0])
    with pytest.raises(InvalidGameError, match="non-negative"):
        shapley.segments(g, [1.5, -0.5])
    with pytest.raises(InvalidGameError, match=r"\(2\*\*n, K"):
        shapley.segments(np.zeros(4), [1.0])


# ---------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("f", [shapley.exact, shapley.banzhaf, shapley.interactions, shapley.mobius])
def test_bad_input(f):
    with pytest.raises(InvalidGameError, match="power of two"):
        f(np.zeros((6, 2)))
    with pytest.raises(InvalidGameError, match="power of two"):
        f(np.zeros(1))
    with pytest.raises(InvalidGameError, match="scalar"):
        f(np.float64(1.0))
    with pytest.raises(InvalidGameError, match="above the supported maximum of 16"):
        f(np.zeros(2**17))
    bad = np.zeros((8, 3))
    bad[5, 2] = np.nan
    with pytest.raises(InvalidGameError, match=r"mask 5 \(players \[0, 2\]\) at output index \(2,\)"):
        f(bad)
    bad[5, 2] = np.inf
    with pytest.raises(XmtagError, match="NaN or infinite"):
        f(bad)
    with pytest.raises(InvalidGameError, match="real numbers"):
        f(np.zeros(4, dtype=complex))
    with pytest.raises(InvalidGameError):
        f(np.array(["a", "b"]))


def test_maximum_players_is_supported():
    v = np.random.default_rng(0).normal(size=(2**shapley.MAX_PLAYERS, 2))
    phi = shapley.exact(v)
    np.testing.assert_allclose(phi.sum(0), v[-1] - v[0], atol=1e-9)


def test_coefficients_are_cached_and_read_only():
    shapley.exact(np.zeros(2**5))
    c = shapley._shapley_matrix(5)
    assert c is shapley._shapley_matrix(5)
    assert not c.flags.writeable
    # repeated calls are cheap (no per-call rebuild): generous bound, this is not a benchmark
    v = np.random.default_rng(0).normal(size=(2**6, 50))
    shapley.exact(v)
    t0 = time.perf_counter()
    for _ in range(20):
        shapley.exact(v)
    assert (time.perf_counter() - t0) / 20 < 0.05


# ---------------------------------------------------------------------------------------------
# shap's Exact explainer: numba compiles it on first use (6-15 s on the 2-core test machine),
# so this runs with the slow tests; tests/test_estimators.py compares with shap's
# KernelExplainer (exact when it enumerates every coalition) in the fast suite.


@pytest.mark.slow
def test_exact_matches_shap_exact_explainer():
    shap = pytest.importorskip("shap")
    rng = np.random.default_rng(7)
    for n, k in [(3, 2), (5, 4), (6, 3)]:
        v = rng.normal(size=(2**n, k))
        powers = 1 << np.arange(n)

        def model(x, v=v, powers=powers):
            return v[(np.asarray(x) > 0.5).astype(np.int64) @ powers]

        explainer = shap.explainers.Exact(model, shap.maskers.Independent(np.zeros((1, n))))
        expl = explainer(np.ones((1, n)))
        np.testing.assert_allclose(expl.values[0], shapley.exact(v), rtol=0, atol=1e-9)
        np.testing.assert_allclose(expl.base_values[0], v[0], atol=1e-12)


def test_null_player_gets_exactly_zero():
    # player 2 never changes the value; rounding must not leave 1e-17 on it
    rng = np.random.default_rng(3)
    base = rng.standard_normal((4, 5))  # game of players 0, 1
    v = np.concatenate([base, base])  # player 2 (bit 2) is null
    assert np.all(shapley.exact(v)[2] == 0.0)
    inter = shapley.interactions(v)
    assert np.all(inter[2] == 0.0) and np.all(inter[:, 2] == 0.0)
    assert np.all(shapley.null_players(v)[2]) and not shapley.null_players(v)[:2].any()
