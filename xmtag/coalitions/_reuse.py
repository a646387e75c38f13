"""Only the tagger passes that matter: exact patch-level reuse for patch-wise taggers.

Part of :mod:`xmtag.coalitions` (see :func:`xmtag.coalitions.evaluate`, ``reuse=True``).

A patch-wise tagger (``patch_length`` set, clip output = mean of patch outputs) computes the
output of patch ``p`` from its **receptive field**: samples
``[p * patch_length - patch_context, (p + 1) * patch_length)`` of the clip (zeros before the
clip's start). ``patch_context`` is an optional tagger attribute (default 0): musicnn declares
256, because its STFT frames are centred and the first frame of a patch also sees the last 256
samples of the previous one; ``None`` means "a patch may depend on the whole clip" and turns
reuse off. The coalition ``S`` feeds patch ``p`` the mix of ``S`` over that window; stems that
are **digitally silent** there (every sample exactly 0) add nothing, bit for bit, so the input
is the mix of ``S ∩ A_p`` with ``A_p`` the stems active in the window. Each distinct window is
evaluated once (``sum_p 2**|A_p|`` at most, instead of ``2**n * P``), and identical windows are
shared across patches too (by a BLAKE2b-128 digest of their samples: the all-zero window of the
empty coalition is one row, not ``P``). No threshold and no approximation: with a tagger whose
patches really depend only on their receptive field the values equal the plain evaluation's.

How a single patch is fed to the tagger (``mode``):

* ``"windows"``: the tagger has ``predict_windows(windows)``, ``(M, patch_context +
  patch_length) -> (M, n_tags)`` (musicnn); one row per distinct window;
* ``"patches"``: ``patch_context == 0``: each window is a one-patch clip for ``predict_patches``;
* ``"lead"``: ``patch_context > 0`` without ``predict_windows``: the patch is fed after
  ``ceil(patch_context / patch_length)`` whole lead patches of the same mix (those rows are
  wasted); used only when that still costs fewer rows than the plain evaluation.

The grand coalition is always evaluated as one whole clip through ``predict_patches`` (its
``P`` rows are needed anyway), so the prediction is the tagger's own output on the full mix.
For a tagger that does **not** declare ``patch_context``, one extra row checks the assumption:
one patch of the full mix is fed alone and compared with its output inside the clip (within
``1e-5``); a mismatch (a tagger whose patches see context, or normalise per clip) emits a
:class:`ReuseWarning` and the plain evaluation is used, so a wrong number is never returned.

A noise baseline (:class:`xmtag.coalitions.NoiseFloor`) is part of every window: silent stems
still drop out, but no window is all zeros and windows at different patches differ.

Hand-written (no library does coalition-level memoisation of audio windows); the digests use
:mod:`hashlib`.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..taggers import patch_context
from ._mix import check_output, silence_memo

__all__ = ["ReuseWarning", "PatchReuse"]

#: agreement required between a patch fed alone and the same patch inside its clip (guard check)
GUARD_TOLERANCE = 1e-5


class ReuseWarning(UserWarning):
    """Patch-level reuse was switched off for a tagger whose patches are not independent."""


class PatchReuse:
    """Patch outputs of coalitions, each distinct receptive-field window evaluated once.

    Parameters
    ----------
    tagger : Tagger
        Patch-wise, with ``predict_patches``.
    tracks : numpy.ndarray
        float32 ``(n, N)`` mono stems at the tagger's rate.
    players : list of (stem, start, stop)
        Player ``j`` adds ``tracks[stem, start:stop]`` (bit ``j`` of a mask).
    patch_length, n_patches : int
    floor : numpy.ndarray or None
        The baseline noise floor (float32 ``(N,)``), in every window.
    names : list of str
        Player names for error messages.
    max_rows : int
        Most rows per tagger call.
    """

    def __init__(
        self,
        tagger: Any,
        tracks: np.ndarray,
        players: list[tuple[int, int, int]],
        patch_length: int,
        n_patches: int,
        floor: np.ndarray | None,
        names: list[str],
        max_rows: int,
    ) -> None:
        context, self.declared = patch_context(tagger)
        if context is None:
            raise ValueError("PatchReuse needs a tagger with a finite patch_context")
        self.tagger, self.tracks, self.players, self.floor, self.names = tagger, tracks, players, floor, names
        self.pl, self.c, self.P = int(patch_length), context, int(n_patches)
        self.n_samples = tracks.shape[1]
        self.n_tags = len(tagger.labels)
        self.max_rows = max(1, int(max_rows))
        self.width = self.c + self.pl
        if callable(getattr(tagger, "predict_windows", None)):
            self.mode = "windows"
        elif self.c == 0:
            self.mode = "patches"
        else:
            self.mode = "lead"
        self.lead = 0 if self.mode != "lead" else math.ceil(self.c / self.pl)
        self.rel = self._relevant()
        self.full = (1 << len(players)) - 1
        self.outputs: list[np.ndarray] = []  # uid -> (n_tags,) float64
        self.by_digest: dict[bytes, int] = {}
        self.by_key: dict[tuple[int, int], int] = {}
        self._stacked: np.ndarray | None = None
        self.n_rows = 0
        self.memo = silence_memo(tagger) if floor is None else None
        self.memo_key = ("window", self.mode, self.c, self.pl)

    # ---------------------------------------------------------------- windows
    def _span(self, p: int) -> tuple[int, int, int]:
        offset = p * self.pl - self.c
        return offset, max(offset, 0), min((p + 1) * self.pl, self.n_samples)

    def _relevant(self) -> list[int]:
        """Per patch, the bitmask of players with a non-zero sample in its receptive field."""
        rel = [0] * self.P
        by_stem: dict[int, list[tuple[int, int, int]]] = {}
        for j, (i, a, b) in enumerate(self.players):
            by_stem.setdefault(i, []).append((j, a, b))
        for i, plist in by_stem.items():
            nz = np.concatenate([[0], np.cumsum(self.tracks[i] != 0, dtype=np.int64)])
            for p in range(self.P):
                _, lo, hi = self._span(p)
                for j, a, b in plist:
                    s, e = max(lo, a), min(hi, b)
                    if s < e and nz[e] > nz[s]:
                        rel[p] |= 1 << j
        return rel

    def window(self, p: int, sub: int, start: int | None = None) -> np.ndarray:
        """float32 mix of the players in ``sub`` (plus the floor) over ``[start, (p + 1) * pl)``.

        ``start`` defaults to the receptive field's start; samples outside the clip are zeros.
        """
        offset = p * self.pl - self.c if start is None else start
        out = np.zeros((p + 1) * self.pl - offset, np.float32)
        lo, hi = max(offset, 0), min((p + 1) * self.pl, self.n_samples)
        if hi <= lo:
            return out
        if self.floor is not None:
            out[lo - offset : hi - offset] = self.floor[lo:hi]
        for j, (i, a, b) in enumerate(self.players):  # same order as Mixer: bit-identical samples
            if sub >> j & 1:
                s, e = max(lo, a), min(hi, b)
                if s < e:
                    out[s - offset : e - offset] += self.tracks[i, s:e]
        return out

    # ---------------------------------------------------------------- evaluation
    def row_cost(self, p: int) -> int:
        """Tagger rows one window of patch ``p`` costs."""
        return 1 + min(p, self.lead)

    def uids(self, keys: list[tuple[int, int]], progress: bool = False) -> np.ndarray:
        """Output ids of ``(patch, mask)`` keys, evaluating the windows not seen before."""
        out = np.empty(len(keys), np.int64)
        pending: dict[bytes, tuple[int, int]] = {}
        waiting: list[tuple[int, bytes, tuple[int, int]]] = []
        for k, (p, m) in enumerate(keys):
            key = (p, m & self.rel[p])
            uid = self.by_key.get(key)
            if uid is not None:
                out[k] = uid
                continue
            w = self.window(*key)
            digest = hashlib.blake2b(w.tobytes(), digest_size=16).digest()
            uid = self.by_digest.get(digest)
            if uid is not None:
                self.by_key[key] = uid
                out[k] = uid
                continue
            pending.setdefault(digest, key)
            waiting.append((k, digest, key))
        if pending:
            self._run(pending, progress)
        for k, digest, key in waiting:
            uid = self.by_digest[digest]
            self.by_key[key] = uid
            out[k] = uid
        return out

    def _run(self, pending: dict[bytes, tuple[int, int]], progress: bool) -> None:
        items = list(pending.items())
        if self.memo is not None:
            zero = hashlib.blake2b(np.zeros(self.width, np.float32).tobytes(), digest_size=16).digest()
            if zero in pending and self.memo_key in self.memo:
                self._add(zero, self.memo[self.memo_key])
                items = [it for it in items if it[0] != zero]
        groups: dict[int, list[tuple[bytes, tuple[int, int]]]] = {}
        for digest, key in items:
            groups.setdefault(self.row_cost(key[0]), []).append((digest, key))
        total = sum(cost * len(g) for cost, g in groups.items())
        with tqdm(total=total, desc="coalitions", unit="patch", disable=not progress) as bar:
            for cost, group in sorted(groups.items()):
                step = max(1, self.max_rows // cost)
                for start in range(0, len(group), step):
                    chunk = group[start : start + step]
                    res = self._feed([key for _, key in chunk], cost)
                    for (digest, key), row in zip(chunk, res):
                        self._add(digest, row)
                        if self.memo is not None and key[1] == 0:
                            self.memo[self.memo_key] = row.copy()
                    bar.update(cost * len(chunk))

    def _add(self, digest: bytes, row: np.ndarray) -> int:
        self.by_digest[digest] = len(self.outputs)
        self.outputs.append(np.asarray(row, dtype=np.float64))
        return self.by_digest[digest]

    def _feed(self, keys: list[tuple[int, int]], cost: int) -> np.ndarray:
        """Run the tagger on the windows of ``keys`` (all of one row cost) -> ``(M, n_tags)``."""
        masks = np.array([m for _, m in keys], dtype=np.int64)
        self.n_rows += cost * len(keys)
        t = self.tagger
        if self.mode == "windows":
            batch = np.stack([self.window(p, m) for p, m in keys])
            return check_output(
                t.predict_windows(batch), (len(keys), self.n_tags), t, "predict_windows", masks, self.names
            )
        if self.mode == "patches":
            batch = np.stack([self.window(p, m) for p, m in keys])
        else:  # lead patches of the same mix before the patch: its context is real samples
            batch = np.stack([self.window(p, m, start=(p - min(p, self.lead)) * self.pl) for p, m in keys])
        out = check_output(
            t.predict_patches(batch), (len(keys), cost, self.n_tags), t, "predict_patches", masks, self.names
        )
        return out[:, -1]

    def seed_full_clip(self, mix: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, bool]:
        """Evaluate the grand coalition as one clip (``P`` rows) and record its patch windows.

        Returns its ``(P, n_tags)`` patch outputs and ``False`` when the guard check finds that a
        patch fed alone differs from the same patch in the clip (reuse must not be used).
        """
        full = np.array([self.full], dtype=np.int64)
        clip = mix(full)
        out = check_output(
            self.tagger.predict_patches(clip),
            (1, self.P, self.n_tags),
            self.tagger,
            "predict_patches",
            full,
            self.names,
        )[0]
        self.n_rows += self.P
        digests = []
        for p in range(self.P):
            w = self.window(p, self.rel[p])
            digests.append(hashlib.blake2b(w.tobytes(), digest_size=16).digest())
        if not self.declared:
            p = self._guard_patch(clip[0])
            alone = self._feed([(p, self.rel[p])], self.row_cost(p))[0]
            scale = max(1.0, float(np.abs(out[p]).max()))
            if not np.allclose(alone, out[p], rtol=0, atol=GUARD_TOLERANCE * scale):
                name = getattr(self.tagger, "name", type(self.tagger).__name__)
                warnings.warn(
                    f"{name}: patch {p} fed alone differs from the same patch inside the clip by "
                    f"{float(np.abs(alone - out[p]).max()):.2g}, so its patches are not independent "
                    "(context from neighbouring patches, or per-clip normalisation). Evaluating every "
                    "coalition as a whole clip instead. Declare tagger.patch_context (samples before a "
                    "patch that reach it; None for the whole clip) to skip this check.",
                    ReuseWarning,
                    stacklevel=4,
                )
                return out, False
        for p in range(self.P):
            uid = self.by_digest.get(digests[p])
            if uid is None:
                uid = self._add(digests[p], out[p])
            self.by_key[(p, self.rel[p])] = uid
        return out, True

    def _guard_patch(self, clip: np.ndarray) -> int:
        """The patch whose start is preceded by the most energy (context would show there)."""
        if self.P == 1:
            return 0
        tail = max(1, self.pl // 8)
        energy = [
            float(np.square(clip[p * self.pl - tail : p * self.pl], dtype=np.float64).sum())
            for p in range(1, self.P)
        ]
        return 1 + int(np.argmax(energy))

    def upper_bound_rows(self) -> int:
        """Rows a full evaluation costs at most: the whole clip, the guard, every window once."""
        rows = self.P + (0 if self.declared else 1 + self.lead)
        for p in range(self.P):
            k = bin(self.rel[p]).count("1")
            if k:  # every subset but the full one (from the clip) and the empty one (below)
                rows += ((1 << k) - 2 + (self.floor is not None)) * self.row_cost(p)
        return rows + (1 if self.floor is None else 0)  # one all-zero window for every patch

    def patch_outputs(self, uids: np.ndarray) -> np.ndarray:
        """``(..., n_tags)`` float64 outputs of an array of uids."""
        if self._stacked is None or len(self._stacked) != len(self.outputs):
            self._stacked = np.stack(self.outputs)
        return self._stacked[uids]
