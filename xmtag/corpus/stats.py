"""Group means of attributions over a corpus, with bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .. import _checks
from ..errors import XmtagError
from ..metrics import bootstrap_columns

#: The corpus tables' bootstrap: :func:`xmtag.metrics.bootstrap_columns` (one implementation).
bootstrap_mean = bootstrap_columns

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["summarize", "bootstrap_mean"]




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
