"""Explanations from a table of scores: for taggers that xmtag cannot call.

:func:`xmtag.coalitions.export` writes the mix of every subset of stems to audio files; anyone
can score those files with any tagger (a web service, a spreadsheet, a colleague's model) and
hand back a table with one row per coalition and one numeric column per tag. :func:`from_scores`
(also ``xmtag.Explanation.from_scores``) checks that table and turns it into an
:class:`~xmtag.Explanation`, exactly as :func:`xmtag.explain` would have from the same scores.

The table
---------
* one row per coalition; a column names its stems: ``stems`` with names joined by ``+``
  (empty for silence), or ``mask`` with the integer bitmask (stem ``i`` is bit ``i``);
* one numeric column per tag (by default every column that is not ``mask``, ``stems``,
  ``path``, ``duration``, ``segment``, ``start`` or ``end``);
* optionally ``segment`` (with ``start`` and ``end`` in seconds): one row per coalition and
  time segment, as ``export(..., segments=K)`` writes them. The clip-level game is then the
  duration-weighted mean of the segment scores (the patch-decomposable case of
  :mod:`xmtag.coalitions`), and the time-resolved values are exact.

What is checked, each with an :class:`ScoreTableError` that names the row, column or coalition:
unknown or repeated stem names, a coalition given twice, non-numeric, NaN or infinite scores,
scores outside [0, 1] with ``units="probability"``, no silence row (pass ``base=0.0`` when the
tagger scores silence as 0), and missing coalitions. Exact values need all ``2**n``
coalitions; with some missing, ``method="kernel"`` fits KernelSHAP on the ones present and
``method="permutation"`` runs permutation sampling when the table holds every coalition its
sampled orders need (:func:`needed_masks` lists them, ``export(..., masks=...)`` writes only
those). Both are labelled as such in ``expl.method`` and the provenance.

Examples
--------
>>> import pandas as pd
>>> table = pd.DataFrame({"stems": ["", "a", "b", "a+b"], "rock": [0.0, 0.2, 0.4, 0.8]})
>>> expl = from_scores(table)
>>> expl.stems, expl.values.ravel().round(3).tolist()
(['a', 'b'], [0.3, 0.5])
>>> from_scores(table.iloc[:3])
Traceback (most recent call last):
...
xmtag.explanation._scores.ScoreTableError: The score table lacks 1 of the 4 coalitions of stems ...
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import limits
from .._checks import choice, label_list, positive_int
from .._files import check_input_file
from ..attribution import SCORE_TABLE_METHODS
from ..errors import MissingDependencyError, XmtagError
from ._fields import explanation_class

__all__ = ["from_scores", "needed_masks", "read_table", "ScoreTableError", "METHODS", "RESERVED_COLUMNS"]

#: Methods :func:`from_scores` accepts.
METHODS = SCORE_TABLE_METHODS
#: Columns that are never taken as tag scores.
RESERVED_COLUMNS = ("mask", "stems", "path", "duration", "segment", "start", "end")
_SHOWN = 12


class ScoreTableError(XmtagError, ValueError):
    """A score table that does not describe a game of stems (missing, repeated or bad rows)."""


# --------------------------------------------------------------------------------------------
# reading


def read_table(table: Any) -> Any:
    """A score table as a :class:`pandas.DataFrame`: a DataFrame, or a CSV / TSV / Parquet path.

    Parameters
    ----------
    table : pandas.DataFrame or path

    Returns
    -------
    pandas.DataFrame
        A copy; the ``stems`` column (if any) is read as text, empty cells as ``""``.

    Raises
    ------
    AudioFileNotFoundError
        If the path does not exist.
    ScoreTableError
        For an unreadable file or an unknown suffix.
    MissingDependencyError
        For Parquet without ``pyarrow``.
    """
    import pandas as pd

    from_csv = False
    if isinstance(table, pd.DataFrame):
        df = table.copy()
    elif isinstance(table, (str, os.PathLike)):
        path = check_input_file(table, "score table")
        suffix = path.suffix.lower()
        try:
            if suffix in (".csv", ".tsv", ".txt"):
                from_csv = True
                df = pd.read_csv(
                    path,
                    sep="\t" if suffix == ".tsv" else ",",
                    dtype={"stems": str},
                    keep_default_na=False,
                    na_values=[""],
                )
            elif suffix in (".parquet", ".pq"):
                try:
                    import pyarrow  # noqa: F401
                except ImportError as exc:
                    raise MissingDependencyError(
                        f"Reading the Parquet table {str(path)!r} needs pyarrow: pip install pyarrow "
                        "(or save the table as CSV)."
                    ) from exc
                df = pd.read_parquet(path)
            else:
                raise ScoreTableError(
                    f"Score table {str(path)!r}: unknown suffix {suffix!r}; use .csv, .tsv or .parquet."
                )
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
            raise ScoreTableError(f"Cannot read the score table {str(path)!r}: {exc}") from exc
    else:
        raise ScoreTableError(
            f"from_scores: table must be a pandas.DataFrame or the path of a CSV/Parquet file, "
            f"got {type(table).__name__}."
        )
    if df.shape[0] == 0:
        raise ScoreTableError("The score table has no rows; it needs one row per coalition of stems.")
    if df.columns.duplicated().any():
        dup = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise ScoreTableError(f"The score table has repeated column names {dup}.")
    df.columns = [str(c) for c in df.columns]
    if "stems" in df.columns:
        df["stems"] = df["stems"].map(
            lambda x: "" if x is None or (isinstance(x, float) and np.isnan(x)) else str(x)
        )
        if from_csv:  # a CSV written by xmtag (manifest.csv): its spreadsheet formula guard goes
            from .._csv import undo_spreadsheet_safe

            df["stems"] = df["stems"].map(undo_spreadsheet_safe)
    return df


# --------------------------------------------------------------------------------------------
# coalitions


def _describe(mask: int, names: Sequence[str]) -> str:
    n = len(names)
    if mask == 0:
        return "silence (no stems)"
    text = "+".join(nm for i, nm in enumerate(names) if (mask >> i) & 1)
    return f"{text} (the full mix)" if mask == 2**n - 1 else text


def _row(i: Any) -> str:
    return f"row {i + 2 if isinstance(i, (int, np.integer)) else i}"  # +2: CSV header, 1-based


def _parse_stems(df: Any, names: list[str] | None) -> tuple[list[str], np.ndarray]:
    """Names (bit order) and one mask per row from the ``stems`` column."""
    parsed = []
    seen: list[str] = []
    for i, text in zip(range(len(df)), df["stems"]):
        parts = [p.strip() for p in str(text).split("+")] if str(text).strip() else []
        if any(not p for p in parts):
            raise ScoreTableError(f"{_row(i)}: stems {text!r} has an empty name (two '+' in a row?).")
        if len(set(parts)) != len(parts):
            dup = sorted({p for p in parts if parts.count(p) > 1})
            raise ScoreTableError(f"{_row(i)}: stems {text!r} names {dup} more than once.")
        parsed.append(parts)
        seen.extend(p for p in parts if p not in seen)
    if names is None:
        names = seen
    for i, parts in enumerate(parsed):
        for p in parts:
            if p not in names:
                import difflib

                close = difflib.get_close_matches(p, names, n=2, cutoff=0.6)
                hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
                raise ScoreTableError(
                    f"{_row(i)}: unknown stem {p!r} in {df['stems'].iloc[i]!r}; the stems are {names}.{hint}"
                )
    masks = np.array([sum(1 << names.index(p) for p in parts) for parts in parsed], dtype=np.int64)
    return names, masks


def _parse_masks(df: Any, names: list[str] | None) -> tuple[list[str], np.ndarray]:
    if names is None:
        raise ScoreTableError(
            "A table with only a mask column needs the stem names in bit order: pass stems=[...] "
            "(stem i is bit i of the mask)."
        )
    col = df["mask"]
    vals = []
    for i, m in enumerate(col):
        ok = isinstance(m, (int, np.integer)) or (isinstance(m, float) and float(m).is_integer())
        if not ok or not 0 <= int(m) < 2 ** len(names):
            raise ScoreTableError(
                f"{_row(i)}: mask {m!r} is not an integer in [0, {2 ** len(names) - 1}] for the "
                f"{len(names)} stems {names}."
            )
        vals.append(int(m))
    return names, np.array(vals, dtype=np.int64)


def _names_from_masks(df: Any) -> list[str] | None:
    """Stem names in bit order from the single-stem rows of a table with both columns, if they say."""
    found: dict[int, str] = {}
    for text, m in zip(df["stems"], df["mask"]):
        parts = [p.strip() for p in str(text).split("+")] if str(text).strip() else []
        if len(parts) == 1 and isinstance(m, (int, np.integer)) and m > 0 and not m & (m - 1):
            found[int(m).bit_length() - 1] = parts[0]
    if not found or sorted(found) != list(range(len(found))) or len(set(found.values())) != len(found):
        return None  # fall back to the order of first appearance
    return [found[i] for i in range(len(found))]


def _check_names(stems: Any) -> list[str] | None:
    if stems is None:
        return None
    if isinstance(stems, str):
        stems = [s.strip() for s in stems.split(",")]
    names = label_list(stems, "from_scores: stems", error=ScoreTableError)
    bad = [s for s in names if "+" in s]
    if bad:
        raise ScoreTableError(f"from_scores: stem names may not contain '+' (it joins names): {bad}.")
    return names


# --------------------------------------------------------------------------------------------
# scores


def _tag_columns(df: Any, tags: Any, coalition_cols: set[str]) -> list[str]:
    cols = list(df.columns)
    if tags is None:
        out = [c for c in cols if c not in RESERVED_COLUMNS and c not in coalition_cols]
        if not out:
            raise ScoreTableError(
                f"The score table has no tag columns (columns: {cols}); add one numeric column per tag."
            )
        return out
    out = label_list([tags] if isinstance(tags, str) else tags, "from_scores: tags", error=ScoreTableError)
    for t in out:
        if t not in cols:
            import difflib

            close = difflib.get_close_matches(t, cols, n=2, cutoff=0.6)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ScoreTableError(f"The score table has no column {t!r}.{hint} Columns: {cols}.")
    return out


def _numeric(df: Any, tags: list[str], units: str) -> np.ndarray:
    import pandas as pd

    out = np.empty((len(df), len(tags)))
    for j, t in enumerate(tags):
        col = df[t]
        num = pd.to_numeric(col, errors="coerce") if col.dtype.kind not in "fiub" else col
        num = np.asarray(num, dtype=np.float64)
        bad = np.isnan(num) & ~pd.isna(col).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ScoreTableError(
                f"Column {t!r}, {_row(i)}: {col.iloc[i]!r} is not a number. Tag columns must be numeric; "
                "pass tags=[...] to choose which columns are scores."
            )
        if not np.isfinite(num).all():
            i = int(np.flatnonzero(~np.isfinite(num))[0])
            raise ScoreTableError(
                f"Column {t!r}, {_row(i)}: the score is {col.iloc[i]!r} (NaN, empty or infinite); "
                "every coalition needs a finite score for every tag."
            )
        out[:, j] = num
    if units == "probability" and ((out < 0) | (out > 1)).any():
        i, j = np.argwhere((out < 0) | (out > 1))[0]
        raise ScoreTableError(
            f"Column {tags[j]!r}, {_row(int(i))}: score {out[i, j]:g} is outside [0, 1] but "
            "units='probability'; pass units='logit' (or 'score') for unbounded scores."
        )
    return out


def _base_row(base: Any, labels: list[str]) -> np.ndarray:
    if isinstance(base, Mapping):
        missing = [t for t in labels if t not in base]
        if missing:
            raise ScoreTableError(f"base= lacks the tags {missing[:_SHOWN]}.")
        base = [base[t] for t in labels]
    arr = np.broadcast_to(np.asarray(base, dtype=np.float64), (len(labels),)).copy()
    if not np.isfinite(arr).all():
        raise ScoreTableError(f"base= must be finite, got {base!r}.")
    return arr


def _missing_error(missing: np.ndarray, names: list[str], what: str, hint: str) -> ScoreTableError:
    shown = ", ".join(_describe(int(m), names) for m in missing[:_SHOWN])
    more = f" and {missing.size - _SHOWN} more" if missing.size > _SHOWN else ""
    return ScoreTableError(f"The score table lacks {missing.size} of {what}: {shown}{more}. {hint}")


# --------------------------------------------------------------------------------------------
# sampled methods


def needed_masks(
    n: int, *, method: str = "permutation", n_permutations: int = 100, seed: int = 0
) -> np.ndarray:
    """The coalitions a seeded permutation estimate over ``n`` stems evaluates.

    Export only these (``xmtag.coalitions.export(stems, folder, masks=needed_masks(n))``),
    score them externally, and ``from_scores(table, method="permutation", n_permutations=...,
    seed=...)`` reproduces :func:`xmtag.attribution.estimators.permutation` with the same settings.

    Parameters
    ----------
    n : int
        Number of stems.
    method : {"permutation"}
        The sampled method.
    n_permutations, seed
        As for :func:`xmtag.attribution.estimators.permutation`.

    Returns
    -------
    numpy.ndarray
        Sorted int64 masks (always including silence and the full mix).

    Examples
    --------
    >>> needed_masks(3, n_permutations=4, seed=0).tolist()
    [0, 1, 2, 3, 4, 5, 6, 7]
    """
    from ..attribution.estimators import permutation

    choice(method, "method", ("permutation",))
    n = positive_int(n, "n")
    asked: list[np.ndarray] = []

    def record(masks: np.ndarray) -> np.ndarray:
        asked.append(np.asarray(masks, dtype=np.int64).copy())
        return np.zeros((masks.size, 1))

    permutation(record, n, n_permutations=n_permutations, seed=seed)
    return np.unique(np.concatenate(asked))


# --------------------------------------------------------------------------------------------
# the entry point


def from_scores(
    table: Any,
    *,
    stems: Sequence[str] | str | None = None,
    coalition: str = "stems",
    tags: Sequence[str] | str | None = None,
    units: str = "probability",
    method: str = "exact",
    base: Any = None,
    n_permutations: int = 100,
    seed: int = 0,
    tagger: str = "external scores",
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """Build an :class:`~xmtag.Explanation` from a table of coalition scores.

    Parameters
    ----------
    table : pandas.DataFrame or path
        One row per coalition (see the module notes), as a DataFrame or a CSV / TSV / Parquet
        file (e.g. the ``manifest.csv`` of :func:`xmtag.coalitions.export` with score columns
        added).
    stems : sequence of str or comma-separated str, optional
        Stem names in bit order. Default: from the single-stem rows when the table also has a
        ``mask`` column (as ``export``'s manifest does), else the order in which names first appear
        in the ``stems`` column. Required with a ``mask`` column only.
    coalition : {"stems", "mask"}
        Which column names the coalition. When the table has both, they must agree.
    tags : sequence of str, optional
        The score columns (default: every column not in :data:`RESERVED_COLUMNS`).
    units : str
        What the scores are: ``"probability"`` (checked to lie in [0, 1]), ``"logit"``,
        ``"score"``, ... Stored as ``expl.units`` (the provenance); plots label their axes with it.
    method : {"exact", "kernel", "permutation"}
        ``exact`` needs every coalition. ``kernel``: KernelSHAP (Shapley-kernel weighted least
        squares, efficiency imposed exactly) fitted on the coalitions present
        (:func:`xmtag.attribution.estimators.kernel_from_values`); with all coalitions it equals the exact
        values. ``permutation``: :func:`xmtag.attribution.estimators.permutation` with ``n_permutations`` and
        ``seed``, reading each coalition from the table (every coalition its orders visit must be
        present, see :func:`needed_masks`).
    base : float, sequence or mapping, optional
        The score of silence when the table has no silence row, e.g. ``base=0.0``.
    n_permutations, seed : int
        For ``method="permutation"``.
    tagger : str
        The name of the tagger that made the scores (``expl.provenance.tagger["name"]``).
    metadata : mapping, optional
        Extra JSON-compatible entries for ``expl.provenance.extra`` (e.g. the service's version).

    Returns
    -------
    Explanation
        ``expl.method`` is the method used, ``expl.budget`` the coalition scores it read;
        ``expl.provenance.source`` is ``{"kind": "scores", "path": ...}``.

    Raises
    ------
    ScoreTableError
        For every malformed table (see the module notes), naming the rows, columns or coalitions.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"mask": [1, 2, 3], "jazz": [0.3, 0.1, 0.5]})
    >>> from_scores(t, stems=["sax", "bass"], coalition="mask", base=0.0).values.ravel().round(2).tolist()
    [0.35, 0.15]
    """
    df = read_table(table)
    coalition = choice(coalition, "coalition", ("stems", "mask"))
    method = choice(method, "method", METHODS)
    if not isinstance(units, str) or not units:
        raise ScoreTableError(f"units must be a non-empty string such as 'probability', got {units!r}.")
    names = _check_names(stems)
    if coalition not in df.columns:
        other = "mask" if coalition == "stems" else "stems"
        if other not in df.columns:
            raise ScoreTableError(
                f"The score table has no {coalition!r} column naming each row's coalition (columns: "
                f"{list(df.columns)}); add 'stems' (names joined by '+', empty for silence) or 'mask'."
            )
        coalition = other
    if coalition == "stems":
        if names is None and "mask" in df.columns:
            names = _names_from_masks(df)
        names, masks = _parse_stems(df, names)
        if "mask" in df.columns:
            _, check = _parse_masks(df, names)
            differ = np.flatnonzero(check != masks)
            if differ.size:
                i = int(differ[0])
                raise ScoreTableError(
                    f"{_row(i)}: mask {int(check[i])} and stems {df['stems'].iloc[i]!r} disagree "
                    f"(with stems {names}); fix one, or drop the mask column."
                )
    else:
        names, masks = _parse_masks(df, names)
    if not names:
        raise ScoreTableError("The score table names no stems; every row is silence.")
    n = len(names)
    if n > 20:
        raise ScoreTableError(f"{n} stems is too many for a score table (2**{n} coalitions).")
    labels = _tag_columns(df, tags, {coalition})
    for what, group in (("stem", names), ("tag", labels)):
        longest = max(group, key=len)
        if len(longest) > limits.MAX_NAME_CHARS:
            raise ScoreTableError(
                f"The score table has a {what} name of {len(longest):,} characters ({longest[:40]!r}...), "
                f"longer than names can be. {limits.how_to_raise('MAX_NAME_CHARS')}"
            )
    scores = _numeric(df, labels, units)
    segmented = "segment" in df.columns
    key = masks
    seg_index = None
    if segmented:
        seg_index = _segment_index(df)
        key = masks * (int(seg_index.max()) + 1) + seg_index
    uniq, counts = np.unique(key, return_counts=True)
    if (counts > 1).any():
        k = uniq[counts > 1][0]
        rows = np.flatnonzero(key == k)
        m = int(masks[rows[0]])
        where = f" in segment {int(seg_index[rows[0]])}" if segmented else ""
        raise ScoreTableError(
            f"Coalition {_describe(m, names)}{where} appears {rows.size} times "
            f"({', '.join(_row(int(r)) for r in rows)}); keep one row per coalition."
        )
    from ._provenance import Provenance, json_safe, versions

    if not isinstance(tagger, str) or not tagger:
        raise ScoreTableError(f"tagger must be a non-empty name, got {tagger!r}.")
    meta = Provenance(
        source={"kind": "scores", "path": str(table) if isinstance(table, (str, os.PathLike)) else None},
        tagger={"name": tagger, "n_labels": len(labels)},
        method=method,
        units=units,
        versions=versions(),
        extra=json_safe({**dict(metadata or {}), "coalitions_scored": int(np.unique(masks).size)}),
    )
    _check_size(names, labels, masks, seg_index, base, method)
    if segmented:
        if method != "exact":
            raise ScoreTableError(
                f"method={method!r} with a segment column is not supported; time-resolved values from a "
                "score table are exact (give every coalition in every segment)."
            )
        return _from_segments(df, names, labels, masks, seg_index, scores, base, meta)

    full = 2**n - 1
    values = np.full((2**n, len(labels)), np.nan)
    values[masks] = scores
    have = np.zeros(2**n, dtype=bool)
    have[masks] = True
    _fill_base(values, have, base, labels, "")
    if not have[full]:
        raise _missing_error(
            np.array([full]),
            names,
            f"the {2**n} coalitions of stems {names}",
            "The full mix is the prediction being explained; score it.",
        )
    missing = np.flatnonzero(~have)
    if method == "exact":
        if missing.size:
            raise _missing_error(
                missing,
                names,
                f"the {2**n} coalitions of stems {names}",
                "Exact values need every coalition; score the missing mixes (xmtag.coalitions.export "
                "writes them all), or pass method='kernel' to fit KernelSHAP on the ones present.",
            )
        Explanation = explanation_class()

        return Explanation.from_game(values, names, labels, provenance=meta, budget=2**n)
    return _sampled(values, have, names, labels, method, n_permutations, seed, meta)


# Games behind from_scores: segments and sampled methods


def _check_size(
    names: list[str], labels: list[str], masks: np.ndarray, seg_index: Any, base: Any, method: str
) -> None:
    """Before the ``2**n x segments x tags`` game is allocated: an exact game lacking coalitions is
    refused with the list of missing ones, and a game over ``MAX_SCORE_CELLS`` cells is refused."""
    n = len(names)
    k = 1 if seg_index is None else int(seg_index.max()) + 1
    if method == "exact":
        for s in range(k):
            rows = slice(None) if seg_index is None else seg_index == s
            have = np.zeros(2**n, dtype=bool)  # one bit a coalition: 1 MB for 20 stems
            have[masks[rows]] = True
            where = "" if seg_index is None else f" in segment {s}"
            if base is not None:
                have[0] = True
            elif not have[0]:
                raise _no_silence(where)
            if have.all():
                continue
            if seg_index is not None:
                raise _missing_error(
                    np.flatnonzero(~have),
                    names,
                    f"the {2**n} coalitions in segment {s}",
                    "Time-resolved values need every coalition in every segment.",
                )
            if not have[-1]:
                raise _missing_error(
                    np.array([2**n - 1]),
                    names,
                    f"the {2**n} coalitions of stems {names}",
                    "The full mix is the prediction being explained; score it.",
                )
            raise _missing_error(
                np.flatnonzero(~have),
                names,
                f"the {2**n} coalitions of stems {names}",
                "Exact values need every coalition; score the missing mixes (xmtag.coalitions.export "
                "writes them all), or pass method='kernel' to fit KernelSHAP on the ones present.",
            )
    cells = 2**n * k * len(labels)
    if cells > limits.MAX_SCORE_CELLS:
        raise ScoreTableError(
            f"The score table describes a game of {2**n:,} coalitions x {k} segment(s) x {len(labels)} tags "
            f"= {cells:,} values, too many to hold. Keep fewer tags (tags=...) or stems. "
            + limits.how_to_raise("MAX_SCORE_CELLS")
        )


def _fill_base(values: np.ndarray, have: np.ndarray, base: Any, labels: list[str], where: str) -> None:
    if base is not None:
        if have[0]:
            raise ScoreTableError(
                f"base= was given but the table has a silence row{where}; drop one of the two."
            )
        values[0] = _base_row(base, labels)
        have[0] = True
    elif not have[0]:
        raise _no_silence(where)


def _no_silence(where: str) -> ScoreTableError:
    return ScoreTableError(
        f"The score table has no silence row{where} (stems empty, mask 0): add the tagger's score of "
        "digital silence (export writes it as the file *_silence.wav), or pass base=0.0 if the "
        "tagger scores silence as 0."
    )


def _segment_index(df: Any) -> np.ndarray:
    seg = df["segment"]
    ok = all(
        isinstance(s, (int, np.integer)) or (isinstance(s, float) and float(s).is_integer()) for s in seg
    )
    if not ok or (np.asarray(seg, dtype=np.float64) < 0).any():
        raise ScoreTableError("The segment column must hold segment numbers 0, 1, 2, ...")
    idx = np.asarray(seg, dtype=np.int64)
    uniq = np.unique(idx)
    k = int(uniq[-1]) + 1
    if k != uniq.size:  # some numbers skipped: name the first few, count the rest (never list them all)
        shown: list[int] = []
        prev = -1
        for u in uniq.tolist():
            while prev + 1 < u and len(shown) < limits.MAX_LISTED:
                prev += 1
                shown.append(prev)
            if len(shown) >= limits.MAX_LISTED:
                break
            prev = u
        skipped = k - uniq.size
        more = f" and {skipped - len(shown):,} more" if skipped > len(shown) else ""
        raise ScoreTableError(
            f"The segment column skips segment(s) {', '.join(map(str, shown))}{more} ({skipped:,} in all) up "
            f"to its largest, {k - 1:,}; number the {uniq.size} segments 0..{uniq.size - 1} "
            "(segment numbers, not sample offsets or seconds: 'start' and 'end' hold the times)."
        )
    for col in ("start", "end"):
        if col not in df.columns:
            raise ScoreTableError(
                f"A table with a segment column needs {col!r} (seconds) too; xmtag.coalitions.export "
                "writes segment, start and end."
            )
    return idx


def _from_segments(df, names, labels, masks, seg_index, scores, base, meta) -> Any:
    Explanation = explanation_class()

    n, k = len(names), int(seg_index.max()) + 1
    g = np.full((2**n, k, len(labels)), np.nan)
    bounds = np.zeros((k, 2))
    for s in range(k):
        rows = np.flatnonzero(seg_index == s)
        have = np.zeros(2**n, dtype=bool)
        have[masks[rows]] = True
        g[masks[rows], s] = scores[rows]
        _fill_base(g[:, s], have, base, labels, f" in segment {s}")
        missing = np.flatnonzero(~have)
        if missing.size:
            raise _missing_error(
                missing,
                names,
                f"the {2**n} coalitions in segment {s}",
                "Time-resolved values need every coalition in every segment.",
            )
        starts = np.asarray(df["start"].iloc[rows], dtype=np.float64)
        ends = np.asarray(df["end"].iloc[rows], dtype=np.float64)
        if np.ptp(starts) > 1e-9 or np.ptp(ends) > 1e-9 or not ends[0] > starts[0]:
            raise ScoreTableError(f"Segment {s}: its rows disagree on start/end, or end <= start.")
        bounds[s] = starts[0], ends[0]
    weights = (bounds[:, 1] - bounds[:, 0]) / (bounds[:, 1] - bounds[:, 0]).sum()
    clip = np.einsum("mkt,k->mt", g, weights)
    meta = meta.replace(
        segments=k, extra={**meta.extra, "clip_game": "duration-weighted mean of the segment scores"}
    )
    return Explanation.from_game(
        clip,
        names,
        labels,
        segment_coalition_values=g,
        segment_weights=weights,
        segment_bounds=bounds,
        provenance=meta,
        budget=2**n * k,
    )


def _sampled(values, have, names, labels, method, n_permutations, seed, meta) -> Any:
    from ..attribution import estimators

    Explanation = explanation_class()

    n = len(names)
    present = np.flatnonzero(have)
    if method == "kernel":
        try:
            est = estimators.kernel_from_values(present, values[present], n)
        except XmtagError as exc:
            raise ScoreTableError(f"method='kernel' on the {present.size} coalitions present: {exc}") from exc
    else:
        need = needed_masks(n, n_permutations=n_permutations, seed=seed)
        lacking = need[~have[need]]
        if lacking.size:
            raise _missing_error(
                lacking,
                names,
                f"the {need.size} coalitions that {n_permutations} permutations (seed {seed}) visit",
                "Score them (xmtag.explanation.needed_masks lists them; "
                "xmtag.coalitions.export(..., masks=...) writes them), or use method='kernel', which fits "
                "whatever coalitions are present.",
            )

        def lookup(masks: np.ndarray) -> np.ndarray:
            return values[np.asarray(masks, dtype=np.int64)]

        est = estimators.permutation(lookup, n, n_permutations=n_permutations, seed=seed)
    meta = meta.replace(method=method, budget=int(est.n_evaluations))
    if est.interval_info is not None:
        meta = meta.replace(extra={**meta.extra, "interval": est.interval_info})
    return Explanation(
        names,
        labels,
        est.values,
        est.base_value,
        est.prediction,
        coalition_values=values if have.all() else None,
        interactions=None,
        stderr=est.std_errors,
        method=method,
        budget=int(est.n_evaluations),
        provenance=meta,
    )
