"""Percentile-bootstrap intervals split 1 - ci between the two tails: (1-ci)/2 below, (1-ci)/2 above.

Both public bootstraps are checked, ``xmtag.corpus.bootstrap_mean`` (behind ``Corpus.summarize``)
and ``xmtag.metrics.bootstrap_mean`` (behind ``Corpus.faithfulness``), plus the two ``summarize``
functions built on them. The data are a large, exactly symmetric sample (normal quantiles), so the
bootstrap distribution of the mean is close to normal with standard error ``sd / sqrt(n)``. The
references are computed here, independently of xmtag: normal-theory half-widths (1.96 and 1.645
standard errors), the 95 % / 90 % width ratio, and the tail masses under a separate bootstrap
(numpy, another seed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import xmtag.corpus
import xmtag.metrics

N = 300
N_BOOT = 10000
X = 5.0 + 2.0 * norm.ppf((np.arange(N) + 0.5) / N)
SE = X.std() / np.sqrt(N)  # the bootstrap's standard error of the mean (ddof=0)

BOOTSTRAPS = {"corpus": xmtag.corpus.bootstrap_mean, "metrics": xmtag.metrics.bootstrap_mean}


def _interval(fn, ci: float) -> tuple[float, float, float]:
    """(mean, low, high) of either signature: corpus returns per-column arrays (+ n), metrics floats."""
    res = fn(X, ci=ci, n_boot=N_BOOT, seed=0)
    return tuple(float(np.ravel(v)[0]) for v in res[:3])


@pytest.fixture(scope="module")
def reference_boots() -> np.ndarray:
    """An independent bootstrap distribution of the mean (own generator, own seed)."""
    rng = np.random.default_rng(20240601)
    return np.concatenate([X[rng.integers(0, N, size=(4000, N))].mean(axis=1) for _ in range(5)])


@pytest.mark.parametrize("which", sorted(BOOTSTRAPS))
@pytest.mark.parametrize("ci", [0.95, 0.90, 0.80])
def test_interval_half_widths_are_the_two_sided_normal_quantiles(which, ci):
    """Catches an interval not split between its tails (quantiles 1-ci and ci, or 1-ci and 1)."""
    mean, lo, hi = _interval(BOOTSTRAPS[which], ci)
    z = norm.ppf(1 - (1 - ci) / 2)  # 1.96 for 95 %, 1.645 for 90 %
    assert mean == pytest.approx(5.0, abs=1e-9)
    assert (mean - lo) / SE == pytest.approx(z, rel=0.08)
    assert (hi - mean) / SE == pytest.approx(z, rel=0.08)


@pytest.mark.parametrize("which", sorted(BOOTSTRAPS))
def test_95_interval_is_wider_than_90_by_the_normal_ratio(which):
    """Catches a 90 % interval labelled 95 % (one-sided quantiles): width ratio 1.96 / 1.645."""
    _, lo95, hi95 = _interval(BOOTSTRAPS[which], 0.95)
    _, lo90, hi90 = _interval(BOOTSTRAPS[which], 0.90)
    ratio = (hi95 - lo95) / (hi90 - lo90)
    assert ratio == pytest.approx(norm.ppf(0.975) / norm.ppf(0.95), abs=0.04)


@pytest.mark.parametrize("which", sorted(BOOTSTRAPS))
@pytest.mark.parametrize("ci", [0.95, 0.90])
def test_each_tail_holds_half_of_one_minus_ci(which, ci, reference_boots):
    """Catches the whole 1-ci put in one tail: each tail must hold (1-ci)/2 of the bootstrap means."""
    _, lo, hi = _interval(BOOTSTRAPS[which], ci)
    tail = (1 - ci) / 2
    assert np.mean(reference_boots < lo) == pytest.approx(tail, rel=0.3)
    assert np.mean(reference_boots > hi) == pytest.approx(tail, rel=0.3)


def test_the_summarize_tables_carry_two_sided_intervals(reference_boots):
    """Catches the one-tailed interval reaching Corpus.summarize / metrics.summarize tables."""
    table = pd.DataFrame({"track": [f"t{i}" for i in range(N)], "tag": "rock", "stem": "drums", "value": X})
    rows = [
        xmtag.corpus.summarize(table, by=None, n_boot=N_BOOT).iloc[0],
        xmtag.metrics.summarize(table, columns=["value"], n_boot=N_BOOT).iloc[0],
    ]
    for row in rows:
        assert row["n"] == N and row["mean"] == pytest.approx(5.0, abs=1e-9)
        assert np.mean(reference_boots < row["ci_low"]) == pytest.approx(0.025, rel=0.3)
        assert np.mean(reference_boots > row["ci_high"]) == pytest.approx(0.025, rel=0.3)
