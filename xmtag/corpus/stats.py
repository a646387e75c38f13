"""Group means of attributions over a corpus, with bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from .. import _checks
from ..errors import XmtagError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["summarize", "bootstrap_mean"]


def bootstrap_mean(x: np.ndarray, *, ci: float = 0.95, n_boot: int = 1000, seed: int = 0) -> tuple:
    """Mean of each column of ``x`` (rows: tracks) and its percentile bootstrap interval.

    Tracks are resampled with replacement ``n_boot`` times (the same resamples for every
    column, so intervals of different stems and tags are comparable); NaN entries (a track
    without that stem) are left out of the mean.

    Returns
    -------
    mean, low, high, n : numpy.ndarray
        Per column.

    Examples
    --------
    >>> m, lo, hi, n = bootstrap_mean(np.array([[1.0], [2.0], [3.0], [4.0]]), n_boot=200)
    >>> float(m[0]), bool(lo[0] < 2.5 < hi[0]), int(n[0])
    (2.5, True, 4)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, np.newaxis]
    ok = ~np.isnan(x)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore"):
        mean = np.where(n > 0, np.nansum(x, axis=0) / np.maximum(n, 1), np.nan)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.shape[0], size=(n_boot, x.shape[0]))
    vals = np.where(ok, x, 0.0)[idx]  # (B, N, C)
    cnt = ok[idx].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        boots = vals.sum(axis=1) / cnt
    alpha = (1.0 - ci) / 2.0
    lo = np.nanquantile(boots, alpha, axis=0) if x.shape[0] > 1 else mean.copy()
    hi = np.nanquantile(boots, 1.0 - alpha, axis=0) if x.shape[0] > 1 else mean.copy()
    return mean, lo, hi, n


def summarize(
    table: pd.DataFrame,
    by: str | Iterable[str] | None = "genre",
    tags: Iterable[str] | str | None = None,
    *,
    ci: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    value: str = "value",
) -> pd.DataFrame:
    """Mean attribution per group × tag × stem, with bootstrap intervals and counts.

    Parameters
    ----------
    table : pandas.DataFrame
        A corpus table (:attr:`xmtag.corpus.Corpus.table`): ``track, tag, stem, value`` and label
        columns.
    by : str or list of str, optional
        Label column(s) to group tracks by (``None``: the whole corpus).
    tags : str or list of str, optional
        Only these tags (default all). ``"own"``: for each group, the tag named like the group
        (e.g. genre ``rock`` → tag ``rock``).
    ci : float
        Coverage of the interval, in (0, 1).
    n_boot : int
        Bootstrap resamples of the tracks.
    seed : int
        Seed of the resampling.
    value : str
        The column to average.

    Returns
    -------
    pandas.DataFrame
        Columns: the ``by`` columns, ``tag, stem, mean, ci_low, ci_high, n`` (tracks with the stem),
        ``zero_in_ci`` (the interval contains 0).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"track": list("aabb"), "tag": "rock", "stem": ["drums", "bass"] * 2,
    ...                   "value": [0.3, 0.1, 0.5, 0.0], "genre": ["rock", "rock", "rock", "rock"]})
    >>> summarize(t, by="genre", n_boot=100)[["stem", "mean", "n"]].values.tolist()
    [['drums', 0.4, 2], ['bass', 0.05, 2]]
    """
    import pandas as pd

    ci = _checks.finite_float(ci, "ci", low=0.0, high=1.0, low_open=True)
    n_boot = _checks.positive_int(n_boot, "n_boot")
    keys = [] if by is None else ([by] if isinstance(by, str) else list(by))
    missing = [k for k in [*keys, "track", "tag", "stem", value] if k not in table.columns]
    if missing:
        raise XmtagError(
            f"summarize(): the table has no column(s) {missing}; labels come from the manifest "
            f"(columns here: {', '.join(map(str, table.columns))})."
        )
    own = tags == "own"
    if tags is not None and not own:
        wanted = [tags] if isinstance(tags, str) else list(tags)
        unknown = sorted(set(wanted) - set(table["tag"]))
        if unknown:
            raise XmtagError(f"summarize(): unknown tags {unknown}.")
        table = table[table["tag"].isin(wanted)]
    rows = []
    groups = table.groupby(keys, sort=True, dropna=False) if keys else [((), table)]
    for gkey, sub in groups:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        if own:
            sub = sub[sub["tag"] == str(gkey[0])]
            if sub.empty:
                continue
        wide = sub.pivot_table(
            index="track", columns=["tag", "stem"], values=value, aggfunc="first", sort=False
        )
        mean, lo, hi, n = bootstrap_mean(wide.to_numpy(), ci=ci, n_boot=n_boot, seed=seed)
        for (tag, stem), m, a, b, k in zip(wide.columns, mean, lo, hi, n):
            rows.append(
                {
                    **dict(zip(keys, gkey)),
                    "tag": tag,
                    "stem": stem,
                    "mean": float(m),
                    "ci_low": float(a),
                    "ci_high": float(b),
                    "n": int(k),
                }
            )
    out = pd.DataFrame(rows, columns=[*keys, "tag", "stem", "mean", "ci_low", "ci_high", "n"])
    out["zero_in_ci"] = (out["ci_low"] <= 0) & (out["ci_high"] >= 0)
    return out
