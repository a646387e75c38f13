"""Intervals for faithfulness results: bootstrap means of metric tables and Wilson intervals.

:func:`summarize` aggregates a :func:`xmtag.metrics.faithfulness` table (or any table of
per-clip numbers) into means with percentile-bootstrap confidence intervals, per group.
The bootstrap is written here rather than taken from :func:`scipy.stats.bootstrap` because it
draws one matrix of resampling indices per group and applies it to every metric column at
once, skips NaN entries per column (a metric undefined for some rows, e.g. AG on logit-free
units), and returns a degenerate interval for a single row where scipy raises.
:func:`wilson` is scipy's Wilson score interval (:meth:`scipy.stats.binomtest`).
:func:`cluster_bootstrap` resamples whole clusters (e.g. the clips of one song) instead of rows,
for items that are not independent.

All functions are re-exported by :mod:`xmtag.metrics`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import limits
from .._checks import finite_float, non_negative_int, positive_int
from ..errors import XmtagError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["bootstrap_mean", "bootstrap_columns", "cluster_bootstrap", "summarize", "t_columns", "wilson"]


def bootstrap_mean(
    x: Any, *, ci: float = 0.95, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``x`` (NaN skipped) and its percentile-bootstrap confidence interval.

    Parameters
    ----------
    x : array_like
        1-D numbers.
    ci : float
        Confidence level in (0, 1).
    n_boot : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling.

    Returns
    -------
    (mean, low, high) : tuple of float
        NaN for no finite value; ``low == high == mean`` for one value.

    Examples
    --------
    >>> bootstrap_mean([1.0, 1.0, 1.0])
    (1.0, 1.0, 1.0)
    >>> m, lo, hi = bootstrap_mean(np.arange(100.0), seed=1)
    >>> m, bool(40 < lo < m < hi < 60)
    (49.5, True)
    """
    a = np.asarray(x, dtype=np.float64).ravel()
    a = a[np.isfinite(a)]
    if a.size == 0:
        _check_bootstrap(ci, n_boot, seed)
        return (float("nan"),) * 3
    mean, lo, hi, _ = bootstrap_columns(a[:, np.newaxis], ci=ci, n_boot=n_boot, seed=seed)
    m = float(mean[0])
    return m, float(min(lo[0], m)), float(max(hi[0], m))


def _check_bootstrap(ci: Any, n_boot: Any, seed: Any) -> tuple[float, int, int]:
    ci = finite_float(ci, "ci", low=0.0, high=1.0, low_open=True)
    if ci >= 1.0:
        raise XmtagError(f"ci must be below 1 (e.g. 0.95), got {ci}.")
    return ci, positive_int(n_boot, "n_boot"), non_negative_int(seed, "seed")


#: Most resampled values one block of columns holds (2**23: 64 MiB of float64).
_BLOCK_CELLS = 1 << 23


