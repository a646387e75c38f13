"""Sampling estimators: determinism, convergence to exact values, calibrated standard errors."""

from __future__ import annotations

import numpy as np
import pytest

from xmtag.attribution import estimators, shapley
from xmtag.errors import InvalidGameError


class UnanimityGame:
    """A sum of weighted unanimity games: v(S) = sum_t c_t [T_t ⊆ S].

    Its Shapley values are known in closed form for any number of players
    (phi_i = sum over t with i in T_t of c_t / |T_t|), so estimators can be checked beyond the
    16 players that exact enumeration supports. Counts every mask it is asked for.
    """

    def __init__(self, n: int, n_terms: int = 30, outputs: int = 2, seed: int = 0, max_size: int = 5):
        rng = np.random.default_rng(seed)
        self.n = n
        sizes = rng.integers(1, min(max_size, n) + 1, size=n_terms)
        self.sets = np.array([int(sum(1 << int(i) for i in rng.choice(n, s, replace=False))) for s in sizes])
        self.coef = rng.normal(size=(n_terms, outputs))
        self.calls: list[np.ndarray] = []

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        assert masks.dtype == np.int64 and masks.ndim == 1
        self.calls.append(masks.copy())
        present = (masks[:, None] & self.sets[None, :]) == self.sets[None, :]
        return present.astype(np.float64) @ self.coef

    def shapley(self) -> np.ndarray:
        members = shapley.membership(self.sets, self.n)  # (terms, n)
        sizes = members.sum(1)
        return (members / sizes[:, None]).T @ self.coef  # (n, outputs)


def table_game(v: np.ndarray):
    return lambda masks: v[masks]


# ---------------------------------------------------------------------------------------------
# permutation sampling


def test_permutation_is_deterministic_and_efficient():
    game = UnanimityGame(20, seed=1)
    a = estimators.permutation(game, 20, n_permutations=40, seed=5)
    b = estimators.permutation(game, 20, n_permutations=40, seed=5)
    c = estimators.permutation(game, 20, n_permutations=40, seed=6)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.std_errors, b.std_errors)
    assert not np.array_equal(a.values, c.values)
    assert a.values.shape == a.std_errors.shape == (20, 2)
    np.testing.assert_allclose(a.values.sum(0), a.prediction - a.base_value, atol=1e-10)
    np.testing.assert_allclose(a.base_value, 0.0)
    np.testing.assert_allclose(a.prediction, game.coef.sum(0))
    assert a.method == "permutation" and a.n_samples == 40


def test_permutation_does_not_touch_global_random_state():
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    estimators.permutation(UnanimityGame(8), 8, n_permutations=10, seed=0)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_antithetic_pairs_are_exact_for_pairwise_games():
    """For a game of order <= 2 an order and its reverse average to the Shapley value."""
    rng = np.random.default_rng(0)
    n = 18
    a = rng.normal(size=n)
    b = np.triu(rng.normal(size=(n, n)), 1)

    def fn(masks):
        x = shapley.membership(masks, n).astype(float)
        return x @ a + np.einsum("bi,ij,bj->b", x, b, x)

    est = estimators.permutation(fn, n, n_permutations=4, seed=0)
    truth = a + 0.5 * (b + b.T).sum(1)
    np.testing.assert_allclose(est.values, truth, atol=1e-10)
    np.testing.assert_allclose(est.std_errors, 0.0, atol=1e-10)


def test_permutation_converges_to_exact_values():
    n = 20
    game = UnanimityGame(n, n_terms=40, seed=3)
    truth = game.shapley()
    errs, ses = [], []
    for budget in (20, 400):
        est = estimators.permutation(game, n, n_permutations=budget, seed=11)
        errs.append(np.sqrt(np.mean((est.values - truth) ** 2)))
        ses.append(np.sqrt(np.mean(est.std_errors**2)))
    assert errs[1] < errs[0] / 2.5  # expected ratio sqrt(20) = 4.5
    assert 2.5 < ses[0] / ses[1] < 8  # standard errors shrink like 1 / sqrt(budget)
    # and with the whole game enumerable, many permutations are close to shapley.exact
    v = np.random.default_rng(2).normal(size=(2**6, 3))
    est = estimators.permutation(table_game(v), 6, n_permutations=4000, seed=0)
    np.testing.assert_allclose(est.values, shapley.exact(v), atol=5 * est.std_errors.max() + 1e-12)
    assert est.n_evaluations == 2**6  # every coalition seen once, despite 4000 orders


def test_standard_errors_cover_truth_at_nominal_rate():
    n = 20
    game = UnanimityGame(n, n_terms=40, seed=4)
    truth = game.shapley()
    inside95, inside68, total = 0, 0, 0
    for seed in range(60):
        est = estimators.permutation(game, n, n_permutations=60, seed=seed)
        lo, hi = est.interval(0.95)
        inside95 += int(((lo <= truth + 1e-12) & (truth <= hi + 1e-12)).sum())
        lo, hi = est.interval(0.6827)
        inside68 += int(((lo <= truth + 1e-12) & (truth <= hi + 1e-12)).sum())
        total += truth.size
    # 30 antithetic pairs per run: a t-interval with 29 d.o.f. would cover ~94.0 % / ~67.6 %
    assert 0.90 <= inside95 / total <= 0.985
    assert 0.60 <= inside68 / total <= 0.78


