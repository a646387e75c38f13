"""Group means of attributions over a corpus, with bootstrap confidence intervals."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _checks
from ..errors import XmtagError
from ..metrics import bootstrap_columns, t_columns

#: The corpus tables' bootstrap: :func:`xmtag.metrics.bootstrap_columns` (one implementation).
bootstrap_mean = bootstrap_columns

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["summarize", "bootstrap_mean", "MIN_TRACKS", "T_BELOW"]

#: Fewest independent tracks (songs) for an interval; fewer give NaN bounds (``interval="too few"``).
MIN_TRACKS = 3
#: ``interval="auto"`` uses the Student-t interval below this many tracks, the bootstrap from it.
T_BELOW = 30


def _tag_key(name: Any) -> str:
    """A label or tag without case, spaces or separators: ``"Hip-Hop"``, ``"hip hop"`` → ``"hiphop"``."""
    return re.sub(r"[\W_]+", "", str(name).casefold())


def own_tags(labels: Iterable[Any], tags: Iterable[str]) -> dict[Any, list[str]]:
    """For each label, the tags named like it, regardless of case and separators.

    An exact match wins; otherwise every tag equal to the label once lower-cased and stripped of
    spaces, hyphens, underscores and punctuation (``"Rock"`` → ``rock``, ``"hip hop"`` →
    ``hip-hop``). A label without a tag maps to ``[]``.

    Examples
    --------
    >>> own_tags(["Rock", "hip hop", "polka"], ["rock", "hip-hop", "jazz"])
    {'Rock': ['rock'], 'hip hop': ['hip-hop'], 'polka': []}
    """
    tags = list(dict.fromkeys(tags))
    keyed: dict[str, list[str]] = {}
    for t in tags:
        keyed.setdefault(_tag_key(t), []).append(t)
    out = {}
    for label in labels:
        out[label] = [str(label)] if str(label) in tags else keyed.get(_tag_key(label), [])
    return out


def _units(table: pd.DataFrame, cluster: str | None) -> tuple[pd.Series | None, str | None]:
    """The song of each row when clips of one song must be resampled together, else None."""
    if cluster is None:
        return None, None
    if cluster != "auto":
        if cluster not in table.columns:
            raise XmtagError(
                f"summarize(cluster={cluster!r}): the table has no such column; name a label column "
                f"that holds each clip's song (columns here: {', '.join(map(str, table.columns))})."
            )
        return table[cluster].astype(str), cluster
    if "song" in table.columns:
        units, name = table["song"].astype(str), "song"
    else:
        track = table["track"].astype(str)
        if not track.str.contains("@", regex=False).all():
            return None, None
        units, name = track.str.rsplit("@", n=1).str[0], "track (<song>@<start>)"
    if units.nunique() == table["track"].nunique():  # one clip per song: nothing to cluster
        return None, None
    return units, name


def summarize(
    table: pd.DataFrame,
    by: str | Iterable[str] | None = "genre",
    tags: Iterable[str] | str | None = None,
    *,
    ci: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    value: str = "value",
    interval: str = "auto",
    min_n: int = MIN_TRACKS,
    cluster: str | None = "auto",
) -> pd.DataFrame:
    """Mean attribution per group × tag × stem, with confidence intervals and counts.

    Parameters
    ----------
    table : pandas.DataFrame
        A corpus table (:attr:`xmtag.corpus.Corpus.table`): ``track, tag, stem, value`` and label
        columns.
    by : str or list of str, optional
        Label column(s) to group tracks by (``None``: the whole corpus).
    tags : str or list of str, optional
        Only these tags (default all). ``"own"``: for each group, the tag named like the group,
        regardless of case and separators (genre ``Rock`` → tag ``rock``, ``hip hop`` →
        ``hip-hop``); a group whose label matches no tag is left out with a warning.
    ci : float
        Coverage of the interval, in (0, 1).
    n_boot : int
        Bootstrap resamples of the tracks.
    seed : int
        Seed of the resampling.
    value : str
        The column to average.
    interval : {"auto", "t", "bootstrap"}
        ``"t"``: Student-t interval (valid for few tracks when the values are roughly normal);
        ``"bootstrap"``: percentile bootstrap (no normality, but too narrow for few tracks);
        ``"auto"`` (default): t below :data:`T_BELOW` (30) tracks, bootstrap from there on.
    min_n : int
        Fewest tracks (songs, when clustered) for an interval, at least 2 (default 3): a cell
        with fewer has NaN bounds, ``interval="too few"`` and ``zero_in_ci=True`` (0 is not
        ruled out).
    cluster : str or None
        Clips cut from one song are not independent: a label column naming each clip's song.
        The clips of a song are averaged first and the songs are the units — their mean, the
        interval resampling songs, ``n`` counting songs. ``"auto"`` (default): the ``song``
        column if the table has one, else the part before the last ``@`` when every track id
        looks like ``<song>@<start>``, used only when some song has several clips; ``None``:
        every track is independent.

    Returns
    -------
    pandas.DataFrame
        Columns: the ``by`` columns, ``tag, stem, mean, ci_low, ci_high, n`` (tracks — or songs —
        with the stem), ``n_tracks`` (tracks with the stem), ``interval`` (``"t"``,
        ``"bootstrap"`` or ``"too few"``) and ``zero_in_ci`` (the interval contains 0, or there
        is none).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"track": list("aabbcc"), "tag": "rock", "stem": ["drums", "bass"] * 3,
    ...                   "value": [0.3, 0.1, 0.5, 0.0, 0.4, 0.2], "genre": "rock"})
    >>> summarize(t, by="genre")[["stem", "mean", "n", "interval"]].values.tolist()
    [['drums', 0.4, 3, 't'], ['bass', 0.1, 3, 't']]
    """
    import pandas as pd

    ci = _checks.finite_float(ci, "ci", low=0.0, high=1.0, low_open=True)
    n_boot = _checks.positive_int(n_boot, "n_boot")
    min_n = _checks.positive_int(min_n, "min_n")
    if min_n < 2:
        raise XmtagError(f"summarize(min_n={min_n}): an interval needs at least 2 tracks.")
    if interval not in ("auto", "t", "bootstrap"):
        raise XmtagError(f"summarize(interval={interval!r}): use 'auto', 't' or 'bootstrap'.")
    keys = [] if by is None else ([by] if isinstance(by, str) else list(by))
    missing = [k for k in [*keys, "track", "tag", "stem", value] if k not in table.columns]
    if missing:
        raise XmtagError(
            f"summarize(): the table has no column(s) {missing}; labels come from the manifest "
            f"(columns here: {', '.join(map(str, table.columns))})."
        )
    own = isinstance(tags, str) and tags == "own"
    if tags is not None and not own:
        wanted = [tags] if isinstance(tags, str) else list(tags)
        unknown = sorted(set(wanted) - set(table["tag"]))
        if unknown:
            raise XmtagError(f"summarize(): unknown tags {unknown}.")
        table = table[table["tag"].isin(wanted)]
    units, _ = _units(table, cluster)
    if units is not None:
        table = table.assign(_unit=units.to_numpy())
    columns = [*keys, "tag", "stem", "mean", "ci_low", "ci_high", "n", "n_tracks", "interval"]
    rows = []
    groups = table.groupby(keys, sort=True, dropna=False) if keys else [((), table)]
    if own:
        groups = list(groups)
        matched = own_tags([g[0] if isinstance(g, tuple) else g for g, _ in groups], table["tag"].unique())
        lost = [str(label) for label, found in matched.items() if not found]
        if lost:
            warnings.warn(
                f"summarize(tags='own'): no tag is named like the {keys[0] if keys else 'group'} "
                f"label(s) {lost} (even ignoring case and separators); these groups are left out. "
                "Rename the labels or pass tags=[...].",
                UserWarning,
                stacklevel=3,
            )
    for gkey, sub in groups:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        if own:
            sub = sub[sub["tag"].isin(matched[gkey[0]])]
            if sub.empty:
                continue
        wide = sub.pivot_table(
            index="track", columns=["tag", "stem"], values=value, aggfunc="first", sort=False
        )
        n_tracks = wide.notna().sum(axis=0).to_numpy()
        if units is not None:
            song = sub.drop_duplicates("track").set_index("track")["_unit"].reindex(wide.index)
            wide = wide.groupby(song.to_numpy(), sort=True).mean()
        x = wide.to_numpy()
        mean, lo, hi, n = t_columns(x, ci=ci)
        use_t = (n < T_BELOW) if interval == "auto" else np.full(n.shape, interval == "t")
        if not use_t.all():
            _, blo, bhi, _ = bootstrap_mean(x, ci=ci, n_boot=n_boot, seed=seed)
            lo, hi = np.where(use_t, lo, blo), np.where(use_t, hi, bhi)
        few = n < min_n
        lo, hi = np.where(few, np.nan, lo), np.where(few, np.nan, hi)
        kind = np.where(few, "too few", np.where(use_t, "t", "bootstrap"))
        for (tag, stem), m, a, b, k, kt, how in zip(wide.columns, mean, lo, hi, n, n_tracks, kind):
            rows.append(
                {
                    **dict(zip(keys, gkey)),
                    "tag": tag,
                    "stem": stem,
                    "mean": float(m),
                    "ci_low": float(a),
                    "ci_high": float(b),
                    "n": int(k),
                    "n_tracks": int(kt),
                    "interval": str(how),
                }
            )
    out = pd.DataFrame(rows, columns=columns)
    out["zero_in_ci"] = ((out["ci_low"] <= 0) & (out["ci_high"] >= 0)) | out["interval"].eq("too few")
    return out