def bootstrap_columns(
    x: Any, *, ci: float = 0.95, n_boot: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean of each column of ``x`` (rows: items, e.g. tracks) and its percentile bootstrap interval.

    The one bootstrap of xmtag: :func:`bootstrap_mean` (one column) and the corpus tables
    (:func:`xmtag.corpus.summarize`) use it. Rows are resampled with replacement ``n_boot`` times,
    the same resamples for every column (so intervals of different stems and tags are
    comparable); NaN entries (a track without that stem) are left out of the mean. The interval
    is split evenly between its two tails: quantiles ``(1 - ci) / 2`` and ``(1 + ci) / 2``.

    Returns
    -------
    mean, low, high, n : numpy.ndarray
        Per column; ``low == high == mean`` with a single row.

    Examples
    --------
    >>> m, lo, hi, n = bootstrap_columns(np.array([[1.0], [2.0], [3.0], [4.0]]), n_boot=200)
    >>> float(m[0]), bool(lo[0] < 2.5 < hi[0]), int(n[0])
    (2.5, True, 4)
    """
    ci, n_boot, seed = _check_bootstrap(ci, n_boot, seed)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, np.newaxis]
    ok = ~np.isnan(x)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore"):
        mean = np.where(n > 0, np.nansum(x, axis=0) / np.maximum(n, 1), np.nan)
    if x.shape[0] <= 1:
        return mean, mean.copy(), mean.copy(), n
    cells = n_boot * x.shape[0]
    if cells > limits.MAX_BOOTSTRAP_CELLS:  # before the (n_boot, rows) resample indices exist
        raise XmtagError(
            f"n_boot={n_boot:,} resamples of {x.shape[0]:,} rows draw {cells:,} values per column, more "
            f"than xmtag holds at once; pass a smaller n_boot (1000 is usual). "
            + limits.how_to_raise("MAX_BOOTSTRAP_CELLS")
        )
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.shape[0], size=(n_boot, x.shape[0]))
    alpha = (1.0 - ci) / 2.0
    lo, hi = np.empty(x.shape[1]), np.empty(x.shape[1])
    # Columns in blocks of at most _BLOCK_CELLS resampled values: memory stays bounded however many
    # tags x stems a corpus table has, and every block uses the same resamples (same numbers).
    step = max(1, _BLOCK_CELLS // cells)
    for a in range(0, x.shape[1], step):
        xs, oks = x[:, a : a + step], ok[:, a : a + step]
        vals = np.where(oks, xs, 0.0)[idx]  # (B, N, block)
        cnt = oks[idx].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            boots = vals.sum(axis=1) / cnt
        del vals
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN bounds
            lo[a : a + step] = np.nanquantile(boots, alpha, axis=0)
            hi[a : a + step] = np.nanquantile(boots, 1.0 - alpha, axis=0)
    return mean, lo, hi, n


def cluster_bootstrap(
    x: Any, clusters: Any, *, ci: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Mean of each column of ``x`` and its percentile interval from a bootstrap over clusters.

    Rows that share a cluster (the clips cut from one song, the tags of one clip) are not
    independent, and a bootstrap or Wilson interval that resamples rows is too narrow for
    them. Here whole clusters are drawn with replacement ``n_boot`` times (the same draws for
    every column) and each resample's mean is the sum of its rows' values over their number
    (clusters of unequal size weigh by their rows, as the plain mean does); NaN entries are
    left out per column. With ``k`` identical rows per cluster the interval is about
    ``sqrt(k)`` times as wide as a row bootstrap's; with one row per cluster it is the row
    bootstrap of :func:`bootstrap_columns` (the same resamples for the same seed). Use at
    least ~20-30 clusters: with few clusters a percentile interval undercovers.

    Parameters
    ----------
    x : array_like
        ``(N,)`` or ``(N, K)`` values, one row per item (e.g. 0/1 hits, paired differences).
    clusters : array_like
        ``(N,)`` cluster label of each row (any hashable values, e.g. song names).
    ci : float
        Confidence level in (0, 1).
    n_boot : int
        Bootstrap resamples (default 2000).
    seed : int
        Seed of the resampling.

    Returns
    -------
    mean, low, high : numpy.ndarray
        Per column; ``low == high == mean`` with a single cluster.
    n_clusters : int
        Distinct clusters.

    Raises
    ------
    XmtagError
        If ``clusters`` does not have one label per row, or for no rows.

    Examples
    --------
    >>> x = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    >>> m, lo, hi, g = cluster_bootstrap(x, ["a", "a", "b", "b", "c", "c"], n_boot=500)
    >>> round(float(m[0]), 3), g, bool(lo[0] < m[0] < hi[0])
    (0.667, 3, True)
    """
    ci, n_boot, seed = _check_bootstrap(ci, n_boot, seed)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, np.newaxis]
    labels = np.asarray(clusters)
    if x.ndim != 2 or labels.ndim != 1 or labels.shape[0] != x.shape[0]:
        raise XmtagError(
            "cluster_bootstrap: clusters needs one label per row of x; got "
            f"{labels.shape[0] if labels.ndim else 0} labels for {x.shape[0]} rows."
        )
    if x.shape[0] == 0:
        raise XmtagError("cluster_bootstrap: x has no rows.")
    _, group = np.unique(labels, return_inverse=True)
    g = int(group.max()) + 1
    ok = ~np.isnan(x)
    sums = np.zeros((g, x.shape[1]))
    counts = np.zeros((g, x.shape[1]))
    np.add.at(sums, group, np.where(ok, x, 0.0))
    np.add.at(counts, group, ok.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums.sum(axis=0) / counts.sum(axis=0)
    if g == 1:
        return mean, mean.copy(), mean.copy(), g
    cells = n_boot * g * x.shape[1]
    if cells > limits.MAX_BOOTSTRAP_CELLS:
        raise XmtagError(
            f"n_boot={n_boot:,} resamples of {g:,} clusters x {x.shape[1]:,} columns draw {cells:,} values, "
            "more than xmtag holds at once; pass a smaller n_boot. "
            + limits.how_to_raise("MAX_BOOTSTRAP_CELLS")
        )
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, g, size=(n_boot, g))  # as bootstrap_columns draws rows
    with np.errstate(invalid="ignore", divide="ignore"):
        boots = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)  # (B, K)
    alpha = (1.0 - ci) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN bounds
        lo = np.nanquantile(boots, alpha, axis=0)
        hi = np.nanquantile(boots, 1.0 - alpha, axis=0)
    return mean, lo, hi, g