def test_permutation_without_antithetic_pairs():
    v = np.random.default_rng(5).normal(size=(2**5, 2))
    est = estimators.permutation(table_game(v), 5, n_permutations=3000, antithetic=False, seed=1)
    np.testing.assert_allclose(est.values, shapley.exact(v), atol=5 * est.std_errors.max())


def test_memoisation_and_batches():
    game = UnanimityGame(6, seed=2)
    est = estimators.permutation(game, 6, n_permutations=200, seed=0, batch_size=7)
    seen = np.concatenate(game.calls)
    assert len(seen) == len(np.unique(seen)) == est.n_evaluations <= 2**6
    assert max(len(c) for c in game.calls) <= 7
    # batch size does not change the result
    other = estimators.permutation(UnanimityGame(6, seed=2), 6, n_permutations=200, seed=0, batch_size=1)
    np.testing.assert_allclose(est.values, other.values, rtol=0, atol=1e-13)


def test_one_player_and_scalar_outputs():
    est = estimators.permutation(lambda m: m.astype(float) * 3.0, 1, n_permutations=4)
    assert est.values.shape == (1,)
    assert est.values[0] == 3.0 and est.std_errors[0] == 0.0
    assert est.base_value.shape == ()


def test_permutation_bad_input():
    game = UnanimityGame(4)
    with pytest.raises(InvalidGameError, match="even and at least 4"):
        estimators.permutation(game, 4, n_permutations=5)
    with pytest.raises(InvalidGameError, match="at least 2"):
        estimators.permutation(game, 4, n_permutations=1, antithetic=False)
    with pytest.raises(InvalidGameError, match="maximum of 63"):
        estimators.permutation(game, 64)
    with pytest.raises(InvalidGameError, match="positive integer"):
        estimators.permutation(game, 0)
    with pytest.raises(InvalidGameError, match="batch_size"):
        estimators.permutation(game, 4, batch_size=0)
    with pytest.raises(InvalidGameError, match="callable"):
        estimators.permutation("not a function", 4)
    with pytest.raises(InvalidGameError, match=r"one row per mask"):
        estimators.permutation(lambda m: np.zeros((len(m) + 1, 2)), 4)
    widths = iter([2, 3, 2, 3, 2, 3])
    with pytest.raises(InvalidGameError, match="same output shape"):
        estimators.permutation(lambda m: np.zeros((len(m), next(widths))), 4, batch_size=3)

    def nan_fn(masks):
        out = np.zeros((len(masks), 2))
        out[masks == 3] = np.nan
        return out

    with pytest.raises(InvalidGameError, match="NaN or infinite values .* first mask 3"):
        estimators.permutation(nan_fn, 2, n_permutations=4)
    est = estimators.kernel(UnanimityGame(3), 3, n_samples=10)
    with pytest.raises(InvalidGameError, match="no standard errors"):
        est.interval()


# ---------------------------------------------------------------------------------------------
# KernelSHAP through shap


def test_kernel_enumerating_all_coalitions_is_exact():
    """shap's KernelExplainer solves the exact problem when it sees every coalition."""
    rng = np.random.default_rng(8)
    for n in (2, 4, 6):
        v = rng.normal(size=(2**n, 3))
        est = estimators.kernel(table_game(v), n, n_samples=2**n)
        np.testing.assert_allclose(est.values, shapley.exact(v), rtol=0, atol=1e-9)
        np.testing.assert_allclose(est.base_value, v[0])
        assert est.std_errors is None and est.method == "kernel"


def test_kernel_is_deterministic_and_leaves_global_state():
    game = UnanimityGame(12, seed=6)
    np.random.seed(1234)  # noqa: NPY002 (checking that the global state is restored)
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    a = estimators.kernel(game, 12, n_samples=300, seed=3)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    b = estimators.kernel(game, 12, n_samples=300, seed=3)
    c = estimators.kernel(game, 12, n_samples=300, seed=4)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)
    np.testing.assert_allclose(a.values.sum(0), a.prediction - a.base_value, atol=1e-8)


def test_kernel_converges_and_repeats_give_standard_errors():
    n = 12
    game = UnanimityGame(n, n_terms=30, seed=9)
    truth = game.shapley()
    small = estimators.kernel(game, n, n_samples=80, n_repeats=4, seed=0)
    large = estimators.kernel(game, n, n_samples=2000, n_repeats=4, seed=0)
    err_small = np.sqrt(np.mean((small.values - truth) ** 2))
    err_large = np.sqrt(np.mean((large.values - truth) ** 2))
    assert err_large < err_small / 2
    assert small.std_errors is not None and small.std_errors.shape == (n, 2)
    assert np.sqrt(np.mean(large.std_errors**2)) < np.sqrt(np.mean(small.std_errors**2))
    assert large.n_evaluations <= 2**n


# ---------------------------------------------------------------------------------------------
# estimators on a real coalition value function


def test_estimators_agree_with_exact_on_a_table():
    v = np.random.default_rng(10).normal(size=(2**7, 4))
    exact = shapley.exact(v)
    perm = estimators.permutation(table_game(v), 7, n_permutations=2000, seed=0)
    kern = estimators.kernel(table_game(v), 7, n_samples=2**7)
    assert np.abs(perm.values - exact).max() < 5 * perm.std_errors.max()
    np.testing.assert_allclose(kern.values, exact, atol=1e-9)
