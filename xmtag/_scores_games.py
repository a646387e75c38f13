"""Games from score tables: the silence row, segment tables and sampled methods on the coalitions
present (the second half of :func:`xmtag.scores.from_scores`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import XmtagError
from .scores import ScoreTableError, _base_row, _missing_error, needed_masks


def _fill_base(values: np.ndarray, have: np.ndarray, base: Any, labels: list[str], where: str) -> None:
    if base is not None:
        if have[0]:
            raise ScoreTableError(
                f"base= was given but the table has a silence row{where}; drop one of the two."
            )
        values[0] = _base_row(base, labels)
        have[0] = True
    elif not have[0]:
        raise ScoreTableError(
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
    k = int(idx.max()) + 1
    absent = sorted(set(range(k)) - set(idx.tolist()))
    if absent:
        raise ScoreTableError(f"The segment column skips segment(s) {absent}; number segments 0..{k - 1}.")
    for col in ("start", "end"):
        if col not in df.columns:
            raise ScoreTableError(
                f"A table with a segment column needs {col!r} (seconds) too; xmtag.coalitions.export "
                "writes segment, start and end."
            )
    return idx


def _from_segments(df, names, labels, masks, seg_index, scores, base, meta) -> Any:
    from .explanation import Explanation

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
    from . import estimators
    from .explanation import Explanation

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
                "Score them (xmtag.scores.needed_masks lists them; xmtag.coalitions.export(..., masks=...) "
                "writes them), or use method='kernel', which fits whatever coalitions are present.",
            )

        def lookup(masks: np.ndarray) -> np.ndarray:
            return values[np.asarray(masks, dtype=np.int64)]

        est = estimators.permutation(lookup, n, n_permutations=n_permutations, seed=seed)
    meta = meta.replace(method=method, budget=int(est.n_evaluations))
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