def summarize(
    frame: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    ci: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    *,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Means of metric columns with percentile-bootstrap confidence intervals, per group.

    Rows (clips x tags) are resampled with replacement ``n_boot`` times within each group;
    the interval is the ``(1 - ci) / 2`` and ``(1 + ci) / 2`` quantiles of the resampled means.
    NaN entries are skipped per column.

    Parameters
    ----------
    frame : pandas.DataFrame
        E.g. :func:`xmtag.metrics.faithfulness` of many explanations.
    by : str or list of str, optional
        Group columns (e.g. ``"method"``, ``"genre"``); default one group of all rows.
    ci : float
        Confidence level (default 0.95).
    n_boot : int
        Bootstrap resamples (default 1000).
    seed : int
        Seed; the same seed gives the same intervals.
    columns : list of str, optional
        Columns to summarise; default the :data:`xmtag.metrics.METRICS` present in ``frame``,
        else every numeric column that is not a group column.

    Returns
    -------
    pandas.DataFrame
        One row per group and metric: the ``by`` columns, ``metric``, ``mean``, ``ci_low``,
        ``ci_high`` and ``n`` (finite values averaged).

    Raises
    ------
    XmtagError
        For a missing group or metric column, or invalid ``ci`` / ``n_boot``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"method": ["a", "a", "b"], "AI": [100.0, 0.0, 100.0]})
    >>> summarize(df, by="method", n_boot=200)
      method metric   mean  ci_low  ci_high  n
    0      a     AI   50.0     0.0    100.0  2
    1      b     AI  100.0   100.0    100.0  1
    """
    import pandas as pd

    from . import METRICS

    if not isinstance(frame, pd.DataFrame):
        raise XmtagError(f"summarize() needs a pandas DataFrame, got {type(frame).__name__}.")
    groups = [] if by is None else [by] if isinstance(by, str) else list(by)
    missing = [c for c in groups if c not in frame.columns]
    if missing:
        raise XmtagError(f"summarize(by=...): no column(s) {missing}; the table has {list(frame.columns)}.")
    if columns is None:
        columns = [c for c in METRICS if c in frame.columns] or [
            c for c in frame.select_dtypes("number").columns if c not in groups
        ]
    else:
        columns = list(columns)
        bad = [c for c in columns if c not in frame.columns]
        if bad:
            raise XmtagError(f"summarize(columns=...): no column(s) {bad} in the table.")
    out = []
    parts = frame.groupby(groups, sort=False, dropna=False) if groups else [((), frame)]
    for key, part in parts:
        key = key if isinstance(key, tuple) else (key,)
        for col in columns:
            values = pd.to_numeric(part[col], errors="coerce").to_numpy(dtype=np.float64)
            mean, lo, hi = bootstrap_mean(values, ci=ci, n_boot=n_boot, seed=seed)
            row = dict(zip(groups, key))
            row.update(metric=col, mean=mean, ci_low=lo, ci_high=hi, n=int(np.isfinite(values).sum()))
            out.append(row)
    return pd.DataFrame(out, columns=[*groups, "metric", "mean", "ci_low", "ci_high", "n"])


def wilson(successes: int, n: int, ci: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (e.g. "drums ranked first" in k of n clips).

    Parameters
    ----------
    successes : int
        Successes, ``0 <= successes <= n``.
    n : int
        Trials, at least 1.
    ci : float
        Confidence level.

    Returns
    -------
    (low, high) : tuple of float
        In [0, 1].

    Examples
    --------
    >>> [round(x, 3) for x in wilson(66, 70)]
    [0.862, 0.978]
    """
    from scipy.stats import binomtest

    n = positive_int(n, "n")
    k = non_negative_int(successes, "successes")
    if k > n:
        raise XmtagError(f"successes ({k}) cannot exceed n ({n}).")
    ci = finite_float(ci, "ci", low=0.0, high=1.0, low_open=True)
    if ci >= 1.0:
        raise XmtagError(f"ci must be below 1 (e.g. 0.95), got {ci}.")
    interval = binomtest(k, n).proportion_ci(confidence_level=ci, method="wilson")
    return float(interval.low), float(interval.high)


def t_columns(x: Any, *, ci: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean of each column of ``x`` (rows: items) and its Student-t confidence interval.

    ``mean ± t(n - 1) · sd / sqrt(n)`` with the sample standard deviation (``ddof=1``), NaN
    entries left out per column. Unlike a percentile bootstrap, whose intervals are too narrow
    for a handful of items (it ignores the uncertainty of the spread, and with two items has
    only three possible means), the t-interval keeps its coverage for small ``n`` when the
    values are roughly normal; :func:`xmtag.corpus.summarize` uses it below 30 tracks.

    Returns
    -------
    mean, low, high, n : numpy.ndarray
        Per column; ``low`` and ``high`` are NaN below two values (no spread to measure).

    Examples
    --------
    >>> m, lo, hi, n = t_columns(np.array([[1.0], [2.0], [3.0]]))
    >>> float(m[0]), round(float(lo[0]), 3), round(float(hi[0]), 3), int(n[0])
    (2.0, -0.484, 4.484, 3)
    """
    from scipy.stats import t as student_t

    ci = finite_float(ci, "ci", low=0.0, high=1.0, low_open=True)
    if ci >= 1.0:
        raise XmtagError(f"ci must be below 1 (e.g. 0.95), got {ci}.")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, np.newaxis]
    n = (~np.isnan(x)).sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # columns with 0 or 1 value: NaN
        mean = np.nanmean(x, axis=0) if x.shape[0] else np.full(x.shape[1], np.nan)
        sd = np.nanstd(x, axis=0, ddof=1) if x.shape[0] else mean
        half = student_t.ppf((1.0 + ci) / 2.0, np.maximum(n - 1, 1)) * sd / np.sqrt(np.maximum(n, 1))
    half = np.where(n >= 2, half, np.nan)
    return mean, mean - half, mean + half, n
